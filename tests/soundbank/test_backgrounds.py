"""The background beds (ifdsed.soundbank.backgrounds): every kind at its level, deterministic and varied; the
quiet floors stationary and well below the events, the loud sources loud and, where they should be, changing."""
from __future__ import annotations

import numpy as np
import pytest

from ifdsed.config import BACKGROUND_KINDS
from ifdsed.soundbank.backgrounds import (BACKGROUND_LEVELS_DB, BACKGROUND_SYNTHESIZERS, PEAK_LIMIT, QUIET_KINDS,
                                          QUIET_ROOM_DB)
from ifdsed.soundbank.synthesizers import CLASS_SYNTHESIZERS

SR = 16000
QUIET = QUIET_KINDS
LOUD = ("fan", "washing_machine", "traffic", "rain", "babble", "exercise_machine")
CHANGING = ("washing_machine", "traffic", "exercise_machine")   # level swings within a clip


def frame_rms_db(x: np.ndarray, frame: int) -> np.ndarray:
    frames = x[: len(x) // frame * frame].reshape(-1, frame).astype(float)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)


@pytest.fixture(scope="module")
def beds() -> dict[str, list[np.ndarray]]:
    """Four 6 s beds per kind (seeds 0-3)."""
    return {kind: [synth(np.random.default_rng(seed), SR, 6.0) for seed in range(4)]
            for kind, synth in BACKGROUND_SYNTHESIZERS.items()}


def test_the_kinds_params_yaml_accepts_are_the_kinds_there_are():
    assert tuple(BACKGROUND_SYNTHESIZERS) == BACKGROUND_KINDS == QUIET + LOUD
    assert set(BACKGROUND_LEVELS_DB) == set(BACKGROUND_KINDS)


@pytest.mark.parametrize("kind", BACKGROUND_KINDS)
def test_bed_is_valid_at_its_kinds_level_deterministic_and_varied(beds, kind):
    low, high = BACKGROUND_LEVELS_DB[kind]
    for seed, bed in enumerate(beds[kind]):
        assert bed.dtype == np.float32 and bed.shape == (6 * SR,) and np.all(np.isfinite(bed))
        assert 0 < np.max(np.abs(bed)) <= PEAK_LIMIT + 1e-6
        level = 10 * np.log10(np.mean(bed.astype(float) ** 2))
        limited = np.max(np.abs(bed)) >= PEAK_LIMIT - 1e-6     # a peak-limited bed may come out quieter
        assert (low - 0.1 if not limited else -80) <= level <= high + 0.1, f"{kind} seed {seed}: {level:.1f} dBFS"
    again = BACKGROUND_SYNTHESIZERS[kind](np.random.default_rng(0), SR, 6.0)
    np.testing.assert_array_equal(again, beds[kind][0])
    assert not np.array_equal(beds[kind][0], beds[kind][1])
    assert len(BACKGROUND_SYNTHESIZERS[kind](np.random.default_rng(0), SR, 2.5)) == int(2.5 * SR)


@pytest.mark.parametrize("kind", QUIET)
def test_quiet_floors_are_stationary_and_far_below_the_events(beds, kind):
    quietest_event_peak_frame = min(np.max(frame_rms_db(synth(np.random.default_rng(seed), SR), SR // 10))
                                    for synth in CLASS_SYNTHESIZERS.values() for seed in (0, 1))
    for bed in beds[kind][:2]:
        assert np.max(np.abs(bed)) < 0.15
        assert np.max(frame_rms_db(bed, SR // 10)) < quietest_event_peak_frame - 6
        levels = frame_rms_db(bed[SR // 10: -SR // 10], SR // 2)   # half-second frames, fades excluded
        assert np.ptp(levels) < 6.0, f"{kind}: level swings {np.ptp(levels):.1f} dB"


@pytest.mark.parametrize("kind", LOUD)
def test_loud_sources_reach_levels_no_quiet_floor_has(kind):
    assert BACKGROUND_LEVELS_DB[kind][1] >= max(BACKGROUND_LEVELS_DB[quiet][1] for quiet in QUIET) + 8
    assert BACKGROUND_LEVELS_DB[kind][1] > QUIET_ROOM_DB > max(BACKGROUND_LEVELS_DB[quiet][0] for quiet in QUIET)


@pytest.mark.parametrize("kind", CHANGING)
def test_changing_sources_swing_within_a_clip(beds, kind):
    swings = [np.ptp(frame_rms_db(bed[SR // 10: -SR // 10], SR // 4)) for bed in beds[kind]]
    assert max(swings) > 3.0, f"{kind}: level swings only {np.round(swings, 1)} dB"
