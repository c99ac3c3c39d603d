"""The per-epoch model selection score on the validation set."""
from __future__ import annotations

import numpy as np


def selection_score(frame_probs: np.ndarray, clip_probs: np.ndarray, frame_labels: np.ndarray,
                    threshold: float = 0.5) -> float:
    """Frame-level macro F1 of tag-gated decisions (p_t,c > 0.5 where P_c > 0.5): a fast stand-in for event F1
    used to pick the best epoch. frame_probs, frame_labels [N, T, C]; clip_probs [N, C]."""
    decisions = (frame_probs > threshold) & (clip_probs[:, None, :] > threshold)          # [N, T, C]
    truth = frame_labels.astype(bool)
    true_pos = (decisions & truth).sum(axis=(0, 1))                                        # [C]
    denominator = decisions.sum(axis=(0, 1)) + truth.sum(axis=(0, 1))                      # [C]
    f1 = np.where(denominator > 0, 2 * true_pos / np.maximum(denominator, 1), 0.0)
    return float(f1.mean())
