"""Training of one seed (ifdsed.training.loop) on the toy feature store of tests/helpers.py: learning,
self-describing checkpoints, mixed precision with float32 checkpoints, identical metrics run after run."""
import json

import pandas as pd
import pytest
import torch

from ifdsed.inference.settings import detector_settings
from ifdsed.features.store import load_feature_set
from ifdsed.training.loop import train_seed
from ifdsed.training.resume import RunPaths
from models import checkpoint
from tests.helpers import CLASSES, stored_tensors, training_params


def loss_history(paths: RunPaths) -> list[float]:
    """The mean total loss of each epoch, from the dvclive logs."""
    return [float(line.split("\t")[-1]) for line in
            (paths.live / "plots/metrics/train/total.tsv").read_text().splitlines()[1:]]


def test_training_learns_and_writes_self_describing_checkpoints(store, tmp_path):
    summary = train_seed(training_params(epochs=4), 1, store, tmp_path / "run")
    paths = RunPaths(tmp_path / "run")
    metrics = json.loads((paths.live / "metrics.json").read_text())
    history = loss_history(paths)
    assert len(history) == 4 and history[-1] < history[0]
    for term in ("atp", "sedb", "ifd", "total"):
        assert (paths.live / f"plots/metrics/train/{term}.tsv").is_file()
    assert metrics["best_validation_frame_f1"] == summary["best_validation_frame_f1"] > 0
    saved = checkpoint.load(paths.best)
    settings = detector_settings(saved.extra)
    assert settings.classes == tuple(CLASSES) and settings.features.hop == 0.5
    assert saved.config.variant == "SEDB&IFD"
    assert (settings.median_windows % 2 == 1).all()


# ----------------------------------------------------------------------------------------- how the steps run
def test_mixed_precision_training_learns_and_writes_only_float32_checkpoints(store, tmp_path):
    """bfloat16 autocast, compiled (the defaults on a CPU with native bfloat16; named here so that the test
    runs the mixed-precision path on any CPU, where torch emulates bfloat16)."""
    summary = train_seed(training_params(channels=(4, 4, 4), epochs=4, precision="bfloat16", compile=True), 1,
                         store, tmp_path / "run")
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
    _, _, default = trained           # params.yaml's defaults: precision auto, compile true
    assert default["precision"] == str(pick_precision("auto", pick_device("auto"))).removeprefix("torch.")
    assert default["compile"] is True and default["channels_last"] is False
    summary = train_seed(training_params(channels=(4, 4, 4), epochs=1, precision="float32", compile=False,
                                         channels_last=True, prefetch=0), 1, store, tmp_path / "run")
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
    again = train_seed(training_params(channels=(4, 4, 4)), 1, store, tmp_path / "again")
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
