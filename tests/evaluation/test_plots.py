"""Piano rolls (ifdsed.evaluation.plots): the frame probabilities of every class under the events, on the log-mel's
time axis, and `ifdsed predict --plots` draws them from a Prediction."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ifdsed.evaluation import plots
from ifdsed.inference.files import Prediction

CLASSES = ("Dog", "Cat", "Speech")
HOP, FRAMES = 0.04, 50


def inputs() -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """log_mel [T, 8], one Cat event, frame_probs [T, C] with a ramp on Cat."""
    rng = np.random.default_rng(0)
    log_mel = rng.normal(-6, 2, (FRAMES, 8)).astype(np.float32)
    events = pd.DataFrame({"filename": ["a.wav"], "onset": [0.4], "offset": [1.2], "event_label": ["Cat"]})
    probs = np.zeros((FRAMES, len(CLASSES)), np.float32)
    probs[:, 1] = np.linspace(0, 1, FRAMES)
    return log_mel, events, probs


def panels(figure) -> dict[str, object]:
    """The figure's panels by their y label (the colour bar has none)."""
    return {axis.get_ylabel(): axis for axis in figure.axes if axis.get_ylabel()}


def test_the_frame_probabilities_sit_under_the_events_on_the_same_time_axis():
    log_mel, events, probs = inputs()
    figure = plots.piano_roll_figure(log_mel, HOP, CLASSES, {"predicted": events}, "a.wav", probs)
    found = panels(figure)
    assert list(found) == ["mel band", "predicted", "frame probability"]
    heat = found["frame probability"].images[0]
    np.testing.assert_array_equal(heat.get_array(), probs.T)                 # one row per class, in class order
    assert heat.get_clim() == (0.0, 1.0)
    assert tuple(heat.get_extent()[:2]) == tuple(found["mel band"].images[0].get_extent()[:2]) == (0, FRAMES * HOP)
    assert [t.get_text() for t in found["frame probability"].get_yticklabels()] == list(CLASSES)
    boxes = [axis.get_position() for axis in found.values()]                   # the panels are as wide as each other
    assert {(round(b.x0, 6), round(b.x1, 6)) for b in boxes} == {(round(boxes[0].x0, 6), round(boxes[0].x1, 6))}
    plots.plt.close(figure)

    plain = plots.piano_roll_figure(log_mel, HOP, CLASSES, {"truth": events, "predicted": events}, "a.wav")
    assert list(panels(plain)) == ["mel band", "truth", "predicted"]          # evaluation's form, unchanged
    plots.plt.close(plain)
    with pytest.raises(ValueError, match="frame probabilities of shape"):
        plots.piano_roll_figure(log_mel, HOP, CLASSES, {}, "a.wav", probs[:-1])


def test_a_predictions_plot_holds_its_frame_probabilities(tmp_path, monkeypatch):
    log_mel, events, probs = inputs()
    result = Prediction("a.wav", Path("a.wav"), duration=FRAMES * HOP, events=events, frame_probs=probs,
                        log_mel=log_mel)
    drawn = {}
    real_save = plots._save

    def keep(figure, path):
        drawn["panels"] = {label: axis.images[0].get_array().copy() if axis.images else None
                           for label, axis in panels(figure).items()}
        return real_save(figure, path)

    monkeypatch.setattr(plots, "_save", keep)
    path = plots.plot_prediction(result, CLASSES, HOP, tmp_path / "a.wav.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(drawn["panels"]) == ["mel band", "predicted", "frame probability"]
    np.testing.assert_array_equal(drawn["panels"]["frame probability"], probs.T)
