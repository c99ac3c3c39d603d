"""The non-target sounds (ifdsed.soundbank.non_target): valid events in their duration ranges, deterministic,
varied, and named apart from the classes and the background kinds (a folder name is a Scaper label)."""
from __future__ import annotations

import numpy as np
import pytest

from ifdsed.config import BACKGROUND_KINDS, DCASE_CLASSES
from ifdsed.soundbank.dsp import PEAK_RANGE
from ifdsed.soundbank.non_target import NON_TARGET_DURATIONS, NON_TARGET_SYNTHESIZERS

SR = 16000
KINDS = list(NON_TARGET_SYNTHESIZERS)


@pytest.fixture(scope="module")
def sounds() -> dict[str, list[np.ndarray]]:
    return {kind: [synth(np.random.default_rng(seed), SR) for seed in range(6)]
            for kind, synth in NON_TARGET_SYNTHESIZERS.items()}


def test_kinds_are_the_issue_s_and_share_no_name_with_a_class_or_a_bed():
    assert set(KINDS) == set(NON_TARGET_DURATIONS) == {"door", "footsteps", "keyboard", "cupboard", "water_pipes",
                                                       "music"}
    assert not {name.lower() for name in KINDS} & {name.lower() for name in DCASE_CLASSES + BACKGROUND_KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_sound_is_valid_in_its_duration_range_deterministic_and_varied(sounds, kind):
    low, high = NON_TARGET_DURATIONS[kind]
    for x in sounds[kind]:
        assert x.dtype == np.float32 and x.ndim == 1 and np.all(np.isfinite(x))
        assert low * SR - 1 <= len(x) <= high * SR + 1, f"{kind}: {len(x) / SR:.2f} s outside {low}-{high} s"
        assert PEAK_RANGE[0] - 1e-6 <= np.max(np.abs(x)) <= PEAK_RANGE[1] + 1e-6
        assert np.sqrt(np.mean(x.astype(float) ** 2)) > 1e-3, f"{kind}: nearly silent"
    np.testing.assert_array_equal(NON_TARGET_SYNTHESIZERS[kind](np.random.default_rng(0), SR), sounds[kind][0])
    assert len({len(x) for x in sounds[kind]}) >= 4, f"{kind}: durations hardly vary"
