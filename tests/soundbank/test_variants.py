"""The extra source kinds of Cat, Dishes and Running_water (ifdsed.soundbank.variants): valid, deterministic,
varied clips in the class's duration range, and each kind distinct from the class's first synthesizer."""
from __future__ import annotations

import numpy as np
import pytest

from ifdsed.soundbank.synthesizers import CLASS_DURATIONS, CLASS_SYNTHESIZERS
from ifdsed.soundbank.variants import CLASS_VARIANTS

SR = 16000
SEEDS = range(5)
KINDS = [(label, kind) for label, kinds in CLASS_VARIANTS.items() for kind in kinds]


@pytest.fixture(scope="module")
def clips() -> dict[tuple[str, str], list[np.ndarray]]:
    return {(label, kind): [CLASS_VARIANTS[label][kind](np.random.default_rng(seed), SR) for seed in SEEDS]
            for label, kind in KINDS}


def _band_energies(x: np.ndarray) -> np.ndarray:
    """Share of the clip's energy in 8 octave-ish bands from 62 Hz to 8 kHz."""
    power = np.abs(np.fft.rfft(x.astype(float))) ** 2
    freq = np.fft.rfftfreq(len(x), 1 / SR)
    edges = np.geomspace(62.5, 8000, 9)
    bands = np.array([power[(freq >= lo) & (freq < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])
    return bands / bands.sum()


def test_only_dcase_classes_have_variants():
    assert set(CLASS_VARIANTS) <= set(CLASS_SYNTHESIZERS)
    assert all(len(kinds) >= 3 for kinds in CLASS_VARIANTS.values())


@pytest.mark.parametrize("label,kind", KINDS)
def test_variant_output_is_valid(clips, label, kind):
    low, high = CLASS_DURATIONS[label]
    for x in clips[label, kind]:
        assert x.dtype == np.float32 and x.ndim == 1 and np.all(np.isfinite(x))
        assert low * SR - 1 <= len(x) <= high * SR + 1, f"{kind}: {len(x) / SR:.3f} s outside {low}-{high} s"
        assert 0.5 <= np.max(np.abs(x)) <= 0.9
        assert np.sqrt(np.mean(x.astype(float) ** 2)) > 1e-2, f"{kind}: nearly silent"


@pytest.mark.parametrize("label,kind", KINDS)
def test_variant_is_deterministic_and_varied(clips, label, kind):
    again = CLASS_VARIANTS[label][kind](np.random.default_rng(0), SR)
    np.testing.assert_array_equal(again, clips[label, kind][0])
    profiles = np.stack([_band_energies(x) for x in clips[label, kind]])
    assert np.abs(profiles - profiles.mean(0)).sum(1).mean() > 0.02, f"{kind}: every clip has the same spectrum"
    assert len({x.tobytes() for x in clips[label, kind]}) == len(SEEDS)


@pytest.mark.parametrize("label,kind", KINDS)
def test_variant_differs_from_the_first_synthesizer(clips, label, kind):
    """The kind's mean band profile is not the first synthesizer's: it adds a different sound, not a copy."""
    first = np.stack([_band_energies(CLASS_SYNTHESIZERS[label](np.random.default_rng(seed), SR)) for seed in SEEDS])
    ours = np.stack([_band_energies(x) for x in clips[label, kind]])
    assert np.abs(ours.mean(0) - first.mean(0)).sum() > 0.1


def test_filling_rises_in_pitch():
    """A container filling: the air column's resonance climbs, so the spectral peak of the last second is above
    that of the first."""
    from ifdsed.soundbank.variants import filling
    freq = np.fft.rfftfreq(SR, 1 / SR)
    for seed in SEEDS:
        x = filling(np.random.default_rng(seed), SR).astype(float)
        peaks = []
        for part in (x[:SR], x[-SR:]):
            power = np.convolve(np.abs(np.fft.rfft(part)) ** 2, np.ones(50) / 50, mode="same")   # 50 Hz smoothing
            peaks.append(float(freq[np.argmax(power)]))
        assert peaks[1] > 1.3 * peaks[0], peaks
