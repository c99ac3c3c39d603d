"""Resuming an interrupted training (ifdsed.training.resume): the same weights as a run straight through, and
no resume from a checkpoint written with other params or data (bad input: docs/reliability.md)."""
import pytest
import torch

from ifdsed.training.loop import train_seed
from ifdsed.training.resume import data_fingerprint
from models import checkpoint
from tests.helpers import tiny_store, training_params


def kill_in_epoch_three(training, monkeypatch) -> None:
    """The training dies in epoch 3's validation, after last.pt of epoch 2 was written."""
    real_score, calls = training.selection_score, []

    def killed_in_epoch_three(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_score(*args)

    monkeypatch.setattr(training, "selection_score", killed_in_epoch_three)


def killed_and_resumed(params, store, out, monkeypatch, resume_params=None) -> dict:
    """Train `params` until killed in epoch 3, then resume it (with `resume_params`, if given); the summary."""
    import ifdsed.training.loop as training
    with monkeypatch.context() as patch:
        kill_in_epoch_three(training, patch)
        with pytest.raises(KeyboardInterrupt):
            training.train_seed(params, 1, store, out)
    assert checkpoint.load(out / "checkpoints/last.pt").epoch == 2
    return training.train_seed(resume_params or params, 1, store, out)


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
    straight = train_seed(params, 1, store, tmp_path / "straight")
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
    straight = train_seed(params, 1, store, tmp_path / "straight")
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


def test_a_checkpoint_from_other_settings_is_not_resumed(store, tmp_path, capsys):
    train_seed(training_params(epochs=1), 1, store, tmp_path / "run")
    train_seed(training_params(epochs=1, lr=0.005), 1, store, tmp_path / "run")
    assert "written with other params or data; starting afresh" in capsys.readouterr().out
    train_seed(training_params(epochs=1, lr=0.005, precision="float32", compile=False), 1, store, tmp_path / "run")
    assert "written with other params or data; starting afresh" in capsys.readouterr().out
