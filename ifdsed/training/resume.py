"""What makes a training resumable: the fingerprint of what a checkpoint
depends on (`data_fingerprint`), and reading back the last checkpoint (`resume`) with the random state.

last.pt holds everything needed to resume (weights, optimizer, scheduler, epoch, best score, the early-stopping
count and whether the run stopped early, random state) and the fingerprint of the params, training data and
validation labels, so a checkpoint from other settings is never resumed; a damaged last.pt, other params or
data, or missing logs all mean starting afresh.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch

from ifdsed import paths as layout
from ifdsed.paths import RunPaths
from ifdsed.config import Params
from ifdsed.features.store import INFO_FILE, NORMALIZATION_FILE
from ifdsed.models import checkpoint
from ifdsed.training import distributed


def data_fingerprint(store: Path, params: Params, seed: int, world_size: int = 1,
                     validation_folder: Path | None = None, oracle_events: Path | None = None) -> str:
    """Hash of what a checkpoint depends on: model and train params (early stopping and the selection score
    included), the sed_eval settings the event-based selection score uses, the seed, the number of data-parallel
    processes, the feature store's index tables of the training and validation sets and its normalisation
    statistics (which change whenever the training data change), the validation set's events.tsv in
    `validation_folder` (the labels the selection score reads) and, in the oracle arm only, the hidden weak
    timestamps `oracle_events` that IFD reads. No test set's table is read."""
    digest = hashlib.sha256()
    # the device is left out: a run killed on one GPU (or the CPU) resumes on another; so are prefetch, which
    # changes when batches are made, never what they hold, and track_energy, which only measures
    settings = {"model": params.model.model_dump(),
                "train": params.train.model_dump(exclude={"seeds", "device", "prefetch", "track_energy"}),
                "eval": params.eval.model_dump(include={"t_collar", "percentage_of_length"}),
                "postprocess": params.postprocess.model_dump(), "seed": seed, "classes": params.classes}
    if world_size > 1:
        settings["world_size"] = world_size
    digest.update(json.dumps(settings, sort_keys=True, default=list).encode())
    sets = (*layout.TRAIN_SETS, layout.VALIDATION_SET) + ((layout.UNLABELLED_SET,) if params.model.mean_teacher
                                                              else ())
    tables = [store / f"{name}.tsv" for name in sets]
    for path in tables + [store / NORMALIZATION_FILE, store / INFO_FILE]:
        digest.update(path.read_bytes())
    if validation_folder is not None:
        digest.update((validation_folder / "events.tsv").read_bytes())
    if oracle_events is not None:
        digest.update(oracle_events.read_bytes())
    return digest.hexdigest()


def _resume_state(paths: RunPaths, fingerprint: str, device: torch.device):
    """The last checkpoint when it was written by these settings and its logs are there; otherwise clear the
    run folder (a damaged last.pt, other params or data, or missing logs all mean starting afresh)."""
    if paths.last.is_file():
        try:
            saved = checkpoint.load(paths.last, map_location=device)
        except checkpoint.CheckpointError as error:
            saved, reason = None, f"unusable ({error})"
        else:
            reason = "written with other params or data"
            if saved.extra.get("fingerprint") == fingerprint:
                if (paths.live / "metrics.json").is_file():
                    return saved
                reason = f"its training logs are missing from {paths.live}"
        print(f"{paths.last}: {reason}; starting afresh")
    for folder in (paths.checkpoints, paths.pseudo_labels, paths.live):
        shutil.rmtree(folder, ignore_errors=True)
    return None


def resume(paths: RunPaths, fingerprint: str, device: torch.device, ctx: distributed.Context) -> dict | None:
    """What to resume from ({"state_dict", "optimizer", "epoch", "extra"}), or None to start afresh. In a
    data-parallel run rank 0 reads (or clears) the run folder and broadcasts the state to the other ranks."""
    if ctx.distributed:
        saved = _resume_state(paths, fingerprint, torch.device("cpu")) if ctx.is_main else None
    else:
        saved = _resume_state(paths, fingerprint, device)
    state = None if saved is None else {"state_dict": saved.model.state_dict(), "optimizer": saved.optimizer_state,
                                        "epoch": saved.epoch, "extra": saved.extra}
    return ctx.broadcast(state)


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"].cpu())  # load() maps tensors to the device
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)
