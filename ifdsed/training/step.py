"""One optimisation step: the only place a training batch meets the model, the losses and the optimizer
(the training loop and bench/train_step.py both call `optimisation_step`).

The forward runs under the run's autocast (`ifdsed.training.execution.Execution`); its outputs are cast back to
float32 and every loss is computed in float32 (in a float32 run the cast is a no-op: the step is the eager
float32 step it always was). In a data-parallel run the outputs and labels of all ranks are gathered and the loss
is that of the global batch, times W, since DDP averages the ranks' gradients (see `ifdsed.training.loop`).

With a mean teacher (`ifdsed.training.mean_teacher`), the batch may hold unlabelled clips (`is_unlabelled`): the
losses that need labels (ATP, SEDB, IFD) and the observers see the labelled rows only (`labelled_rows`), the
consistency loss every row; the teacher runs on the whole batch under no_grad, in the step's autocast, and takes
its EMA step after the optimizer's.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from ifdsed.models.sed_model import SEDModel
from ifdsed.training import distributed
from ifdsed.training.execution import Execution
from ifdsed.training.mean_teacher import MeanTeacher, consistency_loss

# What SEDModel.losses reads: gathered from every rank in a data-parallel run (oracle_frame_labels: in the oracle
# arm only, `ifdsed.training.oracle`).
LOSS_OUTPUTS = ("clip_logits", "frame_probs", "sedb_logits", "ifd_embeddings")
LOSS_LABELS = ("clip_tags", "frame_labels", "is_synthetic", "clip_index", "oracle_frame_labels")

# An observer of a step: (outputs, labels, losses) -> None, after the losses, before the backward pass.
Observer = Callable[[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]], None]


def labelled_rows(rows: dict[str, torch.Tensor], is_unlabelled: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """The rows [B, ...] of a batch's tensors (or of a forward's outputs) that are not unlabelled clips."""
    if is_unlabelled is None:
        return rows
    keep = ~is_unlabelled.bool()                                                       # [B]
    return {key: value[keep] for key, value in rows.items()}


def optimisation_step(net: nn.Module, model: SEDModel, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
                      execution: Execution, scaler: torch.amp.GradScaler | None = None,
                      ctx: distributed.Context | None = None, lambda_ifd: float | None = None,
                      observers: Sequence[Observer] = (), teacher: MeanTeacher | None = None,
                      consistency_weight: float = 0.0) -> dict[str, torch.Tensor]:
    """Forward, losses, backward and optimizer step on one batch (already on the device); returns the loss terms
    and IFD statistics, detached, on the device (no host synchronisation).

    net: what the step calls (`model` itself, compiled, or wrapped in DistributedDataParallel); model: the
    SEDModel whose `losses` apply; scaler: float16's loss scaler, or None; lambda_ifd: this step's IFD weight
    (None: the model's; 0 during an IFD warm-up); observers: called with the float32 outputs, the labels (both
    of the global batch in a data-parallel run) and the loss terms with their graph, before the backward pass
    (`ifdsed.training.diagnostics`); they must not change the step. teacher: the mean teacher, whose consistency
    loss enters the total with `consistency_weight` (this step's, after the ramp-up) and which takes its EMA step
    after the optimizer's."""
    with execution.autocast():
        outputs = net(batch["features"])                                  # [B, T, ...] in the autocast dtype
    all_outputs = {key: value.float() for key, value in outputs.items()}   # the losses in float32
    unlabelled = batch.get("is_unlabelled")
    outputs = labelled_rows(all_outputs, unlabelled)                       # what the supervised losses see
    labels = labelled_rows({key: batch[key] for key in LOSS_LABELS if key in batch}, unlabelled)
    if ctx is not None and ctx.distributed:   # the loss of the global batch; x W: DDP averages the gradients
        outputs = distributed.gather_batch({key: outputs[key] for key in LOSS_OUTPUTS if key in outputs}, ctx)
        labels = distributed.gather_batch(labels, ctx)
        losses = model.losses(outputs, labels, lambda_ifd)
        loss = losses["total"] * ctx.world_size
    else:
        losses = model.losses(outputs, labels, lambda_ifd)
        loss = losses["total"]
    if teacher is not None:
        with torch.no_grad(), execution.autocast():
            targets = teacher.model(batch["features"])                    # every row, unlabelled ones included
        losses["consistency"] = consistency_loss(all_outputs, targets)
        loss = loss + consistency_weight * losses["consistency"]
        losses["total"] = loss
    for observe in observers:
        observe(outputs, labels, losses)
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    if teacher is not None:
        teacher.update(model)
    return {key: value.detach() for key, value in losses.items()}
