"""Training of one seed (ifdsed.training.loop) on the toy feature store of tests/helpers.py: learning,
self-describing checkpoints (with their training-data record), early stopping and the selection score, no test
or hidden labels read, mixed precision with float32 checkpoints, identical metrics run after run."""
import json
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from ifdsed import paths as layout
from ifdsed.evaluation.pseudo_labels import read_epoch
from ifdsed.inference.settings import detector_settings
from ifdsed.features.store import load_feature_set, read_store_info
from ifdsed.models import checkpoint
from ifdsed.models.training_data import TrainingData
from ifdsed.training.loop import train_seed
from ifdsed.paths import RunPaths
from tests.helpers import (CLASSES, TRAINING_SETS, forced_scores, stored_tensors, toy_validation,
                           training_params, write_toy_store)

FAST = {"channels": (4, 4, 4), "compile": False, "precision": "float32"}   # eager float32: no compilation to wait for
SCORING = {**FAST, "channels": (8, 8, 8)}   # with lr 0.001, validation scores above 0 in the first epochs


def loss_history(paths: RunPaths, metric: str = "train/total") -> list[float]:
    """A metric's value per epoch (the mean total loss by default), from the dvclive logs."""
    return [float(line.split("\t")[-1]) for line in
            (paths.live / f"plots/metrics/{metric}.tsv").read_text().splitlines()[1:]]


def test_training_learns_and_writes_self_describing_checkpoints(store, tmp_path):
    summary = train_seed(training_params(epochs=4), 1, store, tmp_path / "run",
                         validation_folder=toy_validation(store))
    paths = RunPaths(tmp_path / "run")
    metrics = json.loads((paths.live / "metrics.json").read_text())
    history = loss_history(paths)
    assert len(history) == 4 and history[-1] < history[0]
    for term in ("atp", "sedb", "ifd", "total"):
        assert (paths.live / f"plots/metrics/train/{term}.tsv").is_file()
    # both validation scores logged every epoch; the default one, event F1, picked best.pt
    event_f1, frame_f1 = (loss_history(paths, f"validation/{key}_macro") for key in ("event_f1", "frame_f1"))
    assert len(event_f1) == len(frame_f1) == 4
    assert summary["selection"] == metrics["selection"] == "event_f1"
    assert metrics["best_validation_score"] == summary["best_validation_score"] == max(event_f1)
    assert summary["best_epoch"] == event_f1.index(max(event_f1)) + 1
    assert (summary["epochs_run"], summary["stopped_early"]) == (4, False)   # patience 10: no early stop here
    saved = checkpoint.load(paths.best)
    assert saved.epoch == summary["best_epoch"] and saved.extra["validation_score"] == max(event_f1)
    settings = detector_settings(saved.extra)
    assert settings.classes == tuple(CLASSES) and settings.features.hop == 0.5
    assert saved.config.variant == "SEDB&IFD"
    assert (settings.median_windows % 2 == 1).all()
    # both checkpoints record the training data: data.source and the training sets' sizes in the store
    sets = read_store_info(store)["sets"]
    record = TrainingData("embedded", sets[layout.SYNTHETIC_TRAIN_SET]["clips"], sets[layout.REAL_TRAIN_SET]["clips"])
    assert saved.training_data == checkpoint.load(paths.last).training_data == record


def test_training_logs_its_diagnostics_and_each_epochs_pseudo_labels(store, tmp_path):
    train_seed(training_params(epochs=3, ifd_warmup=2, **FAST), 1, store, tmp_path / "run",
               validation_folder=toy_validation(store))
    paths = RunPaths(tmp_path / "run")
    assert loss_history(paths, "train/lambda_ifd") == [0.0, 0.0, 1.0]     # the IFD warm-up: 2 epochs at weight 0
    norms = {term: loss_history(paths, f"train/encoder_grad_norm/{term}")
             for term in ("atp", "sedb", "ifd_hinge", "ifd_norm")}
    assert all(len(history) == 3 for history in norms.values())
    assert norms["ifd_norm"][:2] == [0.0, 0.0] and norms["ifd_norm"][2] > 0 and min(norms["atp"]) > 0
    assert len(loss_history(paths, "train/ifd_n_pos_rs")) == 3            # counted during the warm-up too
    shares = loss_history(paths, "train/pseudo_label_share")
    files = sorted(paths.pseudo_labels.glob("epoch_*.npz"))
    assert [path.name for path in files] == ["epoch_001.npz", "epoch_002.npz", "epoch_003.npz"]
    weak = load_feature_set(store, layout.REAL_TRAIN_SET)
    for path, share in zip(files, shares):
        labels, seen = read_epoch(path)
        assert labels.shape == weak.features.shape[:2] + (len(CLASSES),) and seen.all()
        assert share == pytest.approx(labels.any(-1).mean(), abs=1e-6)
        assert not (labels & (weak.tags[:, None, :] == 0)).any()            # only the clip's own tags


# ------------------------------------------------------------------------------- early stopping and selection
# Forced event F1 per epoch: epochs 1 and 2 improve; 3 ties (not an improvement: only a higher score is), 4 and 5
# are worse; 6 is the best of all.
SCORES = [0.1, 0.3, 0.3, 0.2, 0.25, 0.9]


@pytest.mark.parametrize("epochs, patience, epochs_run, stopped_early, best_epoch", [
    (6, 3, 5, True, 2),        # 3 epochs without improvement (3, 4, 5): stops before epoch 6
    (5, 3, 5, False, 2),       # the count reaches patience at the last epoch: the run simply ends
    (6, 4, 6, False, 6),       # patience not reached: epoch 6 improves
    (6, None, 6, False, 6),    # no early stopping
])
def test_training_stops_after_patience_epochs_without_a_better_score(store, tmp_path, monkeypatch, capsys, epochs,
                                                                    patience, epochs_run, stopped_early, best_epoch):
    scored = forced_scores(monkeypatch, SCORES)
    summary = train_seed(training_params(epochs=epochs, patience=patience, **FAST), 1, store, tmp_path / "run",
                         validation_folder=toy_validation(store))
    paths = RunPaths(tmp_path / "run")
    assert scored == list(range(1, epochs_run + 1))
    expected = {"best_epoch": best_epoch, "best_validation_score": SCORES[best_epoch - 1], "selection": "event_f1",
                "epochs_run": epochs_run, "stopped_early": stopped_early}
    assert {key: summary[key] for key in expected} == expected
    metrics = json.loads((paths.live / "metrics.json").read_text())
    assert {key: metrics[key] for key in expected} == expected
    assert loss_history(paths, "validation/event_f1_macro") == SCORES[:epochs_run]
    assert len(loss_history(paths)) == epochs_run
    best, last = checkpoint.load(paths.best), checkpoint.load(paths.last)
    assert (best.epoch, best.extra["validation_score"], best.extra["selection"]) == (
        best_epoch, SCORES[best_epoch - 1], "event_f1")
    assert last.epoch == epochs_run and last.extra["stopped_early"] is stopped_early
    assert last.extra["epochs_without_improvement"] == epochs_run - best_epoch
    assert ("stopping early" in capsys.readouterr().out) is stopped_early


def test_frame_f1_selection_picks_best_pt_and_stops_by_the_frame_score(store, tmp_path, monkeypatch):
    # event F1 would pick epoch 2; frame F1 picks epoch 3 and, with patience 2, stops after epoch 5
    forced_scores(monkeypatch, event_f1=[0.1, 0.9, 0.2, 0.2, 0.2, 0.2], frame_f1=[0.4, 0.1, 0.6, 0.3, 0.5, 0.9])
    summary = train_seed(training_params(epochs=6, patience=2, selection="frame_f1", **FAST), 1, store,
                         tmp_path / "forced", validation_folder=toy_validation(store))
    assert {key: summary[key] for key in ("selection", "best_epoch", "best_validation_score", "epochs_run",
                                          "stopped_early")} == {"selection": "frame_f1", "best_epoch": 3,
                                                                "best_validation_score": 0.6, "epochs_run": 5,
                                                                "stopped_early": True}
    best = checkpoint.load(tmp_path / "forced/checkpoints/best.pt")
    assert (best.epoch, best.extra["selection"], best.extra["validation_score"]) == (3, "frame_f1", 0.6)
    # and with the real scores: best.pt is the epoch of the best frame F1 logged
    monkeypatch.undo()
    summary = train_seed(training_params(epochs=3, lr=0.001, selection="frame_f1", **SCORING), 1, store,
                         tmp_path / "real", validation_folder=toy_validation(store))
    frame_f1 = loss_history(RunPaths(tmp_path / "real"), "validation/frame_f1_macro")
    assert len(frame_f1) == 3 and summary["best_validation_score"] == max(frame_f1) > 0
    assert summary["best_epoch"] == frame_f1.index(max(frame_f1)) + 1
    assert checkpoint.load(tmp_path / "real/checkpoints/best.pt").epoch == summary["best_epoch"]


# ------------------------------------------------------------------------------------- which labels are read
class OpenedFiles:
    """Every file this process opens while recording (a Python audit hook on "open": builtin open, io.open and
    os.open, so numpy, pandas, torch and pathlib reads alike, on every thread). Audit hooks cannot be removed:
    one is added per process and records only inside `with OpenedFiles() as opened:`."""
    recording: list[Path] | None = None
    hooked = False

    @classmethod
    def _hook(cls, event: str, args: tuple) -> None:
        if event == "open" and cls.recording is not None and isinstance(args[0], (str, bytes, os.PathLike)):
            cls.recording.append(Path(os.fsdecode(args[0])).absolute())

    def __enter__(self) -> list[Path]:
        if not OpenedFiles.hooked:
            sys.addaudithook(OpenedFiles._hook)
            OpenedFiles.hooked = True
        OpenedFiles.recording = self.paths = []
        return self.paths

    def __exit__(self, *exc) -> None:
        OpenedFiles.recording = None


def test_training_reads_the_validation_labels_and_no_test_or_hidden_labels(tmp_path, monkeypatch):
    """The pipeline's layout, with test sets in the store and in clip-set folders and the hidden weak
    timestamps; training as the stage runs it (the default validation folder, relative to the project root)."""
    test_sets = ("realworld_test", "synthetic_test")
    store = write_toy_store(tmp_path / layout.FEATURES, TRAINING_SETS + [(name, 6, True) for name in test_sets],
                            event_tables=True)
    for name in (layout.VALIDATION_SET, *test_sets):               # to the folders the pipeline reads
        (tmp_path / layout.CLIP_SETS[name]).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(store.parent / "sets" / name, tmp_path / layout.CLIP_SETS[name])
    hidden = tmp_path / layout.HIDDEN / "weak_events.tsv"
    hidden.parent.mkdir(parents=True)
    hidden.write_text("filename\tonset\toffset\tevent_label\nrealworld_weak_0.wav\t0.5\t3.0\tDog\n")
    monkeypatch.chdir(tmp_path)
    with OpenedFiles() as opened:
        summary = train_seed(training_params(epochs=2, lr=0.001, **SCORING), 1, layout.FEATURES, layout.train_dir(1),
                             live_dir=layout.train_logs(1))
    assert summary["epochs_run"] == 2 and summary["best_validation_score"] > 0
    read = {path.resolve() for path in opened}
    root = tmp_path.resolve()
    validation = root / layout.CLIP_SETS[layout.VALIDATION_SET]
    assert {validation / "events.tsv", root / layout.FEATURES / "realworld_validation_frame_labels.npy"} <= read
    forbidden = [root / layout.CLIP_SETS[name] for name in test_sets] + [root / layout.HIDDEN]
    assert not [path for path in read if any(path.is_relative_to(folder) for folder in forbidden)]
    assert not [path for path in read if path.parent == root / layout.FEATURES and path.name.startswith(test_sets)]


# ----------------------------------------------------------------------------------------- how the steps run
def test_mixed_precision_training_learns_and_writes_only_float32_checkpoints(store, tmp_path):
    """bfloat16 autocast, compiled (the defaults on a CPU with native bfloat16; named here so that the test
    runs the mixed-precision path on any CPU, where torch emulates bfloat16)."""
    summary = train_seed(training_params(channels=(4, 4, 4), epochs=4, precision="bfloat16", compile=True), 1,
                         store, tmp_path / "run", validation_folder=toy_validation(store))
    paths = RunPaths(tmp_path / "run")
    history = loss_history(paths)
    assert len(history) == 4 and history[-1] < 0.8 * history[0], history
    assert {key: summary[key] for key in ("precision", "compile", "channels_last")} == {
        "precision": "bfloat16", "compile": True, "channels_last": False}
    metrics = json.loads((paths.live / "metrics.json").read_text())
    assert metrics["precision"] == "bfloat16" and metrics["compile"] is True
    for path in (paths.best, paths.last):
        tensors = stored_tensors(path)
        weights = [place for place in tensors if place.startswith("state_dict/")]
        moments = [place for place in tensors if place.startswith("optimizer/state/")]
        assert weights and (moments if path == paths.last else not moments)
        floating = {place: tensor.dtype for place, tensor in tensors.items() if tensor.is_floating_point()}
        assert set(floating.values()) == {torch.float32}, {place: dtype for place, dtype in floating.items()
                                                            if dtype != torch.float32}
    assert checkpoint.load(paths.last).epoch == 4


def test_the_summary_records_how_the_steps_ran(trained, store, tmp_path):
    from ifdsed.devices import pick_device, pick_precision
    from ifdsed.training.execution import compile_pays
    _, _, default = trained           # params.yaml's defaults: precision auto, compile auto
    device = pick_device("auto")
    precision = pick_precision("auto", device)
    assert default["precision"] == str(precision).removeprefix("torch.")
    assert default["compile"] is compile_pays(device, precision) and default["channels_last"] is False
    summary = train_seed(training_params(channels=(4, 4, 4), epochs=1, precision="float32", compile=False,
                                         channels_last=True, prefetch=0), 1, store, tmp_path / "run",
                         validation_folder=toy_validation(store))
    assert {key: summary[key] for key in ("precision", "compile", "channels_last")} == {
        "precision": "float32", "compile": False, "channels_last": True}
    metrics = json.loads((tmp_path / "run/live/metrics.json").read_text())
    assert (metrics["precision"], metrics["compile"], metrics["channels_last"]) == ("float32", False, True)
    saved = checkpoint.load(tmp_path / "run/checkpoints/last.pt")        # channels-last weights load back
    assert {value.dtype for value in saved.model.state_dict().values() if value.is_floating_point()} == {
        torch.float32}


# ---------------------------------------------------------------------------------------------- determinism
@pytest.mark.filterwarnings("ignore:psds")   # the toy set lacks some classes
def test_training_and_scoring_give_identical_metrics_run_after_run(trained, tmp_path):
    from ifdsed.config import EvalParams
    from ifdsed.evaluation.sets import score_set
    from ifdsed.inference.detector import Detector
    base, store, summary = trained
    again = train_seed(training_params(channels=(4, 4, 4)), 1, store, tmp_path / "again",
                       validation_folder=toy_validation(store))
    assert again == summary
    assert (tmp_path / "again/live/metrics.json").read_text() == (base / "straight/live/metrics.json").read_text()
    first = checkpoint.load(base / "straight/checkpoints/best.pt")
    second = checkpoint.load(tmp_path / "again/checkpoints/best.pt")
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(),
                                                 second.model.state_dict().values()))
    detectors = [Detector(saved.model, detector_settings(saved.extra), "cpu") for saved in (first, second)]
    results = [score_set(detector, load_feature_set(store, "realworld_test"), base / "sets" / "realworld_test",
                         EvalParams()) for detector in detectors]
    metrics = [json.dumps(result.metrics, sort_keys=True, default=str) for result in results]
    assert metrics[0] == metrics[1] and "event_f1_macro" in metrics[0]
    pd.testing.assert_frame_equal(results[0].predictions, results[1].predictions)
