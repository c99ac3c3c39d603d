"""The procedural synthesizers of the ten classes (ifdsed.soundbank.synthesizers): valid, deterministic, varied and
distinct clips per class."""
from __future__ import annotations

import numpy as np
import pytest

from ifdsed.soundbank.synthesizers import CLASS_DURATIONS, CLASS_SYNTHESIZERS

SR = 16000
SEEDS = range(6)
CLASSES = list(CLASS_SYNTHESIZERS)


@pytest.fixture(scope="module")
def clips() -> dict[str, list[np.ndarray]]:
    """Six clips per class (seeds 0-5), made once for all the synthesizer tests."""
    return {label: [CLASS_SYNTHESIZERS[label](np.random.default_rng(seed), SR) for seed in SEEDS]
            for label in CLASSES}


def _centroid(x: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    return float(np.sum(power * np.fft.rfftfreq(len(x), 1 / SR)) / np.sum(power))


def _band_profile(x: np.ndarray) -> np.ndarray:
    """A crude timbre feature: mean log energy in 12 log-spaced bands (level removed), plus loudness spread."""
    frames = np.lib.stride_tricks.sliding_window_view(x, 1024)[::512] * np.hanning(1024)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freq = np.fft.rfftfreq(1024, 1 / SR)
    edges = np.geomspace(100, 7000, 13)
    bands = np.log(np.stack([power[:, (freq >= lo) & (freq < hi)].sum(1).mean() for lo, hi in
                             zip(edges[:-1], edges[1:])]) + 1e-12)
    return np.append(bands - bands.mean(), 0.5 * np.std(np.log(power.sum(1) + 1e-12)))


def test_every_dcase_class_has_a_synthesizer_and_a_duration_range():
    from ifdsed.config import DCASE_CLASSES
    assert set(CLASS_SYNTHESIZERS) == set(DCASE_CLASSES) == set(CLASS_DURATIONS)


@pytest.mark.parametrize("label", CLASSES)
def test_synthesizer_output_is_valid(clips, label):
    low, high = CLASS_DURATIONS[label]
    for x in clips[label]:
        assert x.dtype == np.float32 and x.ndim == 1
        assert np.all(np.isfinite(x))
        assert low * SR - 1 <= len(x) <= high * SR + 1, f"{label}: {len(x) / SR:.3f} s outside {low}-{high} s"
        assert 0.4 <= np.max(np.abs(x)) <= 0.9
        assert np.sqrt(np.mean(x.astype(float) ** 2)) > 1e-3, f"{label}: nearly silent"


@pytest.mark.parametrize("label", CLASSES)
def test_synthesizer_is_deterministic_and_varied(clips, label):
    again = CLASS_SYNTHESIZERS[label](np.random.default_rng(0), SR)
    np.testing.assert_array_equal(again, clips[label][0])
    durations = {len(x) for x in clips[label]}
    centroids = np.array([_centroid(x) for x in clips[label]])
    assert len(durations) >= 4, f"{label}: durations hardly vary"
    assert np.std(centroids) > 0.03 * np.mean(centroids), f"{label}: timbre hardly varies ({centroids.round()})"


def test_short_events_are_shorter_than_long_ones(clips):
    mean_duration = {label: np.mean([len(x) / SR for x in clips[label]]) for label in CLASSES}
    short = ["Dog", "Cat", "Dishes", "Speech"]
    long_ = ["Blender", "Vacuum_cleaner", "Frying", "Running_water", "Electric_shaver_toothbrush"]
    assert max(mean_duration[label] for label in short) < min(mean_duration[label] for label in long_)


def test_classes_are_distinct(clips):
    """Frying is brighter than voices; a nearest-mean classifier on band energies beats chance by far."""
    centroid = {label: np.median([_centroid(x) for x in clips[label]]) for label in CLASSES}
    for voice in ("Dog", "Cat", "Speech"):
        assert centroid["Frying"] > 2 * centroid[voice]
    assert centroid["Dishes"] > centroid["Speech"]

    means = {label: np.mean([_band_profile(x) for x in clips[label]], axis=0) for label in CLASSES}
    correct = 0
    for label in CLASSES:
        for seed in (100, 101, 102):                          # clips the class means never saw
            feature = _band_profile(CLASS_SYNTHESIZERS[label](np.random.default_rng(seed), SR))
            correct += min(CLASSES, key=lambda other: np.sum((means[other] - feature) ** 2)) == label
    assert correct / (3 * len(CLASSES)) >= 0.5               # chance: 0.1
