"""Small DSP building blocks of the procedural sound bank: noises, filters, envelopes, oscillators.

Every function takes its randomness from a numpy Generator passed in, and works on whole signals at once (the
only Python loops run over harmonics or chunks of events, never over samples).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import fft, signal

PEAK_RANGE = (0.5, 0.89)          # peak of every foreground event (16-bit safe, below 0.9)
TWO_PI = 2.0 * np.pi


def seconds_to_samples(sr: int, seconds: float) -> int:
    return max(1, int(round(seconds * sr)))


def draw_samples(rng: np.random.Generator, sr: int, seconds: tuple[float, float]) -> int:
    """A duration in samples, uniform over the range `seconds` (low, high), kept inside it."""
    low, high = seconds
    return min(max(seconds_to_samples(sr, rng.uniform(low, high)), int(np.ceil(low * sr))), int(high * sr))


def log_uniform(rng: np.random.Generator, low: float, high: float, size=None):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def below_nyquist(sr: int, hz: float) -> float:
    return min(float(hz), 0.45 * sr)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)) + 1e-20))


def unit_rms(x: np.ndarray) -> np.ndarray:
    return x / rms(x)


def butter_filter(x: np.ndarray, sr: int, kind: str, cutoff, order: int = 4) -> np.ndarray:
    """Butterworth filter (lowpass, highpass or bandpass); cutoffs are kept below 0.45 sr."""
    if kind == "bandpass":
        high = below_nyquist(sr, cutoff[1])
        cutoff = (min(float(cutoff[0]), 0.7 * high), high)
    else:
        cutoff = below_nyquist(sr, cutoff)
    sos = signal.butter(order, cutoff, btype=kind, fs=sr, output="sos")
    return signal.sosfilt(sos, x)


def colored_noise(rng: np.random.Generator, n: int, sr: int, exponent: float, corner: float = 20.0) -> np.ndarray:
    """Unit-RMS noise with a power spectrum ~ 1 / f**exponent (0 white, 1 pink, 2 brown) above `corner` Hz,
    rolled off below it like a microphone's high-pass (so brown noise does not drift)."""
    size = fft.next_fast_len(n, real=True)                   # shaped at a fast FFT size, then cut to n
    spectrum = fft.rfft(rng.standard_normal(size))
    freq = fft.rfftfreq(size, 1.0 / sr)
    spectrum *= np.maximum(freq, corner) ** (-exponent / 2.0) * (freq / np.hypot(freq, corner)) ** 2
    return unit_rms(fft.irfft(spectrum, size)[:n])


def band_noise(rng: np.random.Generator, n: int, sr: int, low: float, high: float,
               exponent: float = 0.0) -> np.ndarray:
    """Unit-RMS coloured noise limited to [low, high] Hz."""
    return unit_rms(butter_filter(colored_noise(rng, n, sr, exponent), sr, "bandpass", (low, high)))


def cosine_interp(x: np.ndarray, xp, fp) -> np.ndarray:
    """Interpolate through the knots (xp increasing) with raised-cosine segments: smooth, no overshoot."""
    xp = np.asarray(xp, dtype=float)
    fp = np.asarray(fp, dtype=float)
    x = np.clip(x, xp[0], xp[-1])
    segment = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 2)
    width = np.maximum(xp[segment + 1] - xp[segment], 1e-12)
    weight = 0.5 - 0.5 * np.cos(np.pi * (x - xp[segment]) / width)
    return fp[segment] * (1.0 - weight) + fp[segment + 1] * weight


def smooth_curve(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
    """A random curve of unit scale with about `rate_hz` independent values per second."""
    points = int(np.ceil(n / sr * rate_hz)) + 2
    knots = np.arange(points) / rate_hz
    return cosine_interp(np.arange(n) / sr, knots, rng.standard_normal(points))


def smooth(x: np.ndarray, sr: int, seconds: float) -> np.ndarray:
    """Zero-phase smoothing with a Hann window `seconds` long (for gates and step contours)."""
    width = max(3, int(round(seconds * sr)) | 1)
    window = np.hanning(width)
    window /= window.sum()
    padded = np.pad(x, width // 2, mode="edge")
    return signal.oaconvolve(padded, window, mode="valid")


def raised(x: np.ndarray) -> np.ndarray:
    """Raised-cosine ramp of x clipped to [0, 1]."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def attack_release(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    """Envelope rising over `attack` s and falling over the last `release` s (raised cosines)."""
    t = np.arange(n) / sr
    end = n / sr
    return raised(t / max(attack, 1e-4)) * raised((end - t) / max(release, 1e-4))


def oscillator_phase(rng: np.random.Generator, freq: np.ndarray, sr: int) -> np.ndarray:
    """Running phase (radians) of an oscillator following `freq` (Hz, one value per sample), random start."""
    return TWO_PI * np.cumsum(freq) / sr + rng.uniform(0.0, TWO_PI)


def harmonic_sum(phase: np.ndarray, f0: np.ndarray, sr: int, gain: Callable[[int, np.ndarray], np.ndarray],
                 max_harmonics: int, fmax: float | None = None) -> np.ndarray:
    """Sum of sin(k * phase) weighted by gain(k, k * f0), partials faded out before `fmax` (default 0.45 sr)."""
    limit = below_nyquist(sr, fmax or sr)
    count = int(min(max_harmonics, limit // max(float(np.min(f0)), 1.0)))
    out = np.zeros_like(phase)
    fundamental = np.exp(1j * phase)
    partial = fundamental.copy()                             # exp(i k phase), by complex multiplication
    for k in range(1, max(count, 1) + 1):
        freq = k * f0
        rolloff = np.clip((limit - freq) / (0.1 * limit), 0.0, 1.0)
        out += gain(k, freq) * rolloff * partial.imag
        partial *= fundamental
    return out


def formant_gain(freq: np.ndarray, formants, bandwidths, amplitudes, floor: float = 0.02) -> np.ndarray:
    """Spectral envelope at `freq`: a floor plus one Lorentzian peak per formant (formants may vary in time)."""
    gain = np.full(np.shape(freq), floor)
    for centre, width, amplitude in zip(formants, bandwidths, amplitudes):
        gain = gain + amplitude / (1.0 + ((freq - centre) / (0.5 * width)) ** 2)
    return gain


def fade_ends(x: np.ndarray, sr: int, seconds: float) -> np.ndarray:
    """Raised-cosine fade-in and fade-out of `seconds` (at most a quarter of the signal each), in place."""
    ramp = min(seconds_to_samples(sr, seconds), len(x) // 4)
    if ramp > 0:
        window = raised(np.arange(ramp) / ramp)
        x[:ramp] *= window
        x[len(x) - ramp:] *= window[::-1]
    return x


def finish_event(x: np.ndarray, sr: int, rng: np.random.Generator, fade: float = 0.005) -> np.ndarray:
    """Remove DC, fade the ends (no clicks), scale the peak into PEAK_RANGE, return float32."""
    x = fade_ends(x - np.mean(x), sr, fade)
    peak = float(np.max(np.abs(x)))
    if not np.isfinite(peak) or peak < 1e-9:
        raise RuntimeError("a synthesizer produced silence or non-finite audio")
    return (x * (rng.uniform(*PEAK_RANGE) / peak)).astype(np.float32)


def impulse_events(rng: np.random.Generator, n: int, sr: int, rate: float, intensity: np.ndarray,
                   tau: float, band: tuple[float, float]) -> np.ndarray:
    """Poisson clicks (heavy-tailed amplitudes, rate shaped by `intensity`) through a decaying noise kernel."""
    count = rng.poisson(rate * n / sr * float(np.max(intensity)))
    positions = rng.integers(0, n, count)
    keep = rng.random(count) < intensity[positions] / np.max(intensity)
    amplitudes = rng.lognormal(0.0, 0.5, count) * rng.choice([-1.0, 1.0], count)
    impulses = np.bincount(positions[keep], weights=amplitudes[keep], minlength=n)
    t = np.arange(seconds_to_samples(sr, 8 * tau)) / sr
    kernel = rng.standard_normal(t.size) * np.exp(-t / tau)
    return butter_filter(signal.oaconvolve(impulses, kernel)[:n], sr, "bandpass", band)


def bubbles(rng: np.random.Generator, n: int, sr: int, rate: float, freq_range: tuple[float, float],
            tau_range: tuple[float, float], chunk: int = 512) -> np.ndarray:
    """Poisson bubbles: decaying sinusoids whose pitch rises (Minnaert resonance of a bubble at the surface)."""
    count = rng.poisson(rate * n / sr)
    t = np.arange(seconds_to_samples(sr, 5 * tau_range[1])) / sr
    attack = 1.0 - np.exp(-t / 0.0005)                       # a soft 0.5 ms onset: no click
    out = np.zeros(n)
    for start in range(0, count, chunk):                      # chunks bound the memory, not a sample loop
        m = min(chunk, count - start)
        onsets = rng.integers(0, n, m)
        freq = log_uniform(rng, *freq_range, m)[:, None]
        tau = log_uniform(rng, *tau_range, m)[:, None]
        rise = rng.uniform(0.05, 0.3, m)[:, None]
        wave = (rng.lognormal(0.0, 0.6, m)[:, None] * np.exp(-t / tau) * attack
                * np.sin(TWO_PI * freq * (t + rise * t ** 2 / (2 * tau))))
        index = onsets[:, None] + np.arange(t.size)
        inside = index < n
        out += np.bincount(index[inside], weights=wave[inside], minlength=n)
    return out
