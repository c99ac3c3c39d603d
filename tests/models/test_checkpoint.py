"""Self-describing checkpoints (ifdsed.models.checkpoint): round trip and resume, killed saves, and checkpoints that
could run code or are not readable (bad input: docs/reliability.md), and the training-data record they carry."""
from __future__ import annotations

import pytest
import torch

from ifdsed.models import checkpoint
from ifdsed.models.checkpoint import CheckpointError, load, save
from ifdsed.models.config import ModelConfig
from ifdsed.models.sed_model import SEDModel
from ifdsed.models.training_data import KEY as TRAINING_DATA, TrainingData
from tests.helpers import DEVICE, Payload, cut, make_batch, train_step


def test_checkpoint_round_trip_and_resume(tmp_path):
    torch.manual_seed(0)
    config = ModelConfig(channels=(8, 8, 8), ifd=True, sedb=True, k_c=(4,) * 10)
    model = SEDModel(config).to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = make_batch()
    train_step(model, optimizer, batch)
    path = tmp_path / "nested" / "model.pt"
    save(path, model, optimizer, epoch=3, extra={"best_f1": 0.25, "classes": ["a", "b"]})
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]          # no temporary file left behind

    checkpoint = load(path, map_location=DEVICE)
    assert checkpoint.config == config and checkpoint.epoch == 3
    assert checkpoint.extra == {"best_f1": 0.25, "classes": ["a", "b"]}
    restored = checkpoint.model
    assert not restored.training
    model.eval()
    with torch.no_grad():
        for key, value in model(batch["features"]).items():
            torch.testing.assert_close(restored(batch["features"])[key], value, rtol=0, atol=0)

    # Resuming: one more step from the checkpoint equals one more step of the original run.
    model.train()
    restored.train()
    resumed_optimizer = torch.optim.Adam(restored.parameters(), lr=1e-3)
    resumed_optimizer.load_state_dict(checkpoint.optimizer_state)
    train_step(model, optimizer, batch)
    train_step(restored, resumed_optimizer, batch)
    for (name, a), b in zip(model.state_dict().items(), restored.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_checkpoint_without_optimizer(tmp_path):
    model = SEDModel(ModelConfig(channels=(4, 4, 4)))
    save(tmp_path / "m.pt", model)
    checkpoint = load(tmp_path / "m.pt")
    assert checkpoint.optimizer_state is None and checkpoint.epoch == 0 and checkpoint.extra == {}


# -------------------------------------------------------------------------------------------- bad input
def test_a_killed_checkpoint_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = SEDModel(ModelConfig(channels=(4, 4, 4)))
    path = tmp_path / "last.pt"
    checkpoint.save(path, model, epoch=1)

    def killed(payload, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, model, epoch=2)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"] and checkpoint.load(path).epoch == 1


def test_checkpoints_cannot_run_code_and_bad_ones_are_named(tmp_path):
    marker = tmp_path / "code_ran"
    model = SEDModel(ModelConfig(channels=(4, 4, 4)))
    evil = tmp_path / "evil.pt"
    torch.save({"model_config": model.config.to_dict(), "state_dict": model.state_dict(), "optimizer": None,
                "epoch": 1, "extra": {"hook": Payload(str(marker))}}, evil)
    with pytest.raises(CheckpointError) as error:
        checkpoint.load(evil)
    assert str(error.value).startswith(f"{evil}: refused: it holds Python objects other than tensors and plain "
                                       f"values (tests.helpers.leave_marker)") and "could run code" in str(error.value)
    assert not marker.exists()

    good = tmp_path / "good.pt"
    checkpoint.save(good, model)
    cut(good, tmp_path / "truncated.pt", 0.5)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    for name, phrase in [("truncated.pt", "not a checkpoint: a truncated or damaged PyTorch archive"),
                         ("list.pt", "not a checkpoint of this project: expected the keys ['model_config'"),
                         ("absent.pt", "no such checkpoint file")]:
        with pytest.raises(CheckpointError) as error:
            checkpoint.load(tmp_path / name)
        assert str(error.value).startswith(f"{tmp_path / name}: {phrase}"), str(error.value)


@pytest.mark.parametrize("name, content, phrase", [
    ("notes.pt", b"epoch 3: best so far\n", "not a checkpoint: a text file"),
    ("other_text.pt", b"events are here\n", "not a checkpoint: a text file"),        # once an IndexError
    ("noise.pt", bytes(range(256)) * 8, "not a checkpoint: not a PyTorch file"),
    ("empty.pt", b"", "not a checkpoint: an empty file"),
])
def test_files_that_are_not_pytorch_archives_are_refused_by_name(tmp_path, name, content, phrase):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as error:
        checkpoint.load(path)
    assert str(error.value).startswith(f"{path}: {phrase}"), str(error.value)


def test_audio_and_other_projects_torch_files_are_refused_by_name(tmp_path):
    import numpy as np
    import soundfile as sf
    audio = tmp_path / "clip.pt"                                           # a .wav renamed .pt
    sf.write(audio, np.zeros(1600, np.float32), 16000, format="WAV")
    foreign = tmp_path / "foreign.pt"                                      # another project's checkpoint
    torch.save({"model": {"weight": torch.zeros(2)}, "epoch": 3}, foreign)
    for path, phrase in [(audio, "not a checkpoint: an audio file"),
                         (foreign, "not a checkpoint of this project: expected the keys")]:
        with pytest.raises(CheckpointError) as error:
            checkpoint.load(path)
        assert str(error.value).startswith(f"{path}: {phrase}"), str(error.value)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_model_that_is_not_float32_is_refused_and_nothing_is_written(tmp_path, dtype):
    model = SEDModel(ModelConfig(channels=(4, 4, 4)))
    path = tmp_path / "checkpoints" / "last.pt"
    with pytest.raises(CheckpointError) as error:
        checkpoint.save(path, model.to(dtype))
    assert str(error.value).startswith(f"{path}: not written: the model holds {dtype} tensors, and checkpoints "
                                       "are float32")
    assert not path.parent.exists()                          # not even its folder
    # an existing checkpoint stays as it was
    checkpoint.save(path, model.float(), epoch=1)
    before = path.read_bytes()
    with torch.no_grad():
        model.atp.w.data = model.atp.w.data.to(dtype)            # one parameter of another dtype is enough
    with pytest.raises(CheckpointError, match=f"the model holds {dtype} tensors"):
        checkpoint.save(path, model, epoch=2)
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"] and path.read_bytes() == before
    assert checkpoint.load(path).epoch == 1


# -------------------------------------------------------------------------------------------- training data
def test_the_training_data_record_travels_with_the_checkpoint_and_old_ones_read_as_unknown(tmp_path):
    model = SEDModel(ModelConfig(channels=(4, 4, 4)))
    record = TrainingData("embedded", 1600, 400)
    save(tmp_path / "new.pt", model, epoch=2, extra={TRAINING_DATA: record.to_dict(), "seed": 1})
    assert load(tmp_path / "new.pt").training_data == record
    save(tmp_path / "new_again.pt", model, epoch=2, extra={TRAINING_DATA: record.to_dict(), "seed": 1})
    assert (tmp_path / "new.pt").read_bytes() == (tmp_path / "new_again.pt").read_bytes()   # deterministic
    save(tmp_path / "old.pt", model, epoch=2, extra={"seed": 1})       # saved before models recorded it
    assert load(tmp_path / "old.pt").training_data is None
    bad = tmp_path / "bad.pt"
    save(bad, model, extra={TRAINING_DATA: {"source": "somewhere", "synthetic_train_clips": 1, "weak_clips": 1}})
    with pytest.raises(CheckpointError) as error:
        load(bad)
    assert str(error.value).startswith(f"{bad}: its training data record is malformed: training data source "
                                       "'somewhere'"), str(error.value)
