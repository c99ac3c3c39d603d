"""Resuming an interrupted training (ifdsed.training.resume): the same weights as a run straight through, the
early-stopping count carried over, a run that stopped early not trained again, and no resume from a checkpoint
written with other params, data or validation labels (bad input: docs/reliability.md)."""
import shutil

import pytest
import torch

from ifdsed.config import EvalParams
from ifdsed.models import checkpoint
from ifdsed.training.loop import train_seed
from ifdsed.training.resume import data_fingerprint
from tests.helpers import forced_scores, tiny_store, toy_validation, training_params

FAST = {"channels": (4, 4, 4), "compile": False, "precision": "float32"}   # eager float32: no compilation to wait for


def kill_in_epoch_three(training, monkeypatch) -> None:
    """The training dies in epoch 3's validation, after last.pt of epoch 2 was written."""
    real_scores, calls = training.validation_scores, []

    def killed_in_epoch_three(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_scores(*args)

    monkeypatch.setattr(training, "validation_scores", killed_in_epoch_three)


def killed_and_resumed(params, store, out, monkeypatch, resume_params=None) -> dict:
    """Train `params` until killed in epoch 3, then resume it (with `resume_params`, if given); the summary."""
    import ifdsed.training.loop as training
    with monkeypatch.context() as patch:
        kill_in_epoch_three(training, patch)
        with pytest.raises(KeyboardInterrupt):
            training.train_seed(params, 1, store, out, validation_folder=toy_validation(store))
    assert checkpoint.load(out / "checkpoints/last.pt").epoch == 2
    return training.train_seed(resume_params or params, 1, store, out, validation_folder=toy_validation(store))


def assert_same_weights(a, b) -> None:
    first, second = checkpoint.load(a).model.state_dict(), checkpoint.load(b).model.state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first), [
        key for key in first if not torch.equal(first[key], second[key])]


def test_training_resumes_from_its_last_checkpoint(trained, monkeypatch, capsys):
    base, store, summary = trained
    resumed = killed_and_resumed(training_params(channels=(4, 4, 4)), store, base / "resumed", monkeypatch)
    assert f"resuming {base / 'resumed/checkpoints/last.pt'} after epoch 2" in capsys.readouterr().out
    assert resumed == summary
    assert_same_weights(base / "straight/checkpoints/last.pt", base / "resumed/checkpoints/last.pt")


def test_a_compiled_bfloat16_training_resumes_exactly_whatever_the_prefetch(tmp_path, monkeypatch, capsys):
    """The default path, named explicitly (auto is float32 on a CPU without native bfloat16): compiled, in
    bfloat16 autocast; killed with batches made on a thread, resumed with batches made inline."""
    store = tiny_store(tmp_path / "features")
    params = training_params(channels=(4, 4, 4), precision="bfloat16", compile=True, prefetch=2)
    straight = train_seed(params, 1, store, tmp_path / "straight", validation_folder=toy_validation(store))
    assert straight["precision"] == "bfloat16" and straight["compile"] is True
    resumed = killed_and_resumed(params, store, tmp_path / "resumed", monkeypatch,
                                 training_params(channels=(4, 4, 4), precision="bfloat16", compile=True, prefetch=0))
    assert f"resuming {tmp_path / 'resumed/checkpoints/last.pt'} after epoch 2" in capsys.readouterr().out
    assert resumed == straight
    assert_same_weights(tmp_path / "straight/checkpoints/last.pt", tmp_path / "resumed/checkpoints/last.pt")
    assert_same_weights(tmp_path / "straight/checkpoints/best.pt", tmp_path / "resumed/checkpoints/best.pt")


def test_float16_loss_scale_is_saved_and_restored(tmp_path, monkeypatch):
    """float16 trains on a GPU only; CPU autocast runs it all the same, which tests the loss scaler's way
    through last.pt on a machine without one."""
    import ifdsed.training.execution as execution
    monkeypatch.setattr(execution, "pick_precision", lambda choice, device: torch.float16)
    store = tiny_store(tmp_path / "features")
    params = training_params(channels=(4, 4, 4), precision="float32", compile=False)
    straight = train_seed(params, 1, store, tmp_path / "straight", validation_folder=toy_validation(store))
    assert straight["precision"] == "float16"
    saved = checkpoint.load(tmp_path / "straight/checkpoints/last.pt").extra["grad_scaler"]
    assert saved["scale"] > 0 and saved["_growth_tracker"] > 0          # the scaler's state, steps counted
    killed_and_resumed(params, store, tmp_path / "resumed", monkeypatch)
    # restored, not restarted: the resumed scaler counted epoch 3's steps on top of epochs 1 and 2
    assert checkpoint.load(tmp_path / "resumed/checkpoints/last.pt").extra["grad_scaler"] == saved
    assert_same_weights(tmp_path / "straight/checkpoints/last.pt", tmp_path / "resumed/checkpoints/last.pt")


def test_the_fingerprint_ignores_prefetch_and_the_device_but_not_how_a_step_runs(store):
    def fingerprint(**train):
        return data_fingerprint(store, training_params(channels=(4, 4, 4), **train), 1)

    base = fingerprint(precision="bfloat16", compile=True, channels_last=False, prefetch=2, device="auto")
    assert fingerprint(precision="bfloat16", compile=True, channels_last=False, prefetch=0, device="cpu") == base
    assert fingerprint(precision="bfloat16", compile=True, channels_last=False, prefetch=16, device="auto") == base
    others = {fingerprint(precision="float32", compile=True, channels_last=False),
              fingerprint(precision="auto", compile=True, channels_last=False),
              fingerprint(precision="bfloat16", compile=False, channels_last=False),
              fingerprint(precision="bfloat16", compile=True, channels_last=True)}
    assert len(others) == 4 and base not in others


def test_the_fingerprint_covers_early_stopping_the_selection_score_and_the_validation_labels(store, tmp_path):
    folder = toy_validation(store)

    def fingerprint(labels=folder, evaluation=None, **train):
        params = training_params(**FAST, **train).model_copy(update={"eval": evaluation or EvalParams()})
        return data_fingerprint(store, params, 1, validation_folder=labels)

    base = fingerprint()
    assert fingerprint(evaluation=EvalParams(segment_resolution=0.5, piano_roll_clips=0)) == base  # not used
    moved = shutil.copytree(folder, tmp_path / "moved")
    assert fingerprint(labels=moved) == base                              # the labels' bytes count, not where
    changed = shutil.copytree(folder, tmp_path / "changed")
    (changed / "events.tsv").write_text((changed / "events.tsv").read_text().replace("\t0.5\t", "\t0.6\t", 1))
    others = {fingerprint(patience=3), fingerprint(patience=None), fingerprint(selection="frame_f1"),
              fingerprint(epochs=20), fingerprint(evaluation=EvalParams(t_collar=0.5)),
              fingerprint(evaluation=EvalParams(percentage_of_length=0.5)), fingerprint(labels=changed)}
    assert len(others) == 7 and base not in others


def test_a_checkpoint_from_other_settings_is_not_resumed(store, tmp_path, capsys):
    folder = toy_validation(store)
    train_seed(training_params(epochs=1), 1, store, tmp_path / "run", validation_folder=folder)
    train_seed(training_params(epochs=1, lr=0.005), 1, store, tmp_path / "run", validation_folder=folder)
    assert "written with other params or data; starting afresh" in capsys.readouterr().out
    train_seed(training_params(epochs=1, lr=0.005, precision="float32", compile=False), 1, store, tmp_path / "run",
               validation_folder=folder)
    assert "written with other params or data; starting afresh" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------- early stopping
# Forced event F1 per epoch: epochs 1 and 2 improve, then 3, 4 and 5 do not: with patience 3 the training stops
# after epoch 5 (of at most 8); a run that went on would improve in epoch 6.
SCORES = [0.1, 0.3, 0.3, 0.2, 0.25, 0.9, 0.9, 0.9]


def test_a_killed_run_resumes_its_early_stopping_count_and_stops_at_the_same_epoch(store, tmp_path, monkeypatch,
                                                                                   capsys):
    params, folder = training_params(epochs=8, patience=3, **FAST), toy_validation(store)
    with monkeypatch.context() as patch:
        forced_scores(patch, SCORES)
        straight = train_seed(params, 1, store, tmp_path / "straight", validation_folder=folder)
    assert (straight["epochs_run"], straight["stopped_early"], straight["best_epoch"]) == (5, True, 2)
    with monkeypatch.context() as patch:                   # killed in epoch 5, after last.pt of epoch 4
        forced_scores(patch, SCORES, kill_in_epoch=5)
        with pytest.raises(KeyboardInterrupt):
            train_seed(params, 1, store, tmp_path / "resumed", validation_folder=folder)
    saved = checkpoint.load(tmp_path / "resumed/checkpoints/last.pt")
    assert (saved.epoch, saved.extra["epochs_without_improvement"], saved.extra["stopped_early"]) == (4, 2, False)
    capsys.readouterr()
    with monkeypatch.context() as patch:
        scored = forced_scores(patch, SCORES, after_epoch=4)
        resumed = train_seed(params, 1, store, tmp_path / "resumed", validation_folder=folder)
    assert f"resuming {tmp_path / 'resumed/checkpoints/last.pt'} after epoch 4" in capsys.readouterr().out
    assert scored == [5]          # the count went on from 2: stopped after epoch 5, as the straight run did
    assert resumed == straight
    for name in ("best.pt", "last.pt"):
        assert_same_weights(tmp_path / "straight/checkpoints" / name, tmp_path / "resumed/checkpoints" / name)
    first, second = (checkpoint.load(tmp_path / run / "checkpoints/last.pt") for run in ("straight", "resumed"))
    state = ("best_score", "best_epoch", "epochs_without_improvement", "stopped_early", "samples_seen")
    assert first.epoch == second.epoch == 5
    assert {key: first.extra[key] for key in state} == {key: second.extra[key] for key in state}
    assert (first.extra["epochs_without_improvement"], first.extra["stopped_early"]) == (3, True)


def test_a_run_that_stopped_early_returns_its_summary_without_training(store, tmp_path, monkeypatch, capsys):
    import ifdsed.training.loop as training
    params, folder, run = training_params(epochs=8, patience=3, **FAST), toy_validation(store), tmp_path / "run"
    with monkeypatch.context() as patch:
        forced_scores(patch, SCORES)
        first = train_seed(params, 1, store, run, validation_folder=folder)
    assert first["stopped_early"] and first["epochs_run"] == 5
    written = {path: path.read_bytes() for path in (run / "checkpoints/best.pt", run / "checkpoints/last.pt",
                                                    run / "live/metrics.json")}
    monkeypatch.setattr(training, "_train_epoch", lambda *args: pytest.fail("trained again"))
    monkeypatch.setattr(training, "validation_scores", lambda *args: pytest.fail("validated again"))
    again = train_seed(params, 1, store, run, validation_folder=folder)
    assert again == first
    assert "stopped early after epoch 5 (best epoch 2); nothing to train" in capsys.readouterr().out
    assert {path: path.read_bytes() for path in written} == written
