"""The real-world acoustic chain: level, noise floor, reverberation, bounds and determinism."""
import numpy as np
import pytest

from ifdsed.scenes.acoustics import compress, record, rms_db, room_impulse_response
from ifdsed.config import RealworldParams

SR = 16000


def burst(seconds=10.0):
    """A dry test signal: a 0.2 s noise burst every 2 s."""
    rng = np.random.default_rng(0)
    audio = np.zeros(int(seconds * SR))
    for start in range(0, len(audio), 2 * SR):
        audio[start:start + SR // 5] = 0.3 * rng.standard_normal(SR // 5)
    return audio


def test_output_is_bounded_finite_and_at_the_drawn_level():
    params = RealworldParams(level_db=(-25.0, -25.0), noise_floor_db=(-90.0, -90.0))
    out = record(burst(), SR, np.random.default_rng(1), params)
    assert out.shape == (10 * SR,) and np.isfinite(out).all()
    assert np.abs(out).max() < 1.0
    assert rms_db(out) == pytest.approx(-25.0, abs=0.5)


def test_noise_floor_is_at_its_level_in_silence():
    params = RealworldParams(noise_floor_db=(-50.0, -50.0), level_db=(-20.0, -20.0))
    out = record(np.zeros(10 * SR), SR, np.random.default_rng(2), params)
    assert rms_db(out) == pytest.approx(-50.0, abs=1.0)


def test_reverberation_decays_at_rt60():
    rt60 = 0.6
    rir = room_impulse_response(np.random.default_rng(3), SR, rt60, direct_to_reverb_db=0.0)
    tail = rir[int(0.01 * SR):] ** 2
    energy = 10 * np.log10(np.cumsum(tail[::-1])[::-1] + 1e-20)  # Schroeder backward integration
    t20 = np.argmax(energy < energy[0] - 25) - np.argmax(energy < energy[0] - 5)
    assert 3 * t20 / SR == pytest.approx(rt60, rel=0.2)
    assert rir[0] == pytest.approx(1.0, abs=0.1)


def test_reverb_spreads_energy_into_the_gaps():
    params = RealworldParams(rt60=(0.8, 0.8), direct_to_reverb_db=(-3.0, -3.0), noise_floor_db=(-90.0, -90.0),
                             compression=(1.0, 1.0))
    dry = burst()
    wet = record(dry, SR, np.random.default_rng(4), params)
    gap = slice(int(0.3 * SR), int(0.6 * SR))  # 0.1-0.4 s after the first burst ends
    assert rms_db(wet[gap]) > rms_db(wet[: SR // 5]) - 40


def test_compressor_narrows_the_gap_between_loud_and_quiet_parts():
    time = np.arange(2 * SR) / SR
    audio = np.sin(2 * np.pi * 440 * time) * np.where(time < 1.0, 0.5, 0.05)  # loud second, quiet second
    squashed = compress(audio, SR, ratio=4.0, threshold_below_peak_db=12.0)
    loud, quiet = slice(SR // 2, SR), slice(3 * SR // 2, 2 * SR)
    gap_before = rms_db(audio[loud]) - rms_db(audio[quiet])      # 20 dB
    gap_after = rms_db(squashed[loud]) - rms_db(squashed[quiet])
    assert gap_before == pytest.approx(20.0, abs=0.1)
    assert gap_after == pytest.approx(20.0 - 12.0 * (1 - 1 / 4), abs=1.0)  # 12 dB above threshold at 4:1
    assert compress(audio, SR, ratio=1.0) is audio


def test_same_generator_same_recording():
    params = RealworldParams()
    first = record(burst(), SR, np.random.default_rng(5), params)
    again = record(burst(), SR, np.random.default_rng(5), params)
    other = record(burst(), SR, np.random.default_rng(6), params)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_microphone_draws_come_from_the_params():
    from ifdsed.scenes.acoustics import draw_conditions
    params = RealworldParams(mic_highpass_hz=(40.0, 50.0), mic_presence_db=(-6.0, -5.0), mic_lowpass=(0.3, 0.31))
    for seed in range(20):
        conditions = draw_conditions(np.random.default_rng(seed), params)
        assert 40.0 <= conditions.highpass_hz <= 50.0
        assert -6.0 <= conditions.presence_gain_db <= -5.0
        assert 0.3 <= conditions.lowpass_fraction <= 0.31
