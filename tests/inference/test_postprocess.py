"""Post-processing: tag gating, per-class median filtering, run-length to events, median windows from labels."""
import numpy as np
import pandas as pd
import pytest

from ifdsed.inference.postprocess import (clip_tags, decisions_to_events, detect_events, gated_decisions,
                                median_filter_decisions, median_windows_from_labels, tags_table)
from ifdsed.io.tables import EVENT_COLUMNS


def test_gating_zeroes_untagged_classes_and_thresholds_strictly():
    frame_probs = np.array([[[0.9, 0.9], [0.5, 0.6], [0.51, 0.2]]])            # [1 clip, 3 frames, 2 classes]
    clip_probs = np.array([[0.8, 0.5]])                                         # B: 0.5 is not > 0.5
    assert clip_tags(clip_probs).tolist() == [[True, False]]
    decisions = gated_decisions(frame_probs, clip_probs)
    assert decisions[0, :, 0].tolist() == [True, False, True]                   # 0.5 is not > 0.5
    assert not decisions[0, :, 1].any()                                         # untagged class: all zero
    lower = gated_decisions(frame_probs, clip_probs, threshold=0.4, tag_threshold=0.4)
    assert lower[0, :, 1].tolist() == [True, True, False]
    with pytest.raises(ValueError):
        gated_decisions(frame_probs, clip_probs[:, :1])


def test_median_filter_per_class_windows():
    row = [0, 1, 0, 0, 1, 1, 1, 0, 1, 1]
    decisions = np.zeros((2, 10, 2), dtype=bool)
    decisions[0, :, 0] = row
    decisions[0, :, 1] = row
    decisions[1, :, 0] = [0] * 10                                                # clips must not leak
    filtered = median_filter_decisions(decisions, [3, 1])
    # window 3, edges repeated: the lone 1 at frame 1 goes, the gap at frame 7 is filled, edges kept
    assert filtered[0, :, 0].astype(int).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert filtered[0, :, 1].astype(int).tolist() == row                        # window 1: unchanged
    assert not filtered[1].any()
    wide = median_filter_decisions(decisions[:1], [5, 1])
    assert wide[0, :, 0].astype(int).tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    with pytest.raises(ValueError):
        median_filter_decisions(decisions, [3])
    with pytest.raises(ValueError):
        median_filter_decisions(decisions, [0, 1])


def test_decisions_to_events_exact_times():
    decisions = np.zeros((2, 6, 2), dtype=bool)
    decisions[0, :, 0] = [1, 1, 0, 0, 1, 1]                                     # touches both clip edges
    decisions[0, :, 1] = [0, 1, 1, 1, 0, 0]
    decisions[1, :, 1] = [1, 0, 1, 0, 1, 0]                                     # single frames
    events = decisions_to_events(decisions, ["x.wav", "a.wav"], ["Cat", "Dog"], frame_hop=0.04)
    assert list(events.columns) == EVENT_COLUMNS
    assert events.values.tolist() == [
        ["a.wav", 0.0, 0.04, "Dog"], ["a.wav", 0.08, 0.12, "Dog"], ["a.wav", 0.16, 0.2, "Dog"],
        ["x.wav", 0.0, 0.08, "Cat"], ["x.wav", 0.04, 0.16, "Dog"], ["x.wav", 0.16, 0.24, "Cat"],
    ]
    empty = decisions_to_events(np.zeros((1, 4, 2), dtype=bool), ["e.wav"], ["Cat", "Dog"], 0.04)
    assert empty.empty and list(empty.columns) == EVENT_COLUMNS


def test_detect_events_whole_chain():
    frame_probs = np.zeros((1, 10, 2))
    frame_probs[0, 2:8, 0] = 0.9
    frame_probs[0, 4, 0] = 0.1                                                  # a one-frame dip
    frame_probs[0, 0:5, 1] = 0.9                                                # class B, not tagged
    clip_probs = np.array([[0.9, 0.1]])
    events = detect_events(frame_probs, clip_probs, ["c.wav"], ["A", "B"], frame_hop=0.5, windows=[3, 3])
    assert events.values.tolist() == [["c.wav", 1.0, 4.0, "A"]]
    tags = tags_table(np.array([[0.9, 0.1], [0.6, 0.7], [0.0, 0.0]]), ["a", "b", "c"], ["Dog", "Cat"])
    assert tags["event_labels"].tolist() == ["Dog", "Cat,Dog", ""]


def test_median_windows_from_training_labels():
    events = pd.DataFrame({
        "filename": ["s1", "s1", "s2", "s3", "s4"],
        "onset": [0.0, 1.0, 2.0, 0.0, np.nan],
        "offset": [1.2, 3.4, 5.6, 0.36, np.nan],
        "event_label": ["A", "A", "A", "B", ""],                                 # a no-event row is ignored
    })
    # A: median 2.4 s -> 0.8 s / 0.04 = 20 frames -> odd 21;  B: 0.36 s -> 0.12 s -> 3 frames;
    # C: no training event -> median of all events (1.2, 2.4, 3.6, 0.36 -> 1.8 s) -> 0.6 s -> 15 frames
    windows = median_windows_from_labels(events, ["A", "B", "C"], frame_hop=0.04)
    assert windows.tolist() == [21, 3, 15]
    capped = median_windows_from_labels(events, ["A", "B", "C"], frame_hop=0.04, min_frames=5, max_frames=16)
    assert capped.tolist() == [15, 5, 15]
    nothing = median_windows_from_labels(events.iloc[4:], ["A", "B"], frame_hop=0.04, min_frames=3)
    assert nothing.tolist() == [3, 3]
    assert (median_windows_from_labels(events, ["A"], frame_hop=0.04, fraction=0.01) == 1).all()
