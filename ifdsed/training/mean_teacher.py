"""The mean teacher (Tarvainen and Valpola, 2017), as the DCASE/DESED baselines have used it since 2019: a teacher
whose weights are an exponential moving average (EMA) of the student's and which gets no gradient, and a
consistency loss between the student's and the teacher's outputs on every clip of a batch, labelled or not,
weighted by a ramp-up.

- EMA, after every optimizer step: theta_teacher <- d_k * theta_teacher + (1 - d_k) * theta_student for every
  parameter, with d_k = min(decay, 1 - 1 / (k + 1)) at the k-th update since the first (the DESED baseline's
  warm-up of the decay: an early teacher follows the student closely); the first update copies the student.
  `torch.optim.swa_utils.AveragedModel` holds the copy and the count of updates. The buffers (BatchNorm's
  running statistics) are the teacher's own: it runs in training mode on every batch, as the DESED baseline's
  teacher does, so they follow the batches it sees.
- Consistency (`consistency_loss`): MSE(student frame_probs, teacher frame_probs) + MSE(student clip_probs,
  teacher clip_probs), the ATP branch's probabilities, each a mean over every clip, class (and frame).
- Ramp-up (`rampup`): weight(step) = consistency_weight * exp(-5 (1 - t)^2), t = min(step / rampup_steps, 1):
  the sigmoid-shaped ramp-up of Laine and Aila (2017) that the DESED baseline uses; the step is counted from the
  training's first, so a resumed training continues the ramp where it stopped.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel


class MeanTeacher:
    """The EMA teacher of `student` (a copy of it, made here, with no gradient)."""

    def __init__(self, student: nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"the EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.averaged = AveragedModel(student, avg_fn=self._average)     # a deep copy; parameters only
        self.averaged.requires_grad_(False)

    @property
    def model(self) -> nn.Module:
        """The teacher network itself (the student's class: a `SEDModel` in training)."""
        return self.averaged.module

    def decay_at(self, update: int) -> float:
        """d_k of the update after `update` earlier ones (the first update, k = 0, copies: d_0 = 0)."""
        return min(self.decay, 1.0 - 1.0 / (update + 1.0))

    def _average(self, teacher: torch.Tensor, student: torch.Tensor, updates: torch.Tensor) -> torch.Tensor:
        decay = self.decay_at(int(updates))
        return teacher * decay + student * (1.0 - decay)

    @torch.no_grad()
    def update(self, student: nn.Module) -> None:
        """One EMA step towards `student`'s current parameters (after the optimizer's step)."""
        self.averaged.update_parameters(student)

    def state_dict(self) -> dict:
        """The teacher's weights, buffers and update count (for last.pt)."""
        return self.averaged.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.averaged.load_state_dict(state)


def consistency_loss(student: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor]) -> torch.Tensor:
    """MSE between the student's and the (detached) teacher's ATP probabilities, frames [B, T, C] plus clips
    [B, C], over every clip of the batch (float32)."""
    return (F.mse_loss(student["frame_probs"].float(), teacher["frame_probs"].detach().float())
            + F.mse_loss(student["clip_probs"].float(), teacher["clip_probs"].detach().float()))


def rampup(step: int, rampup_steps: int) -> float:
    """exp(-5 (1 - t)^2), t = min(step / rampup_steps, 1): from exp(-5) at the first step to 1 (1 throughout when
    rampup_steps is 0)."""
    if rampup_steps <= 0:
        return 1.0
    t = min(step / rampup_steps, 1.0)
    return math.exp(-5.0 * (1.0 - t) ** 2)
