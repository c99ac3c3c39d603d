"""What a checkpoint must carry to detect events on its own: classes, feature settings, normalisation and
post-processing (with the median windows measured on the training labels).

Training stores `detector_extra(...)` in every checkpoint's `extra["detector"]`; evaluation and
`ifdsed predict` rebuild a `DetectorSettings` from it, so they never depend on params.yaml.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ifdsed.config import PostprocessParams
from ifdsed.features.logmel import LogMelConfig
from ifdsed.features.store import FeatureSet
from ifdsed.inference.postprocess import decisions_to_events, median_windows_from_labels
from ifdsed.models.checkpoint import CheckpointError


@dataclass(frozen=True)
class DetectorSettings:
    classes: tuple[str, ...]
    features: LogMelConfig
    mean: np.ndarray            # [n_mels] normalisation, from the training sets
    std: np.ndarray             # [n_mels]
    tag_threshold: float
    frame_threshold: float
    median_windows: np.ndarray  # [C] odd frame counts

    @property
    def frame_hop(self) -> float:
        return self.features.frame_hop


def training_median_windows(synthetic: FeatureSet, classes: Sequence[str], post: PostprocessParams,
                            frame_hop: float) -> np.ndarray:
    """Median windows from the strong labels of the synthetic TRAINING set (never validation or test)."""
    events = decisions_to_events(np.asarray(synthetic.frame_labels, dtype=bool), list(synthetic.index["filename"]),
                                 classes, frame_hop)
    return median_windows_from_labels(events, classes, frame_hop, post.median_fraction,
                                      post.median_min_frames, post.median_max_frames)


def detector_extra(classes: Sequence[str], post: PostprocessParams, features: LogMelConfig, mean: np.ndarray,
                   std: np.ndarray, windows: np.ndarray) -> dict:
    """Plain values and tensors only: checkpoints are read with torch.load(weights_only=True)."""
    return {
        "classes": list(classes),
        "features": {key: value for key, value in vars(features).items()},
        "mean": torch.from_numpy(np.asarray(mean, np.float32)),
        "std": torch.from_numpy(np.asarray(std, np.float32)),
        "tag_threshold": post.tag_threshold,
        "frame_threshold": post.frame_threshold,
        "median_windows": [int(w) for w in windows],
    }


def detector_settings(extra: dict) -> DetectorSettings:
    """Rebuild the settings stored by `detector_extra` (a checkpoint's extra["detector"])."""
    if "detector" not in extra:
        raise CheckpointError("this checkpoint has no detector settings (written by an older version of the "
                         "training stage?): retrain it with `dvc repro`")
    stored = extra["detector"]
    return DetectorSettings(
        classes=tuple(stored["classes"]), features=LogMelConfig(**stored["features"]),
        mean=stored["mean"].cpu().numpy(), std=stored["std"].cpu().numpy(),
        tag_threshold=float(stored["tag_threshold"]), frame_threshold=float(stored["frame_threshold"]),
        median_windows=np.asarray(stored["median_windows"], dtype=np.int64))
