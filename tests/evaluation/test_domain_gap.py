"""The domain-gap probe (ifdsed.evaluation.domain_gap): all frames, event frames only, per class."""
import numpy as np
import pytest

from ifdsed.evaluation.domain_gap import MIN_FRAMES, TooFewFrames, domain_gap, domain_gap_metrics


def domains(n_clips=40, frames=50, dim=8, seed=0):
    """Two domains whose background frames come from one distribution and whose event frames (class 0, frames
    10-29 of every clip) differ in one dimension: the gap is in the event frames only. Class 1 has two frames."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((n_clips, frames, 2), np.uint8)
    labels[:, 10:30, 0] = 1
    labels[0, 10:12, 1] = 1                                  # class 1: 2 event frames of one clip, too few
    synthetic, real = rng.normal(size=(2, n_clips, frames, dim)).astype(np.float32)
    synthetic[:, 10:30, 0] += 4.0
    return synthetic, real, labels


def test_the_gap_shows_on_event_frames_and_is_diluted_on_all_frames():
    synthetic, real, labels = domains()
    metrics = domain_gap_metrics(synthetic, real, labels, labels, ["event", "rare"], seed=1)
    assert metrics["domain_gap_accuracy_events"] > 0.95          # event frames: fully separable
    assert metrics["domain_gap_accuracy_events/event"] == metrics["domain_gap_accuracy_events"]
    assert 0.55 < metrics["domain_gap_accuracy"] < 0.8          # 40 % of frames differ: a partial gap
    assert metrics["domain_gap_accuracy_events/rare"] is None   # too few frames to probe


def test_all_frames_probe_is_unchanged_by_the_masks_option():
    """The all-frames figure is the probe as it always was (same seed, same value), and a mask that selects every
    frame draws the same frames."""
    synthetic, real, labels = domains(seed=3)
    plain = domain_gap(synthetic, real, seed=2)["domain_gap_accuracy"]
    every = np.ones(labels.shape[:2], bool)
    assert domain_gap_metrics(synthetic, real, labels, labels, ["event", "rare"], seed=2)["domain_gap_accuracy"] == plain
    assert domain_gap(synthetic, real, seed=2, synthetic_frames=every, real_frames=every)["domain_gap_accuracy"] == plain


def test_too_few_selected_frames_are_refused():
    synthetic, real, labels = domains()
    few = np.zeros(labels.shape[:2], bool)
    few[:, 0] = True                                          # one frame per clip: 20 per half, below MIN_FRAMES
    assert 20 < MIN_FRAMES
    with pytest.raises(TooFewFrames):
        domain_gap(synthetic, real, seed=0, synthetic_frames=few, real_frames=few)
