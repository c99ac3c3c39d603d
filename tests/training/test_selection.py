"""The per-epoch model selection score (ifdsed.training.selection)."""
import numpy as np
import pytest

from ifdsed.training.selection import selection_score


def test_selection_score_is_frame_f1_of_gated_decisions():
    labels = np.zeros((1, 4, 2), np.uint8)
    labels[0, :2, 0] = 1
    frame_probs = np.full((1, 4, 2), 0.9)
    clip_probs = np.array([[0.9, 0.1]])  # class 1 not tagged: its frames are gated off
    # class 0: TP 2, FP 2 -> F1 2/3; class 1: nothing true, nothing predicted -> 0
    assert selection_score(frame_probs, clip_probs, labels) == pytest.approx((2 / 3 + 0) / 2)
