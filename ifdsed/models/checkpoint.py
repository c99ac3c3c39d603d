"""Self-describing checkpoints: the model's config travels with its weights.

A checkpoint file is a `torch.save`d dict (float32 weights: `save` refuses any other dtype)
    {"model_config": ModelConfig.to_dict(), "state_dict": ..., "optimizer": optimizer state dict or None,
     "epoch": int, "extra": dict}
written atomically (temporary file in the same folder, then os.replace), so that an interrupted save never
leaves a truncated checkpoint behind. It is read with `torch.load(weights_only=True)`: only tensors and plain
Python containers/scalars, so `extra` must hold plain values (numbers, strings, lists, dicts, tensors).
Training puts its training-data record (`ifdsed.models.training_data`: params data.source and the training sets'
sizes) in extra["training_data"]; `load` returns it as `Checkpoint.training_data`, None for a checkpoint saved
before models recorded it (unknown training data).

`load` never runs code from a file: a checkpoint that holds any other Python object (a pickled class, a function
reference) is refused with a `CheckpointError`, as is a missing, truncated or corrupt file, or one that is not a
checkpoint of this project; the message names the file and says what is wrong.
"""
from __future__ import annotations

import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ifdsed.errors import IfdsedError, first_line
from ifdsed.io.atomic import atomic_path
from ifdsed.models.config import ModelConfig
from ifdsed.models.sed_model import SEDModel
from ifdsed.models.training_data import TrainingData, TrainingDataError, from_extra


KEYS = ("model_config", "state_dict", "optimizer", "epoch", "extra")


class CheckpointError(IfdsedError, ValueError):
    """A checkpoint cannot be used: missing, corrupt, not this project's, or holding objects that could run code."""


@dataclass
class Checkpoint:
    """What `load` returns: the rebuilt model (in eval mode) and the rest of the file; `training_data` is the
    record of what the model was trained on (None: unknown, a checkpoint saved before models recorded it)."""
    model: SEDModel
    config: ModelConfig
    optimizer_state: dict[str, Any] | None
    epoch: int
    extra: dict[str, Any] = field(default_factory=dict)
    training_data: TrainingData | None = None


def save(path: str | Path, model: SEDModel, optimizer: torch.optim.Optimizer | None = None, epoch: int = 0,
         extra: dict[str, Any] | None = None) -> None:
    """Write a checkpoint of `model` (and `optimizer`, to resume training) to `path`, atomically.

    Checkpoints are float32, whatever precision the training ran in (autocast leaves the weights float32): a
    model with weights or buffers of another floating dtype is refused before anything is written."""
    path = Path(path)
    other = sorted({str(value.dtype) for value in model.state_dict().values()
                    if value.is_floating_point() and value.dtype != torch.float32})
    if other:
        raise CheckpointError(f"{path}: not written: the model holds {', '.join(other)} tensors, and checkpoints "
                              "are float32 (train in mixed precision with autocast, which keeps the weights float32)")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model_config": model.config.to_dict(),
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "epoch": int(epoch),
        "extra": dict(extra or {}),
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())   # on disk before the rename: a crash never leaves a renamed empty file


def _looks_like(head: bytes) -> str:
    """What a file that is not a PyTorch archive seems to be, from its first bytes (for the error message)."""
    if not head:
        return "an empty file"
    if head.startswith((b"RIFF", b"fLaC", b"OggS", b"ID3")):
        return "an audio file"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "not a PyTorch file"
    return "a text file" if all(ch.isprintable() or ch in "\r\n\t" for ch in text) else "not a PyTorch file"


def _read(path: Path, map_location) -> dict:
    """torch.load with weights_only=True, its errors turned into CheckpointError messages naming the file.
    torch.save writes a zip archive: anything else (text, audio, random bytes, a truncated file) is refused
    before torch reads it."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as handle:
            head = handle.read(64)
        what = ("a truncated or damaged PyTorch archive" if head.startswith(b"PK\x03\x04") else _looks_like(head))
        raise CheckpointError(f"{path}: not a checkpoint: {what} (checkpoints are the PyTorch archives that "
                              "training writes, data/train/seed_<seed>/checkpoints/best.pt)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", str(error))
        what = f" ({found.group(1)})" if found else ""
        raise CheckpointError(
            f"{path}: refused: it holds Python objects other than tensors and plain values{what}, and loading "
            f"them could run code; only checkpoints written by this project's training stage are loaded") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError) as error:
        first = first_line(error)
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt?): {first}") from None
    if not isinstance(payload, dict) or any(key not in payload for key in KEYS):
        found = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path}: not a checkpoint of this project: expected the keys {list(KEYS)}, "
                              f"found {found}")
    return payload


def load(path: str | Path, map_location: str | torch.device | None = "cpu") -> Checkpoint:
    """Read a checkpoint and rebuild its model from the stored config.

    The model is returned in eval mode on `map_location`. To resume training, build the optimizer on
    `checkpoint.model.parameters()` and call `optimizer.load_state_dict(checkpoint.optimizer_state)`.
    Raises `CheckpointError` (a ValueError) naming the file for anything but a checkpoint written by `save`, and
    for a malformed training-data record.
    """
    path = Path(path)
    payload = _read(path, map_location)
    try:
        config = ModelConfig.from_dict(payload["model_config"])
        model = SEDModel(config)
        model.load_state_dict(payload["state_dict"])
    except (TypeError, ValueError, KeyError, RuntimeError, AttributeError) as error:
        first = first_line(error)
        raise CheckpointError(f"{path}: its model config and weights do not fit together: {first}") from None
    try:
        record = from_extra(payload["extra"])
    except (TrainingDataError, TypeError) as error:
        raise CheckpointError(f"{path}: its training data record is malformed: {first_line(error)}") from None
    if map_location is not None:
        model.to(map_location)
    model.eval()
    return Checkpoint(model=model, config=config, optimizer_state=payload["optimizer"],
                      epoch=int(payload["epoch"]), extra=payload["extra"], training_data=record)
