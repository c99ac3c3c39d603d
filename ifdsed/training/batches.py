"""Training batches that mix real weak clips and synthetic strong clips in a fixed ratio.

Each batch holds `batch_size * (1 - synthetic_fraction)` real-world weak clips (clip tags only) and the rest
synthetic clips (tags and strong frame labels). An epoch is one pass over the real weak set (or over the
synthetic set when a batch holds no real clip), and the synthetic clips of its batches are whole shuffled passes
over the synthetic set, the last one cut short (`synthetic_passes` says how many per epoch). At the default
proportions (the synthetic set 4 times the weak set, as the paper's 6,373 : 1,578, and batches of 16 synthetic
and 4 real clips) an epoch is exactly one pass over each set. The clip order of every epoch comes from
(seed, epoch), so a resumed run sees exactly the batches an uninterrupted one would. In a data-parallel run every rank draws the
same global order and takes its shard of each batch (see `ifdsed.training.loop`).

With a mean teacher (`unlabelled` given), each batch also holds `n_unlabelled` clips of the unlabelled set, after
the labelled ones, drawn in whole shuffled passes over that set from the same (seed, epoch) generator after the
labelled order, so the labelled part of every batch is the same as without them. Their rows carry no label:
clip_tags and frame_labels are zeros that no loss reads (`is_unlabelled` marks them; `ifdsed.training.step` gives
the losses that need labels the labelled rows only).

A batch is the dict `ifdsed.models.sed_model` describes: features, clip_tags, frame_labels, is_synthetic and clip_index
(each clip's row in its own set: the real clips first, then the synthetic ones, then the unlabelled ones), and with
unlabelled clips is_unlabelled.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch

from ifdsed.config import ParamsError
from ifdsed.features.normalize import Normalizer
from ifdsed.features.store import FeatureSet


def unlabelled_per_batch(batch_size: int, unlabelled_fraction: float) -> int:
    """How many unlabelled clips join `batch_size` labelled ones so that they make `unlabelled_fraction` of the
    batch (train.unlabelled_fraction; 0.5: as many as the labelled ones)."""
    return round(batch_size * unlabelled_fraction / (1 - unlabelled_fraction))


def append_unlabelled(batch: dict[str, torch.Tensor], features: torch.Tensor,
                      rows: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """`batch` with unlabelled clips appended after its labelled ones: their (normalised) features [Bu, T, F], zero
    clip_tags and frame_labels that no loss reads, is_synthetic false, is_unlabelled marking them, and their rows in
    the unlabelled set (`rows`, needed then) appended to clip_index where the batch has one."""
    if ("clip_index" in batch) != (rows is not None):
        raise ValueError("append_unlabelled: give the unlabelled clips' rows exactly when the batch has a clip_index")
    n_labelled, n = len(batch["features"]), len(features)
    frames, classes = batch["frame_labels"].shape[1:]
    appended = {"features": torch.cat([batch["features"], features]),                               # [B + Bu, T, F]
                "clip_tags": torch.cat([batch["clip_tags"], torch.zeros(n, classes)]),              # [B + Bu, C]
                "frame_labels": torch.cat([batch["frame_labels"], torch.zeros(n, frames, classes)]),  # [B + Bu, T, C]
                "is_synthetic": torch.cat([batch["is_synthetic"], torch.zeros(n, dtype=torch.bool)])}
    if "clip_index" in batch:
        appended["clip_index"] = torch.cat([batch["clip_index"], torch.from_numpy(np.asarray(rows, np.int64))])
    appended["is_unlabelled"] = torch.from_numpy(np.r_[np.zeros(n_labelled, bool), np.ones(n, bool)])
    return appended


class MixedBatches:
    """Batches that mix real weak clips and synthetic strong clips in a fixed ratio."""

    def __init__(self, real: FeatureSet, synthetic: FeatureSet, normalize: Normalizer, batch_size: int,
                 synthetic_fraction: float, seed: int, rank: int = 0, world_size: int = 1,
                 unlabelled: FeatureSet | None = None, n_unlabelled: int = 0):
        """rank, world_size: yield only this rank's shard of every batch (data-parallel training); unlabelled,
        n_unlabelled: that many clips of the unlabelled set added to every batch (the mean teacher's)."""
        if synthetic.frame_labels is None:
            raise ValueError(f"{synthetic.name} has no frame labels: the synthetic set must be strongly labelled")
        if n_unlabelled and (unlabelled is None or world_size > 1):
            raise ValueError("unlabelled clips need the unlabelled set, in a single-process training")
        self.real, self.synthetic, self.normalize, self.seed = real, synthetic, normalize, seed
        self.unlabelled, self.n_unlabelled = unlabelled, n_unlabelled
        self.n_synthetic = round(batch_size * synthetic_fraction)
        self.n_real = batch_size - self.n_synthetic
        self.rank, self.world_size = rank, world_size
        if self.n_real % world_size or self.n_synthetic % world_size:
            raise ParamsError(
                f"params.yaml: train.batch_size {batch_size} with synthetic_fraction {synthetic_fraction} makes "
                f"batches of {self.n_real} real and {self.n_synthetic} synthetic clips, which do not split evenly over "
                f"{world_size} processes: choose a batch_size whose real and synthetic parts are both multiples "
                f"of {world_size}")
        lead, per_batch = (len(real.tags), self.n_real) if self.n_real else (len(synthetic.tags), self.n_synthetic)
        self.steps = math.ceil(lead / per_batch)

    @property
    def synthetic_passes(self) -> float:
        """Passes over the synthetic set per epoch (1.0 when the batch ratio is the sets' ratio)."""
        return self.steps * self.n_synthetic / len(self.synthetic.tags)

    def describe(self) -> str:
        """One line: the batch composition and what an epoch covers."""
        unlabelled = (f" + {self.n_unlabelled} unlabelled" if self.n_unlabelled else "")
        passes = (f", the unlabelled set {self.steps * self.n_unlabelled / len(self.unlabelled.features):.2f} times"
                  if self.n_unlabelled else "")
        return (f"{self.steps} steps of {self.n_real} real + {self.n_synthetic} synthetic{unlabelled} clips an "
                f"epoch: the weak set {self.steps * self.n_real / max(len(self.real.tags), 1):.2f} times, the "
                f"synthetic set {self.synthetic_passes:.2f} times{passes}")

    def _order(self, rng: np.random.Generator, n_clips: int, count: int) -> np.ndarray:
        """`count` clip indices: whole shuffled passes over the set, as many as needed."""
        passes = math.ceil(count / n_clips) if count else 0
        return np.concatenate([rng.permutation(n_clips) for _ in range(passes)] or [np.zeros(0, int)])[:count]

    def epoch(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        rng = np.random.default_rng([self.seed, epoch])
        real_order = self._order(rng, len(self.real.tags), self.steps * self.n_real)
        synthetic_order = self._order(rng, len(self.synthetic.tags), self.steps * self.n_synthetic)
        unlabelled_order = (self._order(rng, len(self.unlabelled.features), self.steps * self.n_unlabelled)
                            if self.n_unlabelled else None)   # drawn last: the labelled order is unchanged
        for step in range(self.steps):
            real = np.sort(real_order[step * self.n_real:(step + 1) * self.n_real])       # sorted: memmap reads
            synthetic = np.sort(synthetic_order[step * self.n_synthetic:(step + 1) * self.n_synthetic])
            if self.world_size > 1:   # this rank's shard: every world_size-th clip of each part
                real, synthetic = real[self.rank::self.world_size], synthetic[self.rank::self.world_size]
            batch = self._batch(real, synthetic)
            if unlabelled_order is not None:
                batch = self._with_unlabelled(
                    batch, np.sort(unlabelled_order[step * self.n_unlabelled:(step + 1) * self.n_unlabelled]))
            yield batch

    def _batch(self, real: np.ndarray, synthetic: np.ndarray) -> dict[str, torch.Tensor]:
        features = np.concatenate([self.real.features[real], self.synthetic.features[synthetic]])  # [B, T, F]
        tags = np.concatenate([self.real.tags[real], self.synthetic.tags[synthetic]])              # [B, C]
        strong = self.synthetic.frame_labels[synthetic]                                            # [Bs, T, C]
        frame_labels = np.concatenate([np.zeros((len(real),) + strong.shape[1:], np.uint8), strong])  # [B, T, C]
        return {"features": self.normalize(features),
                "clip_tags": torch.from_numpy(tags.astype(np.float32)),
                "frame_labels": torch.from_numpy(frame_labels.astype(np.float32)),
                "is_synthetic": torch.from_numpy(np.r_[np.zeros(len(real), bool), np.ones(len(synthetic), bool)]),
                "clip_index": torch.from_numpy(np.r_[real, synthetic].astype(np.int64))}

    def _with_unlabelled(self, batch: dict[str, torch.Tensor], rows: np.ndarray) -> dict[str, torch.Tensor]:
        """`batch` with the unlabelled clips `rows` of the unlabelled set appended."""
        return append_unlabelled(batch, self.normalize(self.unlabelled.features[rows]), rows)    # [Bu, T, F]
