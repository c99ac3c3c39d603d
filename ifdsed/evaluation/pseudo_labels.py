"""How good the IFD branch's pseudo strong labels are: the real weak clips' pseudo labels of each training epoch
(written by `ifdsed.training.diagnostics.PseudoLabelRecorder`) against the simulated weak set's hidden
timestamps (data/realworld/weak_frame_labels/oracle/weak_events.tsv), which exist for measurement only and which
training never reads, except in the oracle diagnostic arm (model.ifd_labels: oracle).

Counted over the (clip, frame, class) cells of the clips the epoch drew:
  share        the share of frames with a pseudo label of any class (what IFD can pair: its pairs are event frames);
  truth_share  the share of frames with a true event of any class (the same clips and frames);
  precision    pseudo-labelled cells that are true event cells / pseudo-labelled cells (None when there are none);
  recall       true event cells that are pseudo-labelled / true event cells (None when there are none);
  f1           their harmonic mean.
Pseudo labels are gated by the clip tags, and so are the true cells (an event's class is one of its clip's tags),
so every error is one of timing within a tagged class.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

QUALITY_COLUMNS = ("share", "truth_share", "precision", "recall", "f1")


def read_epoch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels [N, T, C] bool, seen [N] bool) of one epoch_<NNN>.npz."""
    with np.load(path) as saved:
        return saved["labels"].astype(bool), saved["seen"].astype(bool)


def pseudo_label_quality(pseudo: np.ndarray, seen: np.ndarray, truth: np.ndarray | None) -> dict[str, float | None]:
    """pseudo [N, T, C] bool, seen [N] bool, truth [N, T, C] 0/1 or None (no hidden timestamps: a real DCASE weak
    set) -> {share, truth_share, precision, recall, f1} over the seen clips (see the module docstring)."""
    if pseudo.shape[0] != seen.shape[0] or (truth is not None and truth.shape != pseudo.shape):
        raise ValueError(f"pseudo labels {pseudo.shape}, seen {seen.shape} and truth "
                         f"{None if truth is None else truth.shape} do not match")
    pseudo = pseudo[seen]                                                    # [N_seen, T, C]
    quality: dict[str, float | None] = dict.fromkeys(QUALITY_COLUMNS)
    if not len(pseudo):
        return quality
    quality["share"] = float(pseudo.any(-1).mean())
    if truth is None:
        return quality
    truth = truth[seen].astype(bool)                                         # [N_seen, T, C]
    hits, predicted, actual = (pseudo & truth).sum(), pseudo.sum(), truth.sum()
    quality["truth_share"] = float(truth.any(-1).mean())
    quality["precision"] = float(hits / predicted) if predicted else None
    quality["recall"] = float(hits / actual) if actual else None
    p, r = quality["precision"], quality["recall"]
    quality["f1"] = (2 * p * r / (p + r) if p + r else 0.0) if p is not None and r is not None else None
    return quality
