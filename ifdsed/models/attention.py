"""Embedding-level attention pooling (ATP; Lin et al., TASLP 2020), the branch used at test time.

For every class c, with x_t the frame embedding restricted to its first k_c dimensions (disentangled feature):

    s_{t,c} = w_c^T x_t + b_c                 frame logit
    p_{t,c} = sigmoid(s_{t,c})                frame probability (detection)
    a_{t,c} = softmax_t(s_{t,c} / k_c)        attention over the frames of the clip
    h_c     = sum_t a_{t,c} x_t               clip embedding of class c
    P_c     = sigmoid(v_c^T h_c + d_c)        clip probability (audio tagging)

All classes are computed at once: the restriction to k_c dimensions is a fixed 0/1 mask on w_c and v_c (equal to
slicing, since the masked weights never see the other dimensions and get no gradient there).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ifdsed.models.config import ModelConfig


class AttentionPooling(nn.Module):
    """ATP head: [batch, frames, emb_dim] -> frame and clip logits and probabilities."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        C, D = config.n_classes, config.emb_dim
        dims = torch.tensor(config.class_dims)                                    # [C]
        # Derived from the config, so not part of the state dict.
        self.register_buffer("k_c", dims.float(), persistent=False)               # [C]
        self.register_buffer("dim_mask", (torch.arange(D)[None, :] < dims[:, None]).float(), persistent=False)
        # Attention / frame classifier w_c, b_c: zero-initialised as in Lin et al.'s code (uniform attention).
        self.w = nn.Parameter(torch.zeros(C, D))                                  # [C, D]
        self.b = nn.Parameter(torch.zeros(C))                                     # [C]
        # Clip classifier v_c, d_c: the usual fan-in uniform initialisation over the k_c dimensions each class sees.
        bound = 1.0 / torch.sqrt(dims.float())[:, None]                           # [C, 1]
        self.v = nn.Parameter((torch.rand(C, D) * 2 - 1) * bound)                 # [C, D]
        self.d = nn.Parameter((torch.rand(C) * 2 - 1) / math.sqrt(D))             # [C]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: [B, T, D]. Returns frame_logits, frame_probs, attention [B, T, C]; clip_logits, clip_probs [B, C]."""
        w = self.w * self.dim_mask                                                # [C, D]
        v = self.v * self.dim_mask                                                # [C, D]
        frame_logits = torch.einsum("btd,cd->btc", x, w) + self.b                 # [B, T, C]  s_{t,c}
        attention = torch.softmax(frame_logits / self.k_c, dim=1)                 # [B, T, C]  a_{t,c}
        clip_emb = torch.einsum("btc,btd->bcd", attention, x)                     # [B, C, D]  h_c
        clip_logits = torch.einsum("bcd,cd->bc", clip_emb, v) + self.d            # [B, C]
        return {
            "frame_logits": frame_logits,                                         # [B, T, C]
            "frame_probs": torch.sigmoid(frame_logits),                           # [B, T, C]  p_{t,c}
            "attention": attention,                                               # [B, T, C]
            "clip_logits": clip_logits,                                           # [B, C]
            "clip_probs": torch.sigmoid(clip_logits),                             # [B, C]     P_c
        }
