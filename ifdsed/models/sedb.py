"""Sound event detection branch (SEDB, paper section 2.3): a frame-level classifier on x_t.

It is trained on the strong labels of the synthetic clips only (eq. 4) and is not used at test time. Eq. 4 sums
the binary cross-entropy over classes and frames; `sedb_loss` takes the mean over the synthetic clips' frames and
classes instead, so that lambda_sedb does not depend on batch size, clip length or the number of classes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SEDBHead(nn.Module):
    """[batch, frames, emb_dim] -> frame logits [batch, frames, n_classes]."""

    def __init__(self, emb_dim: int, n_classes: int):
        super().__init__()
        self.classifier = nn.Linear(emb_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x)  # [B, T, C]


def sedb_loss(frame_logits: torch.Tensor, frame_labels: torch.Tensor, is_synthetic: torch.Tensor) -> torch.Tensor:
    """Mean frame-level BCE over the synthetic (strongly labelled) clips of the batch.

    frame_logits, frame_labels: [B, T, C]; is_synthetic: [B] bool. A batch without synthetic clips gives an exact
    zero (with a zero gradient), never NaN.
    """
    bce = F.binary_cross_entropy_with_logits(frame_logits, frame_labels, reduction="none")  # [B, T, C]
    weight = is_synthetic.to(bce.dtype)[:, None, None].expand_as(bce)                       # [B, T, C]
    return (bce * weight).sum() / weight.sum().clamp(min=1.0)
