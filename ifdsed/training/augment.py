"""Robust-training options that SED toolkits offer, each off by default (the paper's four variants
use none) and switched on by one parameter of params.yaml's train section:

- `mixup` (DESED's baseline): with probability 0.5 per batch, each clip is mixed with another clip of the same
  kind in the batch (real with real, synthetic with synthetic, so a weak clip never borrows strong labels), its
  features x = lam x_i + (1 - lam) x_j with lam ~ Beta(0.2, 0.2) per batch, DESED's choice. The labels are
  mixed "hard" (DESED's other option): the union of both clips' tags and frame labels (the oracle arm's hidden
  frame labels of the weak clips too), so they stay 0/1, which the IFD pairing needs.
- `spec_augment` (SpecAugment-style masking): per clip, 2 time masks of up to 10 % of the frames and 2 frequency
  masks of up to 8 mel bands, set to 0, the training sets' mean after normalisation. Labels are kept.
- `gain_filter` (random gain and filtering): per clip, a gain uniform in +-6 dB and a spectral tilt uniform in
  +-6 dB from the lowest to the highest mel band, added in the log-mel domain (a gain g multiplies the power by
  g^2: log-mel + 2 ln g), divided by each band's standard deviation since the features arrive normalised.

Everything runs on the batch as it reaches the device, as batched tensor operations. The random draws come from a
generator seeded by (seed, epoch, step), so an augmented training is reproducible and resumes exactly, and the
training's own random stream is untouched: with every option off, not one byte of the training changes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ifdsed.features.normalize import STD_FLOOR

MIXUP_PROBABILITY, MIXUP_ALPHA = 0.5, 0.2
TIME_MASKS, TIME_MASK_FRACTION, FREQ_MASKS, FREQ_MASK_BANDS = 2, 0.10, 2, 8
GAIN_DB, TILT_DB = 6.0, 6.0


@dataclass(frozen=True)
class Augmentation:
    mixup: bool = False
    spec_augment: bool = False
    gain_filter: bool = False

    @property
    def any(self) -> bool:
        return self.mixup or self.spec_augment or self.gain_filter


class Augmenter:
    """Applies the switched-on options to a training batch (see the module docstring)."""

    def __init__(self, options: Augmentation, std: np.ndarray, seed: int):
        self.options, self.seed = options, seed
        self.std = torch.as_tensor(np.maximum(np.asarray(std, np.float32), STD_FLOOR))   # [n_mels], as normalised

    def __call__(self, batch: dict[str, torch.Tensor], epoch: int, step: int) -> dict[str, torch.Tensor]:
        if not self.options.any:
            return batch
        generator = torch.Generator().manual_seed(
            int(np.random.SeedSequence([self.seed, epoch, step]).generate_state(1)[0]))
        batch = dict(batch)
        if self.options.mixup:
            batch = mixup(batch, generator)
        features = batch["features"]                                                   # [B, T, F]
        if self.options.gain_filter:
            features = features + gain_and_tilt(features.shape[0], self.std, generator).to(features.device)
        if self.options.spec_augment:
            keep = spec_masks(features.shape, generator).to(features.device)           # [B, T, F] bool
            features = features * keep
        batch["features"] = features
        return batch


def mixup(batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Hard mixup within each domain of the batch, with probability MIXUP_PROBABILITY (see the module docstring)."""
    if torch.rand((), generator=generator) >= MIXUP_PROBABILITY:
        return batch
    lam = float(np.random.default_rng(int(torch.randint(2**31 - 1, (), generator=generator))).beta(
        MIXUP_ALPHA, MIXUP_ALPHA))
    synthetic = batch["is_synthetic"].cpu().bool()                                     # [B]
    unlabelled = batch["is_unlabelled"].cpu().bool() if "is_unlabelled" in batch else None   # a mean teacher's
    partner = torch.arange(len(synthetic))                                             # [B]
    domains = (~synthetic, synthetic) if unlabelled is None else (~synthetic & ~unlabelled, synthetic, unlabelled)
    for domain in domains:                                                             # real, synthetic(, unlabelled)
        members = torch.nonzero(domain).flatten()
        partner[members] = members[torch.randperm(len(members), generator=generator)]
    partner = partner.to(batch["features"].device)
    mixed = dict(batch)
    mixed["features"] = lam * batch["features"] + (1 - lam) * batch["features"][partner]     # [B, T, F]
    mixed["clip_tags"] = torch.maximum(batch["clip_tags"], batch["clip_tags"][partner])      # [B, C]
    for key in ("frame_labels", "oracle_frame_labels"):                              # the second: oracle arm
        if key in batch:
            mixed[key] = torch.maximum(batch[key], batch[key][partner])                # [B, T, C]
    return mixed


def gain_and_tilt(clips: int, std: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per clip, a random gain and spectral tilt as an offset to normalised log-mel features: [B, 1, F]."""
    bands = std.shape[0]
    gain_db = (torch.rand(clips, 1, generator=generator) * 2 - 1) * GAIN_DB              # [B, 1]
    tilt_db = (torch.rand(clips, 1, generator=generator) * 2 - 1) * TILT_DB              # [B, 1]
    slope = torch.linspace(-0.5, 0.5, bands)[None, :]                                  # [1, F]
    level_db = gain_db + tilt_db * slope                                               # [B, F]
    offset = level_db / 10.0 * math.log(10.0)            # power dB -> natural log of the power
    return (offset / std[None, :])[:, None, :]                                         # [B, 1, F]


def spec_masks(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """Keep-masks [B, T, F] (False where masked): TIME_MASKS time masks and FREQ_MASKS frequency masks per clip."""
    clips, frames, bands = shape

    def stripes(count: int, length: int, widest: int) -> torch.Tensor:                 # [B, length] bool, masked
        width = torch.randint(0, widest + 1, (clips, count), generator=generator)       # [B, count]
        start = (torch.rand(clips, count, generator=generator) * (length - width + 1)).long()
        position = torch.arange(length)[None, None, :]                                 # [1, 1, length]
        inside = (position >= start[..., None]) & (position < (start + width)[..., None])  # [B, count, length]
        return inside.any(1)

    masked_time = stripes(TIME_MASKS, frames, max(1, round(TIME_MASK_FRACTION * frames)))   # [B, T]
    masked_freq = stripes(FREQ_MASKS, bands, min(FREQ_MASK_BANDS, bands))                   # [B, F]
    return ~(masked_time[:, :, None] | masked_freq[:, None, :])
