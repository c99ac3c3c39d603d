"""Training of one seed on a tiny hand-made feature store: batches, learning, resume, fingerprint, checkpoints."""
import json

import numpy as np
import pytest
import torch
import yaml

from ifdsed.config import parse_params
from ifdsed.inference.settings import detector_settings
from ifdsed.features.store import load_feature_set
from ifdsed.features.normalize import Normalizer
from ifdsed.training.batches import MixedBatches
from ifdsed.training.loop import train_seed
from ifdsed.training.resume import RunPaths
from ifdsed.training.selection import selection_score
from models import checkpoint
from toy_store import CLASSES, FRAMES, MELS, TRAINING_SETS, write_toy_store


@pytest.fixture
def store(tmp_path):
    return write_toy_store(tmp_path / "features", TRAINING_SETS)


def tiny_params(**train):
    raw = yaml.safe_load(open("params.yaml"))
    raw["model"].update(channels=[8, 8, 8], ifd=True, sedb=True)
    raw["train"].update(dict(seeds=[1], epochs=3, batch_size=8, threads=1, lr=0.01), **train)
    return parse_params(raw)


def test_mixed_batches_hold_the_ratio_and_hide_weak_frame_labels(store):
    real, synthetic = load_feature_set(store, "realworld_weak"), load_feature_set(store, "synthetic_train")
    batches = MixedBatches(real, synthetic, Normalizer(np.zeros(MELS), np.ones(MELS)), 8, 0.25, seed=3)
    assert batches.steps == 4  # 24 weak clips, 6 per batch
    seen = []
    for batch in batches.epoch(0):
        assert batch["features"].shape == (8, FRAMES, MELS) and batch["features"].dtype == torch.float32
        assert batch["is_synthetic"].tolist() == [False] * 6 + [True] * 2
        assert batch["frame_labels"][:6].sum() == 0 and batch["frame_labels"][6:].sum() > 0
        seen.append(batch["features"][:6])
    # every weak clip once per epoch
    assert torch.unique(torch.cat(seen).flatten(1), dim=0).shape[0] == 24
    first = [b["features"] for b in batches.epoch(1)]
    again = [b["features"] for b in batches.epoch(1)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))


def test_selection_score_is_frame_f1_of_gated_decisions():
    labels = np.zeros((1, 4, 2), np.uint8)
    labels[0, :2, 0] = 1
    frame_probs = np.full((1, 4, 2), 0.9)
    clip_probs = np.array([[0.9, 0.1]])  # class 1 not tagged: its frames are gated off
    # class 0: TP 2, FP 2 -> F1 2/3; class 1: nothing true, nothing predicted -> 0
    assert selection_score(frame_probs, clip_probs, labels) == pytest.approx((2 / 3 + 0) / 2)


def test_training_learns_and_writes_self_describing_checkpoints(store, tmp_path):
    summary = train_seed(tiny_params(epochs=4), 1, store, tmp_path / "run")
    paths = RunPaths(tmp_path / "run")
    metrics = json.loads((paths.live / "metrics.json").read_text())
    history = [float(line.split("\t")[-1]) for line in
               (paths.live / "plots/metrics/train/total.tsv").read_text().splitlines()[1:]]
    assert len(history) == 4 and history[-1] < history[0]
    for term in ("atp", "sedb", "ifd", "total"):
        assert (paths.live / f"plots/metrics/train/{term}.tsv").is_file()
    assert metrics["best_validation_frame_f1"] == summary["best_validation_frame_f1"] > 0
    saved = checkpoint.load(paths.best)
    settings = detector_settings(saved.extra)
    assert settings.classes == tuple(CLASSES) and settings.features.hop == 0.5
    assert saved.config.variant == "SEDB&IFD"
    assert (settings.median_windows % 2 == 1).all()


def test_interrupted_training_resumes_to_the_same_weights(store, tmp_path, monkeypatch, capsys):
    train_seed(tiny_params(epochs=3), 1, store, tmp_path / "straight")
    import ifdsed.training.loop as training
    real_score, calls = training.selection_score, []

    def killed_in_epoch_three(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if the process were killed before epoch 3 ended
        return real_score(*args)

    monkeypatch.setattr(training, "selection_score", killed_in_epoch_three)
    with pytest.raises(KeyboardInterrupt):
        train_seed(tiny_params(epochs=3), 1, store, tmp_path / "resumed")
    assert checkpoint.load(RunPaths(tmp_path / "resumed").last).epoch == 2
    monkeypatch.setattr(training, "selection_score", real_score)
    train_seed(tiny_params(epochs=3), 1, store, tmp_path / "resumed")
    assert "resuming" in capsys.readouterr().out
    straight = checkpoint.load(RunPaths(tmp_path / "straight").last).model.state_dict()
    resumed = checkpoint.load(RunPaths(tmp_path / "resumed").last).model.state_dict()
    assert all(torch.equal(straight[key], resumed[key]) for key in straight)


def test_a_checkpoint_from_other_settings_is_not_resumed(store, tmp_path, capsys):
    train_seed(tiny_params(epochs=1), 1, store, tmp_path / "run")
    train_seed(tiny_params(epochs=1, lr=0.005), 1, store, tmp_path / "run")
    assert "written with other params or data; starting afresh" in capsys.readouterr().out


@pytest.mark.parametrize("choice", ["cpu", "auto", "cuda", "cuda:0", "cuda:3"])
def test_train_device_is_used_or_refused_by_name(choice):
    from ifdsed.devices import pick_device
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    wanted = {"cpu": None, "auto": 0, "cuda": 0, "cuda:0": 0, "cuda:3": 3}[choice]
    if wanted is None or (choice == "auto" and gpus == 0):
        assert pick_device(choice).type == "cpu"
    elif wanted < gpus:
        assert pick_device(choice) == torch.device("cuda" if choice == "auto" else choice)
    else:
        with pytest.raises(RuntimeError, match=rf"train.device: '{choice}', but this machine has {gpus} CUDA"):
            pick_device(choice)
