"""The acoustic chain that makes the simulated real-world domain sound recorded rather than mixed.

A clip mixed by Scaper goes through, in order: a room (a synthetic impulse response with exponential decay
of reverberation time rt60, mixed with the direct path at direct_to_reverb_db), a consumer microphone (a
high-pass, a resonant presence peak and a low-pass roll-off, drawn from mic_highpass_hz, mic_presence_db and
mic_lowpass), a compressor (the automatic gain control of a phone or camera, ratio drawn from `compression`), a
recording level (RMS drawn from level_db) and a sensor noise floor (pinkish noise at noise_floor_db). Every draw
comes from the clip's own generator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from ifdsed.config import RealworldParams


@dataclass(frozen=True)
class RecordingConditions:
    """One clip's room, microphone and recorder, drawn by `draw_conditions`."""
    rt60: float               # s
    direct_to_reverb_db: float
    highpass_hz: float
    presence_hz: float
    presence_gain_db: float
    lowpass_fraction: float   # of the Nyquist frequency
    compression_ratio: float
    level_db: float           # dBFS RMS
    noise_floor_db: float     # dBFS RMS


def draw_conditions(rng: np.random.Generator, params: RealworldParams) -> RecordingConditions:
    return RecordingConditions(
        rt60=float(rng.uniform(*params.rt60)),
        direct_to_reverb_db=float(rng.uniform(*params.direct_to_reverb_db)),
        highpass_hz=float(rng.uniform(*params.mic_highpass_hz)),
        presence_hz=float(rng.uniform(1500, 5000)),
        presence_gain_db=float(rng.uniform(*params.mic_presence_db)),
        lowpass_fraction=float(rng.uniform(*params.mic_lowpass)),
        compression_ratio=float(rng.uniform(*params.compression)),
        level_db=float(rng.uniform(*params.level_db)),
        noise_floor_db=float(rng.uniform(*params.noise_floor_db)),
    )


def room_impulse_response(rng: np.random.Generator, sample_rate: int, rt60: float,
                          direct_to_reverb_db: float) -> np.ndarray:
    """A unit direct path followed, after a short pre-delay, by decaying noise (-60 dB at rt60)."""
    length = int(rt60 * sample_rate)
    time = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.exp(-6.9078 * time / rt60)  # ln(1000) = 6.9078: -60 dB at rt60
    tail[: int(0.003 * sample_rate)] = 0.0                               # 3 ms pre-delay
    tail *= 10 ** (-direct_to_reverb_db / 20) / max(np.sqrt(np.sum(tail**2)), 1e-12)
    tail[0] += 1.0
    return tail


def _peaking_filter(sample_rate: int, centre_hz: float, gain_db: float, q: float = 1.5) -> np.ndarray:
    """A peaking biquad (Audio EQ Cookbook form) as second-order sections."""
    amplitude = 10 ** (gain_db / 40)
    omega = 2 * np.pi * centre_hz / sample_rate
    alpha = np.sin(omega) / (2 * q)
    b = np.array([1 + alpha * amplitude, -2 * np.cos(omega), 1 - alpha * amplitude])
    a = np.array([1 + alpha / amplitude, -2 * np.cos(omega), 1 - alpha / amplitude])
    return np.concatenate([b / a[0], a / a[0]])[None, :]


def microphone_filter(sample_rate: int, conditions: RecordingConditions) -> np.ndarray:
    """Second-order sections of the microphone's colouring."""
    highpass = signal.butter(2, conditions.highpass_hz, "highpass", fs=sample_rate, output="sos")
    lowpass = signal.butter(4, conditions.lowpass_fraction * sample_rate / 2, "lowpass", fs=sample_rate,
                            output="sos")
    presence = _peaking_filter(sample_rate, min(conditions.presence_hz, 0.4 * sample_rate),
                               conditions.presence_gain_db)
    return np.concatenate([highpass, presence, lowpass])


def compress(audio: np.ndarray, sample_rate: int, ratio: float, threshold_below_peak_db: float = 12.0,
             smoothing_s: float = 0.02) -> np.ndarray:
    """Feed-forward compressor on a smoothed amplitude envelope (vectorised; no per-sample loop)."""
    if ratio <= 1.0:
        return audio
    pole = np.exp(-1.0 / (smoothing_s * sample_rate))
    envelope = signal.lfilter([1 - pole], [1, -pole], np.abs(audio)) + 1e-9     # [samples]
    threshold = envelope.max() * 10 ** (-threshold_below_peak_db / 20)
    over = np.maximum(envelope / threshold, 1.0)
    return audio * over ** (1.0 / ratio - 1.0)


def rms_db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(audio**2) + 1e-20))


def record(audio: np.ndarray, sample_rate: int, rng: np.random.Generator,
           params: RealworldParams) -> np.ndarray:
    """Pass a dry mix [samples] through room, microphone, compressor, level and noise floor."""
    conditions = draw_conditions(rng, params)
    rir = room_impulse_response(rng, sample_rate, conditions.rt60, conditions.direct_to_reverb_db)
    wet = signal.fftconvolve(audio, rir)[: len(audio)]
    coloured = signal.sosfilt(microphone_filter(sample_rate, conditions), wet)
    squashed = compress(coloured, sample_rate, conditions.compression_ratio)
    levelled = squashed * 10 ** ((conditions.level_db - rms_db(squashed)) / 20)
    pink = signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal(len(audio)))  # 1st-order pinkish noise
    noise = pink * 10 ** ((conditions.noise_floor_db - rms_db(pink)) / 20)
    return np.tanh(levelled + noise)  # soft clipping, as a saturating recorder would


def record_with_seed(audio: np.ndarray, seed: int, sample_rate: int, params: RealworldParams) -> np.ndarray:
    """`record` with a generator made from an integer seed (what a render worker receives)."""
    return record(audio, sample_rate, np.random.default_rng([seed, 1]), params)
