"""Self-describing checkpoints: the model's config travels with its weights.

A checkpoint file is a `torch.save`d dict
    {"model_config": ModelConfig.to_dict(), "state_dict": ..., "optimizer": optimizer state dict or None,
     "epoch": int, "extra": dict}
written atomically (temporary file in the same folder, then os.replace), so that an interrupted save never
leaves a truncated checkpoint behind. It is read with `torch.load(weights_only=True)`: only tensors and plain
Python containers/scalars, so `extra` must hold plain values (numbers, strings, lists, dicts, tensors).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from models.config import ModelConfig
from models.sed_model import SEDModel


@dataclass
class Checkpoint:
    """What `load` returns: the rebuilt model (in eval mode) and the rest of the file."""
    model: SEDModel
    config: ModelConfig
    optimizer_state: dict[str, Any] | None
    epoch: int
    extra: dict[str, Any] = field(default_factory=dict)


def save(path: str | Path, model: SEDModel, optimizer: torch.optim.Optimizer | None = None, epoch: int = 0,
         extra: dict[str, Any] | None = None) -> None:
    """Write a checkpoint of `model` (and `optimizer`, to resume training) to `path`, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model_config": model.config.to_dict(),
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "epoch": int(epoch),
        "extra": dict(extra or {}),
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | Path, map_location: str | torch.device | None = "cpu") -> Checkpoint:
    """Read a checkpoint and rebuild its model from the stored config.

    The model is returned in eval mode on `map_location`. To resume training, build the optimizer on
    `checkpoint.model.parameters()` and call `optimizer.load_state_dict(checkpoint.optimizer_state)`.
    """
    payload = torch.load(path, map_location=map_location, weights_only=True)
    config = ModelConfig.from_dict(payload["model_config"])
    model = SEDModel(config)
    model.load_state_dict(payload["state_dict"])
    if map_location is not None:
        model.to(map_location)
    model.eval()
    return Checkpoint(model=model, config=config, optimizer_state=payload["optimizer"],
                      epoch=int(payload["epoch"]), extra=payload["extra"])
