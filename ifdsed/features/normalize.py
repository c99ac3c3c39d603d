"""The one normaliser: (x - mean) / std per mel band, with the statistics of the training sets.

Training batches, validation, evaluation and prediction all normalise through `Normalizer`, so a model always
sees its features scaled the same way. The statistics come from the feature store (training) or from the
checkpoint's detector settings (everything after training).
"""
from __future__ import annotations

import numpy as np
import torch

STD_FLOOR = 1e-5  # a band whose spread is below this is not scaled up into noise


class Normalizer:
    """Per-band standardisation with fixed statistics, on one device."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, device: torch.device | str = "cpu"):
        mean = np.asarray(mean).astype(np.float32)                                     # [n_mels]
        std = np.maximum(np.asarray(std), STD_FLOOR).astype(np.float32)                # [n_mels]
        self.mean = torch.from_numpy(mean).to(device)
        self.std = torch.from_numpy(std).to(device)

    def __call__(self, features: np.ndarray | torch.Tensor) -> torch.Tensor:
        """features [..., n_mels] (a store slice or a tensor) -> float32 tensor [..., n_mels] on
        the normaliser's device."""
        if isinstance(features, np.ndarray):
            features = torch.from_numpy(features.astype(np.float32))
        features = features.to(self.mean.device, torch.float32)
        return (features - self.mean) / self.std
