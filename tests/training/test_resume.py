"""Resuming an interrupted training (ifdsed.training.resume): the same weights as a run straight through, and
no resume from a checkpoint written with other params or data (bad input: docs/reliability.md)."""
import pytest
import torch

from ifdsed.training.loop import train_seed
from models import checkpoint
from tests.helpers import training_params


def test_training_resumes_from_its_last_checkpoint(trained, monkeypatch, capsys):
    import ifdsed.training.loop as training
    base, store, _ = trained
    real_score, calls = training.selection_score, []

    def killed_in_epoch_three(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_score(*args)

    monkeypatch.setattr(training, "selection_score", killed_in_epoch_three)
    with pytest.raises(KeyboardInterrupt):
        training.train_seed(training_params(channels=(4, 4, 4)), 1, store, base / "resumed")
    assert checkpoint.load(base / "resumed/checkpoints/last.pt").epoch == 2
    monkeypatch.setattr(training, "selection_score", real_score)
    training.train_seed(training_params(channels=(4, 4, 4)), 1, store, base / "resumed")
    assert f"resuming {base / 'resumed/checkpoints/last.pt'} after epoch 2" in capsys.readouterr().out
    straight = checkpoint.load(base / "straight/checkpoints/last.pt").model.state_dict()
    resumed = checkpoint.load(base / "resumed/checkpoints/last.pt").model.state_dict()
    assert all(torch.equal(straight[key], resumed[key]) for key in straight)


def test_a_checkpoint_from_other_settings_is_not_resumed(store, tmp_path, capsys):
    train_seed(training_params(epochs=1), 1, store, tmp_path / "run")
    train_seed(training_params(epochs=1, lr=0.005), 1, store, tmp_path / "run")
    assert "written with other params or data; starting afresh" in capsys.readouterr().out
