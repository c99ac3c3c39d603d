"""The shared feature encoder: log-mel frames in, one embedding x_t per frame out.

Lin et al.'s "PS" encoder (paper section 3.2): an input BatchNorm, then blocks of Conv2d -> BatchNorm2d -> ReLU
-> MaxPool2d, pooling on frequency only so that the time resolution of the input is kept (every frame survives).
After the last block the channels and the remaining mel bins of a frame are flattened into x_t:
emb_dim = channels[-1] * mel bins left; with 64 mels and three (1, 4) pools one bin is left, so x_t has
channels[-1] values. The flattening order is channel-major (channel c, bin f -> c * bins + f); it matters only for
the disentangled features of the ATP head (class c sees the first k_c values).
"""
from __future__ import annotations

import torch
from torch import nn

from ifdsed.models.config import ModelConfig


class FrequencyMaxPool(nn.Module):
    """MaxPool2d((1, f)) on [B, C, T, F] as a max over a reshaped last axis: the same outputs, and several times
    faster on a CPU than the generic 2-D pooling kernel (bins that do not fill a window are dropped, as
    MaxPool2d does). `max(...).values` rather than `amax`: the gradient goes to one maximum, as MaxPool2d's
    does, and its backward is a scatter, cheaper than amax's (an equality mask and a division). The outputs
    are the same; so are the gradients except in a window with tied maxima, which amax splits the gradient
    among (rare, but enough to change a training's path; bench/efficiency.py compares the two)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bins = x.shape[-1] // self.size
        return x[..., :bins * self.size].unflatten(-1, (bins, self.size)).max(dim=-1).values  # [B, C, T, F // f]


class ConvBlock(nn.Module):
    """Conv2d ('same' padding) -> BatchNorm2d -> ReLU -> max-pool over (1, f) [-> Dropout].

    The ReLU is applied after the max-pool, which gives the same numbers (max and ReLU commute) on a tensor
    f times smaller.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int], pool: tuple[int, int],
                 dropout: float = 0.0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, padding="same", bias=False)  # BN has the bias
        self.bn = nn.BatchNorm2d(out_channels)
        if pool[0] != 1:
            raise ValueError(f"pooling must be on frequency only, got {pool}")
        self.pool = FrequencyMaxPool(pool[1])
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))               # [B, C_out, T, F]
        x = torch.relu(self.pool(x))            # [B, C_out, T, F // f]  (= pool(relu(x)): ReLU is monotone)
        return self.dropout(x)                  # [B, C_out, T, F // f]


class FeatureEncoder(nn.Module):
    """[batch, frames, n_mels] -> [batch, frames, emb_dim]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        # Per mel bin statistics over batch and time (Lin et al.: Keras BatchNormalization on the last axis).
        self.input_bn = nn.BatchNorm1d(config.n_mels) if config.input_batchnorm else nn.Identity()
        in_channels = (1,) + config.channels[:-1]
        self.blocks = nn.Sequential(*[
            ConvBlock(c_in, c_out, kernel, pool, config.dropout)
            for c_in, c_out, kernel, pool in zip(in_channels, config.channels, config.kernels, config.freq_pool)
        ])
        self.emb_dim = config.emb_dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        B, T, F = features.shape                         # [B, T, n_mels]
        x = self.input_bn(features.transpose(1, 2))      # [B, n_mels, T]  (BatchNorm1d wants channels second)
        x = x.unsqueeze(1)                               # [B, 1, n_mels, T]
        x = x.transpose(2, 3)                            # [B, 1, T, n_mels]
        x = self.blocks(x)                               # [B, channels[-1], T, bins_left]
        x = x.permute(0, 2, 1, 3)                        # [B, T, channels[-1], bins_left]
        return x.reshape(B, T, self.emb_dim)             # [B, T, emb_dim]
