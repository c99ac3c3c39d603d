"""Training of one seed on a tiny hand-made feature store: batches, learning, resume, fingerprint, checkpoints."""
import json

import numpy as np
import pytest
import torch
import yaml

from ifdsed.config import parse_params
from ifdsed.detector import detector_settings
from ifdsed.features import LogMelConfig, load_feature_set
from ifdsed.training import MixedBatches, Normalizer, RunPaths, selection_score, train_seed
from models import checkpoint

CLASSES = ["Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog", "Electric_shaver_toothbrush", "Frying",
           "Running_water", "Speech", "Vacuum_cleaner"]
FRAMES, MELS = 20, 64


def write_set(root, name, n_clips, rng, strong):
    """A learnable toy set: class c lights up mel band c during its events."""
    tags = np.zeros((n_clips, len(CLASSES)), np.uint8)
    frames = np.zeros((n_clips, FRAMES, len(CLASSES)), np.uint8)
    features = rng.normal(0, 0.3, size=(n_clips, FRAMES, MELS)).astype(np.float32)
    for clip in range(n_clips):
        for c in rng.choice(len(CLASSES), size=2, replace=False):
            start = rng.integers(0, FRAMES - 5)
            frames[clip, start:start + 5, c] = 1
            tags[clip, c] = 1
            features[clip, start:start + 5, c] += 3.0
    np.save(root / f"{name}.npy", features.astype(np.float16))
    np.save(root / f"{name}_tags.npy", tags)
    if strong:
        np.save(root / f"{name}_frame_labels.npy", frames)
    labels = [",".join(CLASSES[c] for c in np.flatnonzero(row)) for row in tags]
    (root / f"{name}.tsv").write_text("row\tfilename\tevent_labels\n" + "".join(
        f"{i}\t{name}_{i}.wav\t{labels[i]}\n" for i in range(n_clips)))
    return {"clips": n_clips, "frames": FRAMES, "n_mels": MELS, "frame_labels": strong}


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "features"
    root.mkdir()
    rng = np.random.default_rng(0)
    sets = {"synthetic_train": write_set(root, "synthetic_train", 24, rng, True),
            "realworld_weak": write_set(root, "realworld_weak", 24, rng, False),
            "realworld_validation": write_set(root, "realworld_validation", 8, rng, True)}
    np.savez(root / "normalization.npz", mean=np.zeros(MELS, np.float32), std=np.ones(MELS, np.float32))
    config = LogMelConfig(sample_rate=16000, n_fft=1024, window=0.04, hop=0.5, n_mels=MELS, fmin=0.0,
                          fmax=8000.0, log_offset=1e-8, clip_duration=10.0)
    (root / "features.json").write_text(json.dumps({"config": config.describe(), "classes": CLASSES,
                                                    "sets": sets}))
    return root


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
    import ifdsed.training as training
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
