"""What a training records besides its losses, to explain what the IFD branch does: the pseudo strong
labels the real weak clips get in each epoch, and the gradient norm each loss term sends into the encoder.

`PseudoLabelRecorder` observes every `ifdsed.training.step.optimisation_step` (its float32 outputs and labels);
`encoder_gradient_norms` works on a copy of the model, once per epoch. Neither changes the training: no parameter,
gradient buffer, random stream or BatchNorm statistic of the trained model is touched.

Neither reads a label the training may not read. The quality of the pseudo labels against the simulated weak set's
hidden timestamps is measured afterwards, by the `diagnose` stage (`ifdsed.evaluation.pseudo_labels`), from the
per-epoch files that `PseudoLabelRecorder.save` writes.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from ifdsed.io import atomic
from ifdsed.models.ifd import pseudo_strong_labels
from ifdsed.models.sed_model import SEDModel
from ifdsed.training.execution import Execution


class PseudoLabelRecorder:
    """The pseudo strong labels 1[p_t,c > theta] * y_c (`ifdsed.models.ifd.pseudo_strong_labels`) of every real weak
    clip, as the epoch's training forward gave them (a clip drawn twice in an epoch keeps its later labels).

    Recorded for every variant: the baseline's and SEDB's are the labels IFD would have used with those ATP
    outputs, and so are those of the oracle arm (model.ifd_labels oracle), whose IFD pairs the hidden labels. Kept on the device as [clips + 1, T, C] booleans, the extra row taking the synthetic clips' writes,
    so that recording is one `index_copy_` per step with no host synchronisation."""

    def __init__(self, n_clips: int, frames: int, n_classes: int, theta: float, device: torch.device):
        self.n_clips, self.theta = n_clips, theta
        self.labels = torch.zeros(n_clips + 1, frames, n_classes, dtype=torch.bool, device=device)  # [N+1, T, C]
        self.seen = torch.zeros(n_clips + 1, dtype=torch.bool, device=device)                       # [N+1]

    def start_epoch(self) -> None:
        self.labels.zero_()
        self.seen.zero_()

    def __call__(self, outputs: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                 losses: dict[str, torch.Tensor]) -> None:
        pseudo = pseudo_strong_labels(outputs["frame_probs"], labels["clip_tags"], self.theta) > 0.5  # [B, T, C]
        rows = torch.where(labels["is_synthetic"].bool(), self.n_clips, labels["clip_index"])       # [B]
        self.labels.index_copy_(0, rows, pseudo)
        self.seen.index_fill_(0, rows, True)

    def share(self) -> float:
        """The share of the real frames seen this epoch that carry a pseudo label of any class."""
        seen = self.seen[:self.n_clips]                                                             # [N]
        active = self.labels[:self.n_clips].any(-1)[seen]                                           # [N_seen, T]
        return float(active.float().mean()) if active.numel() else 0.0

    def save(self, path: Path) -> None:
        """labels [N, T, C] and seen [N] (booleans, rows in the feature store's order of the weak set) to an .npz;
        the same labels give the same bytes."""
        with atomic.atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, labels=self.labels[:self.n_clips].cpu().numpy(),
                                seen=self.seen[:self.n_clips].cpu().numpy())


def encoder_gradient_norms(model: SEDModel, batch: dict[str, torch.Tensor], execution: Execution,
                           lambda_ifd: float) -> dict[str, float]:
    """The L2 norm of the gradient that each weighted loss term alone sends into the encoder's parameters, on
    `batch` at the current weights: atp, lambda_sedb * sedb and lambda_ifd * the IFD loss's hinge and norm terms,
    weighted as the step weights them (lambda_ifd is 0 during an IFD warm-up). Terms the variant lacks are left out.

    Measured on a copy of the model, eager, under the run's autocast: the training's own step is compiled (its
    backward cannot be run once per term) and its BatchNorm statistics must not see the batch twice. Costs one
    forward and one backward pass per term, once per epoch."""
    shadow = copy.deepcopy(model).train()
    parameters = [p for p in shadow.encoder.parameters() if p.requires_grad]
    with execution.autocast():
        outputs = shadow(batch["features"])                                # [B, T, ...]
    losses = shadow.losses({key: value.float() for key, value in outputs.items()}, batch, lambda_ifd)
    weights = {"atp": 1.0, "sedb": model.config.lambda_sedb, "ifd_hinge": lambda_ifd, "ifd_norm": lambda_ifd}
    norms = {}
    for term, weight in weights.items():
        if term not in losses:
            continue
        grads = torch.autograd.grad(losses[term] * weight, parameters, retain_graph=True, allow_unused=True)
        flat = [torch.linalg.vector_norm(g.float()) for g in grads if g is not None]
        norms[term] = float(torch.linalg.vector_norm(torch.stack(flat))) if flat else 0.0
    return norms
