"""One optimisation step: the only place a training batch meets the model, the losses and the optimizer
(the training loop and bench/train_step.py both call `optimisation_step`).

The forward runs under the run's autocast (`ifdsed.training.execution.Execution`); its outputs are cast back to
float32 and every loss is computed in float32 (in a float32 run the cast is a no-op: the step is the eager
float32 step it always was). In a data-parallel run the outputs and labels of all ranks are gathered and the loss
is that of the global batch, times W, since DDP averages the ranks' gradients (see `ifdsed.training.loop`).
"""
from __future__ import annotations

import torch
from torch import nn

from ifdsed.training import distributed
from ifdsed.training.execution import Execution
from models.sed_model import SEDModel

# What SEDModel.losses reads: gathered from every rank in a data-parallel run.
LOSS_OUTPUTS = ("clip_logits", "frame_probs", "sedb_logits", "ifd_embeddings")
LOSS_LABELS = ("clip_tags", "frame_labels", "is_synthetic")


def optimisation_step(net: nn.Module, model: SEDModel, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
                      execution: Execution, scaler: torch.amp.GradScaler | None = None,
                      ctx: distributed.Context | None = None) -> dict[str, torch.Tensor]:
    """Forward, losses, backward and optimizer step on one batch (already on the device); returns the loss terms
    and IFD statistics, detached, on the device (no host synchronisation).

    net: what the step calls (`model` itself, compiled, or wrapped in DistributedDataParallel); model: the
    SEDModel whose `losses` apply; scaler: float16's loss scaler, or None."""
    with execution.autocast():
        outputs = net(batch["features"])                                  # [B, T, ...] in the autocast dtype
    outputs = {key: value.float() for key, value in outputs.items()}       # the losses in float32
    if ctx is not None and ctx.distributed:   # the loss of the global batch; x W: DDP averages the gradients
        losses = model.losses(distributed.gather_batch({key: outputs[key] for key in LOSS_OUTPUTS if key in outputs}, ctx),
                              distributed.gather_batch({key: batch[key] for key in LOSS_LABELS}, ctx))
        loss = losses["total"] * ctx.world_size
    else:
        losses = model.losses(outputs, batch)
        loss = losses["total"]
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return {key: value.detach() for key, value in losses.items()}
