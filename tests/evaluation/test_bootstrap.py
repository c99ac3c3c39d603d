"""Confidence intervals (ifdsed.evaluation.bootstrap): the event F1 rebuilt from sed_eval's per-file counts is
sed_eval's own figure, and the intervals are deterministic and ordered."""
import numpy as np
import pandas as pd
import pytest

from ifdsed.evaluation.bootstrap import event_f1_interval, event_f1_macro, psds1_interval
from ifdsed.evaluation.metrics import event_based, sed_scores_from_probs

CLASSES = ["Cat", "Dog", "Speech", "Blender"]


def event_tables(n_files=12, seed=0):
    """Truth and predictions over n_files 10 s clips: hits, shifted events, misses and false alarms; Blender is
    never in the truth and predicted once; Speech is in the truth and never predicted."""
    rng = np.random.default_rng(seed)
    truth, predicted = [], []
    for i in range(n_files):
        name = f"clip_{i}.wav"
        for label in ("Cat", "Dog", "Speech"):
            onset = float(rng.uniform(0, 8))
            truth.append((name, onset, onset + 1.0, label))
            if label != "Speech" and rng.random() < 0.7:
                shift = float(rng.choice([0.05, 0.6]))
                predicted.append((name, onset + shift, onset + 1.0 + shift, label))
        if i == 0:
            predicted.append((name, 2.0, 3.0, "Blender"))
    columns = ["filename", "onset", "offset", "event_label"]
    return pd.DataFrame(truth, columns=columns), pd.DataFrame(predicted, columns=columns)


def test_the_macro_f1_from_per_file_counts_is_sed_evals():
    truth, predicted = event_tables()
    counts = {}
    reported = event_based(truth, predicted, CLASSES, per_file_counts=counts)["event_f1_macro"]
    assert len(counts) == 12 and all(c.shape == (4, 3) for c in counts.values())
    assert event_f1_macro(counts)[0] == pytest.approx(reported, abs=1e-12)
    # the counts of one file alone are that file's evaluation
    alone = event_based(truth[truth.filename == "clip_3.wav"], predicted[predicted.filename == "clip_3.wav"],
                        CLASSES)["event_f1_macro"]
    assert event_f1_macro({"clip_3.wav": counts["clip_3.wav"]})[0] == pytest.approx(alone, abs=1e-12)


def test_event_f1_intervals_are_deterministic_and_ordered():
    truth, predicted = event_tables(n_files=20)
    counts = {}
    event_based(truth, predicted, CLASSES, per_file_counts=counts)
    low, high = event_f1_interval(counts, iterations=4)
    assert 0 <= low <= high <= 1 and (low, high) == event_f1_interval(counts, iterations=4)


def test_psds1_intervals_are_deterministic_and_undefined_with_one_class():
    truth, _ = event_tables(n_files=10)
    names = sorted(truth.filename.unique())
    rng = np.random.default_rng(1)
    probs = rng.random((len(names), 100, len(CLASSES))) * 0.5                     # [N, T, C], 0.1 s frames
    for i, name in enumerate(names):
        for row in truth[truth.filename == name].itertuples():
            probs[i, int(row.onset * 10):int(row.offset * 10), CLASSES.index(row.event_label)] += 0.5
    scores = sed_scores_from_probs(probs, names, 0.1, CLASSES)
    durations = {name: 10.0 for name in names}
    low, high = psds1_interval(scores, truth, durations, CLASSES, iterations=2)
    assert 0 <= low <= high <= 1 and (low, high) == psds1_interval(scores, truth, durations, CLASSES, iterations=2)
    only_cats = truth[truth.event_label == "Cat"]
    assert psds1_interval(scores, only_cats, durations, CLASSES, iterations=2) == (None, None)
