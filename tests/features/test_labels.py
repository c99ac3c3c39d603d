"""Labels as arrays (ifdsed.features.labels): strong frame labels and clip tags."""
import numpy as np
import pandas as pd
import pytest

from ifdsed.config import DCASE_CLASSES
from ifdsed.features.labels import clip_tags, frame_labels


def test_frame_labels_of_a_hand_made_table():
    hop, frames = 0.04, 250
    events = pd.DataFrame([
        ("a.wav", 0.10, 0.25, "Dog"),      # frames 2 (0.08-0.12) to 6 (0.24-0.28)
        ("a.wav", 0.12, 0.20, "Cat"),      # exact frame edges: frames 3 and 4 only
        ("a.wav", 0.16, 0.30, "Dog"),      # overlaps the first Dog event: union 2..7
        ("a.wav", 9.95, 10.07, "Speech"),  # past the clip end: clipped to the last frames
        ("b.wav", 0.0, 0.0, "Blender"),    # zero length: nothing
        ("c.wav", 0.0, 0.0, ""),           # DESED's "no event" row
    ], columns=["filename", "onset", "offset", "event_label"])
    labels = frame_labels(events, ["a.wav", "b.wav", "c.wav"], DCASE_CLASSES, frames, hop)
    assert labels.shape == (3, frames, len(DCASE_CLASSES)) and labels.dtype == np.uint8
    dog, cat, speech = (DCASE_CLASSES.index(name) for name in ("Dog", "Cat", "Speech"))
    assert np.flatnonzero(labels[0, :, dog]).tolist() == [2, 3, 4, 5, 6, 7]
    assert np.flatnonzero(labels[0, :, cat]).tolist() == [3, 4]
    assert np.flatnonzero(labels[0, :, speech]).tolist() == [248, 249]
    assert labels.sum() == 6 + 2 + 2
    assert not labels[1:].any()


def test_frame_labels_reject_unknown_labels_and_clips():
    table = pd.DataFrame([("a.wav", 0.0, 1.0, "Bird")], columns=["filename", "onset", "offset", "event_label"])
    with pytest.raises(ValueError, match="Bird"):
        frame_labels(table, ["a.wav"], DCASE_CLASSES, 250, 0.04)
    table["event_label"] = "Dog"
    with pytest.raises(ValueError, match="not in the clip list"):
        frame_labels(table, ["b.wav"], DCASE_CLASSES, 250, 0.04)


def test_clip_tags():
    tags = pd.DataFrame({"filename": ["b.wav", "a.wav"], "event_labels": ["Cat,Dog", ""]})
    out = clip_tags(tags, ["a.wav", "b.wav"], DCASE_CLASSES)
    assert out.dtype == np.uint8 and out.shape == (2, 10)
    assert out[0].sum() == 0 and np.flatnonzero(out[1]).tolist() == [2, 4]
