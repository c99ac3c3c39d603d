"""The pseudo labels' quality against hidden truth (ifdsed.evaluation.pseudo_labels), on hand-built arrays."""
import numpy as np
import pytest

from ifdsed.evaluation.pseudo_labels import pseudo_label_quality


def test_precision_recall_and_share_count_cells_of_the_seen_clips():
    pseudo = np.zeros((3, 4, 2), bool)
    truth = np.zeros((3, 4, 2), np.uint8)
    truth[0, 0:2, 0] = 1                 # clip 0: class 0 in frames 0-1
    pseudo[0, 1:3, 0] = True             # pseudo: frames 1-2: one hit, one false alarm, one miss
    truth[1, :, 1] = 1                   # clip 1: class 1 in every frame
    pseudo[1, :, 1] = True               # all four hit
    pseudo[2, :, :] = True               # clip 2 never drawn: ignored
    seen = np.array([True, True, False])
    quality = pseudo_label_quality(pseudo, seen, truth)
    assert quality["precision"] == pytest.approx(5 / 6)      # 5 hits of 6 pseudo-labelled cells
    assert quality["recall"] == pytest.approx(5 / 6)         # 5 hits of 6 true cells
    assert quality["f1"] == pytest.approx(5 / 6)
    assert quality["share"] == pytest.approx(6 / 8)          # frames with any pseudo label, of the 8 seen
    assert quality["truth_share"] == pytest.approx(6 / 8)


def test_undefined_figures_are_none_not_zero():
    pseudo, truth = np.zeros((2, 3, 2), bool), np.zeros((2, 3, 2), np.uint8)
    quality = pseudo_label_quality(pseudo, np.array([True, True]), truth)
    assert quality["share"] == 0.0 and quality["precision"] is None and quality["recall"] is None
    # without hidden timestamps (a real DCASE weak set) only the share is known
    pseudo[0, 0, 0] = True
    quality = pseudo_label_quality(pseudo, np.array([True, True]), None)
    assert quality["share"] == pytest.approx(1 / 6) and quality["precision"] is None and quality["truth_share"] is None
    # no clip seen: nothing to report
    assert pseudo_label_quality(pseudo, np.array([False, False]), truth)["share"] is None


def test_mismatched_shapes_are_an_error():
    with pytest.raises(ValueError, match="do not match"):
        pseudo_label_quality(np.zeros((2, 3, 2), bool), np.ones(2, bool), np.zeros((2, 4, 2)))
