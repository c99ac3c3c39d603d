"""More source kinds for the classes that the first synthesizers cover thinly: Cat, Dishes and
Running_water.

ifdsed/soundbank/synthesizers.py makes each of these classes from one kind of source: a clean formant meow, clinks
of plates and glasses, and a noise stream with bubbles. Real recordings of these classes are more varied, and
the variants here add kinds that the first synthesizers lack, each from the acoustics of the source:

- Cat: a rough, breathy meow (jitter, period doubling, a nasal onset), a hiss, a trilled chirrup.
- Dishes: cutlery (the modes of a free bar: 1, 2.76, 5.40, 8.93; dropped, so the bounces come faster and
  fainter), a ringing glass, a fork scraping a plate (friction noise with stick-slip squeal), stacked plates
  (damped low modes and a thud).
- Running_water: a tap into a sink (broadband splash, a basin resonance, dense small bubbles), a container
  filling (the air column's resonance rises as it fills), a shower spray (bright hiss with droplet impacts).

`soundbank.source_variants` lists the classes whose clips draw from these kinds (bank.py): each clip of a listed
class is the first synthesizer's or one of its variants, chosen with equal chance by a generator of its own, so
a clip that keeps the first synthesizer has the same bytes as without this option. Every variant returns one
mono float32 event in the class's duration range (synthesizers.CLASS_DURATIONS) with its peak in PEAK_RANGE.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import signal

from .dsp import (TWO_PI, attack_release, band_noise, below_nyquist, bubbles, butter_filter, colored_noise,
                  cosine_interp, draw_samples, finish_event, formant_gain, harmonic_sum, impulse_events, log_uniform,
                  oscillator_phase, raised, seconds_to_samples, smooth_curve, unit_rms)
from .synthesizers import CLASS_DURATIONS

Synthesizer = Callable[[np.random.Generator, int], np.ndarray]


def _length(rng: np.random.Generator, sr: int, label: str) -> int:
    return draw_samples(rng, sr, CLASS_DURATIONS[label])


def _modes(rng: np.random.Generator, n: int, sr: int, freqs: np.ndarray, taus: np.ndarray,
           amps: np.ndarray) -> np.ndarray:
    """Decaying sinusoids (one row per mode, random phases) summed: the ring of one strike, n samples."""
    keep = freqs < 0.45 * sr
    t = np.arange(n) / sr
    return np.sum(amps[keep, None] * np.exp(-t / taus[keep, None])
                  * np.sin(TWO_PI * freqs[keep, None] * t + rng.uniform(0, TWO_PI, (int(keep.sum()), 1))), axis=0)


def _strikes(n: int, onsets: np.ndarray, levels: np.ndarray, ring: Callable[[int], np.ndarray],
             sr: int) -> np.ndarray:
    """The sound `ring(length)` started at each onset (s) with its level, summed into n samples."""
    out = np.zeros(n)
    for onset, level in zip(onsets, levels):                  # a loop over strikes (a handful), not samples
        start = min(seconds_to_samples(sr, onset) if onset > 0 else 0, n - 1)
        out[start:] += level * ring(n - start)
    return out


def _resonant_noise(rng: np.random.Generator, n: int, sr: int, centre: np.ndarray, q: float) -> np.ndarray:
    """Unit-RMS white noise through a resonance whose centre (Hz, one value per sample) moves: a time-varying
    Lorentzian gain applied on the noise's short-time spectrum (32 ms frames)."""
    nperseg = 512
    _, frame_times, spectrum = signal.stft(rng.standard_normal(n), fs=sr, nperseg=nperseg)
    freq = np.fft.rfftfreq(nperseg, 1.0 / sr)[:, None]                              # (bins, 1)
    frame_centre = np.interp(frame_times * sr, np.arange(n), centre)[None, :]      # (1, frames)
    gain = 1.0 / (1.0 + ((freq - frame_centre) / (0.5 * frame_centre / q)) ** 2)  # (bins, frames)
    _, out = signal.istft(spectrum * gain, fs=sr, nperseg=nperseg)
    return unit_rms(out[:n] if out.size >= n else np.pad(out, (0, n - out.size)))


# --------------------------------------------------------------------------------------------------------------
# Cat
# --------------------------------------------------------------------------------------------------------------

def rough_meow(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A rough, complaining meow, 0.5-2 s: high pitch with jitter and period doubling, a nasal 'm' onset that opens
    to 'eow', and breath noise shaped by the same formants."""
    n = _length(rng, sr, "Cat")
    t = np.arange(n) / sr
    u = t / t[-1]
    start = float(log_uniform(rng, 450, 1000))
    knots = [0.0, rng.uniform(0.15, 0.5), 1.0]
    f0 = cosine_interp(u, knots, [start, start * rng.uniform(1.1, 1.5), start * rng.uniform(0.55, 0.9)])
    f0 *= 1.0 + rng.uniform(0.02, 0.06) * smooth_curve(rng, n, sr, rng.uniform(40, 90))    # jitter
    opening = raised(u / rng.uniform(0.1, 0.25))                                            # 'm' -> open vowel
    f1 = 300.0 + opening * rng.uniform(500, 900) * cosine_interp(u, knots, [0.8, 1.0, 0.6])
    f2 = cosine_interp(u, knots, [rng.uniform(1600, 2200), rng.uniform(1300, 1700), rng.uniform(900, 1200)])
    shape = lambda k, fk: formant_gain(fk, (f1, f2, 3200.0), (200, 300, 400), (1.0, 0.6, 0.3)) * k ** -0.8
    phase = oscillator_phase(rng, f0, sr)
    voice = unit_rms(harmonic_sum(phase, f0, sr, shape, 20))
    doubling = rng.uniform(0.1, 0.5) * smooth_curve(rng, n, sr, 6.0).clip(0, None)           # at times, a growl
    voice += doubling * unit_rms(harmonic_sum(0.5 * phase, 0.5 * f0, sr, lambda k, fk: shape(k, fk) * (k % 2), 40))
    breath = _resonant_noise(rng, n, sr, f1, 2.0) + 0.5 * _resonant_noise(rng, n, sr, f2, 3.0)
    envelope = attack_release(n, sr, rng.uniform(0.02, 0.06), t[-1] * rng.uniform(0.2, 0.4))
    return finish_event(envelope * (voice + rng.uniform(0.15, 0.5) * breath), sr, rng)


def hiss(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A hissing cat, 0.5-2 s: broadband noise peaking at 2-5 kHz, a sharp onset (sometimes a spit), held, fading."""
    n = _length(rng, sr, "Cat")
    t = np.arange(n) / sr
    peak = float(log_uniform(rng, 2000, 5000))
    noise = _resonant_noise(rng, n, sr, np.full(n, peak), rng.uniform(0.7, 1.5))
    noise += 0.3 * band_noise(rng, n, sr, 800, below_nyquist(sr, 9000))
    level = 1.0 + 0.15 * smooth_curve(rng, n, sr, rng.uniform(3, 10))
    envelope = attack_release(n, sr, rng.uniform(0.005, 0.03), t[-1] * rng.uniform(0.2, 0.5)) * level
    if rng.random() < 0.5:                                                                  # a spit
        envelope *= 1.0 + rng.uniform(1.0, 3.0) * np.exp(-t / 0.03)
    return finish_event(noise * envelope, sr, rng)


def chirrup(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Chirrups, 0.5-2 s: 1-4 short rising calls (about 0.2-0.5 s each, filling the event), each trilled
    (amplitude rolled at 20-35 Hz)."""
    n = _length(rng, sr, "Cat")
    calls = int(np.clip(round(n / sr / rng.uniform(0.3, 0.5)), 1, 4))
    slot = n // calls
    base = float(log_uniform(rng, 450, 900))

    def call(m: int) -> np.ndarray:
        length = min(m, int(slot * rng.uniform(0.75, 0.95)) if calls > 1 else m)
        t = np.arange(length) / sr
        u = t / max(t[-1], 1e-9)
        f0 = base * rng.uniform(0.95, 1.05) * cosine_interp(u, [0, 0.7, 1], [1.0, rng.uniform(1.2, 1.6), 1.4])
        voice = harmonic_sum(oscillator_phase(rng, f0, sr), f0, sr,
                             lambda k, fk: formant_gain(fk, (900.0, 2000.0), (300, 400), (1.0, 0.5)) * k ** -1.0, 12)
        trill = 0.5 + 0.5 * np.sin(TWO_PI * rng.uniform(20, 35) * t) ** 2
        return np.pad(unit_rms(voice) * trill * attack_release(length, sr, 0.015, 0.4 * t[-1]), (0, m - length))

    onsets = np.arange(calls) * slot / sr
    return finish_event(_strikes(n, onsets, rng.uniform(0.6, 1.0, calls), call, sr), sr, rng)


# --------------------------------------------------------------------------------------------------------------
# Dishes
# --------------------------------------------------------------------------------------------------------------

_FREE_BAR = np.array([1.0, 2.756, 5.404, 8.933])          # mode ratios of a free-free bar (a fork, a spoon)


def _bounces(rng: np.random.Generator, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Onsets (s) and levels of an object dropped on a hard surface: each bounce sooner and fainter."""
    restitution = rng.uniform(0.4, 0.75)
    gaps = rng.uniform(0.06, 0.2) * restitution ** np.arange(int(rng.integers(3, 9)))
    onsets = np.concatenate([[0.0], np.cumsum(gaps)])
    onsets = onsets[onsets < duration - 0.03]
    return onsets, restitution ** np.arange(onsets.size) * rng.uniform(0.8, 1.0, onsets.size)


def cutlery(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Cutlery, 0.2-1.5 s: a fork or spoon dropped (bounces) or several rattled together (random onsets)."""
    n = _length(rng, sr, "Dishes")
    pieces = [(float(log_uniform(rng, 1500, 5000)) * _FREE_BAR, float(log_uniform(rng, 0.03, 0.25)) / _FREE_BAR)
              for _ in range(int(rng.integers(1, 4)))]
    if rng.random() < 0.5:
        onsets, levels = _bounces(rng, n / sr)
    else:
        onsets = np.sort(rng.uniform(0.0, 0.7 * n / sr, int(rng.integers(2, 8))))
        onsets[0], levels = 0.0, rng.uniform(0.3, 1.0, onsets.size)

    def strike(m: int) -> np.ndarray:
        freqs, taus = pieces[int(rng.integers(len(pieces)))]
        click = butter_filter(rng.standard_normal(m), sr, "highpass", 3000) * np.exp(-np.arange(m) / sr / 0.002)
        return _modes(rng, m, sr, freqs, taus, rng.uniform(0.3, 1.0, 4) / np.sqrt(_FREE_BAR)) + 0.5 * click

    return finish_event(_strikes(n, onsets, levels, strike, sr), sr, rng, fade=0.002)


def glass(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A glass, 0.2-1.5 s: one or two clinks that ring long (high Q, near-harmonic modes of a wine glass)."""
    n = _length(rng, sr, "Dishes")
    f1 = float(log_uniform(rng, 800, 3000))
    freqs = f1 * np.array([1.0, rng.uniform(2.2, 2.4), rng.uniform(3.9, 4.4), rng.uniform(6.2, 6.9)])
    taus = float(log_uniform(rng, 0.3, 1.5)) / np.array([1.0, 1.6, 2.4, 3.2])
    amps = np.array([1.0, 0.6, 0.3, 0.15]) * rng.uniform(0.6, 1.0, 4)
    onsets = np.array([0.0] + ([rng.uniform(0.1, 0.5)] if rng.random() < 0.4 else []))
    onsets = onsets[onsets < n / sr - 0.05]

    def strike(m: int) -> np.ndarray:
        click = butter_filter(rng.standard_normal(m), sr, "highpass", 2500) * np.exp(-np.arange(m) / sr / 0.001)
        return _modes(rng, m, sr, freqs, taus, amps) + 0.3 * click

    return finish_event(_strikes(n, onsets, rng.uniform(0.6, 1.0, onsets.size), strike, sr), sr, rng, fade=0.002)


def scrape(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A fork or knife scraping a plate, 0.2-1.5 s: friction noise in strokes, with a stick-slip squeal at times."""
    n = _length(rng, sr, "Dishes")
    t = np.arange(n) / sr
    friction = band_noise(rng, n, sr, rng.uniform(800, 2000), below_nyquist(sr, rng.uniform(5000, 8000)),
                          rng.uniform(0.0, 0.8))
    strokes = 0.5 - 0.5 * np.cos(TWO_PI * rng.uniform(1.0, 4.0) * t + rng.uniform(0, TWO_PI))
    f0 = float(log_uniform(rng, 1200, 3500)) * (1.0 + 0.02 * smooth_curve(rng, n, sr, 20.0))
    squeal = unit_rms(harmonic_sum(oscillator_phase(rng, f0, sr), f0, sr, lambda k, _: k ** -1.5, 4))
    squeal_gate = np.clip(smooth_curve(rng, n, sr, rng.uniform(2, 6)) - 0.3, 0, None) * rng.uniform(0.0, 0.8)
    return finish_event((friction + squeal * squeal_gate) * (0.2 + strokes) * attack_release(n, sr, 0.02, 0.05),
                        sr, rng)


def stacking(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Plates stacked or set down, 0.2-1.5 s: 2-5 knocks of heavily damped low modes with a thud and a rattle."""
    n = _length(rng, sr, "Dishes")
    f1 = float(log_uniform(rng, 350, 1200))
    freqs = f1 * np.array([1.0, rng.uniform(1.6, 2.1), rng.uniform(2.7, 3.4), rng.uniform(4.5, 5.5)])
    taus = float(log_uniform(rng, 0.01, 0.06)) / np.sqrt(freqs / f1)
    onsets = np.concatenate([[0.0], np.cumsum(rng.uniform(0.05, 0.35, int(rng.integers(1, 5))))])
    onsets = onsets[onsets < n / sr - 0.03]

    def knock(m: int) -> np.ndarray:
        t = np.arange(m) / sr
        thud = butter_filter(rng.standard_normal(m), sr, "lowpass", rng.uniform(300, 800)) * np.exp(-t / 0.015)
        return _modes(rng, m, sr, freqs, taus, rng.uniform(0.4, 1.0, 4)) + rng.uniform(0.5, 1.5) * thud

    return finish_event(_strikes(n, onsets, rng.uniform(0.5, 1.0, onsets.size), knock, sr), sr, rng, fade=0.002)


# --------------------------------------------------------------------------------------------------------------
# Running_water
# --------------------------------------------------------------------------------------------------------------

def sink_tap(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A tap running into a sink, 2-10 s: broadband splash, the basin's broad resonance, dense small bubbles,
    the flow turned on and off."""
    n = _length(rng, sr, "Running_water")
    splash = band_noise(rng, n, sr, rng.uniform(100, 300), below_nyquist(sr, 9000), rng.uniform(0.2, 1.0))
    basin = _resonant_noise(rng, n, sr, np.full(n, float(log_uniform(rng, 300, 1000))), rng.uniform(1.5, 4.0))
    small = bubbles(rng, n, sr, float(log_uniform(rng, 300, 1500)), (1500, below_nyquist(sr, 6000)), (0.002, 0.006))
    flow = np.exp(0.15 * smooth_curve(rng, n, sr, rng.uniform(3, 10)))
    mix = splash + rng.uniform(0.3, 1.0) * basin + rng.uniform(0.2, 0.8) * unit_rms(small)
    return finish_event(mix * flow * attack_release(n, sr, rng.uniform(0.1, 0.6), rng.uniform(0.1, 0.5)), sr, rng)


def filling(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A bottle, kettle or glass filling, 2-10 s: a stream whose air-column resonance rises as the water climbs
    (a quarter-wave tube that shortens: the pitch rises faster near the top)."""
    n = _length(rng, sr, "Running_water")
    fill = np.linspace(rng.uniform(0.0, 0.3), rng.uniform(0.7, 0.95), n)       # share of the column filled
    centre = np.minimum(float(log_uniform(rng, 150, 500)) / (1.0 - fill), 0.4 * sr)
    column = _resonant_noise(rng, n, sr, centre, rng.uniform(4.0, 10.0))
    stream = band_noise(rng, n, sr, 200, below_nyquist(sr, 7000), rng.uniform(0.3, 1.0))
    glugs = bubbles(rng, n, sr, float(log_uniform(rng, 20, 120)), (400, 2500), (0.005, 0.02))
    mix = column + rng.uniform(0.2, 0.6) * stream + rng.uniform(0.1, 0.5) * unit_rms(glugs)
    return finish_event(mix * attack_release(n, sr, rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3)), sr, rng)


def shower(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A shower or spray, 2-10 s: bright hiss from many droplets, each a tiny impact, over a low splash."""
    n = _length(rng, sr, "Running_water")
    intensity = np.exp(0.2 * smooth_curve(rng, n, sr, rng.uniform(0.5, 3.0)))
    droplets = impulse_events(rng, n, sr, float(log_uniform(rng, 2000, 8000)), intensity, 0.0003,
                              (rng.uniform(1500, 3000), 0.45 * sr))
    spray = butter_filter(colored_noise(rng, n, sr, rng.uniform(-0.5, 0.5)), sr, "highpass", rng.uniform(1000, 3000))
    splash = band_noise(rng, n, sr, 100, 1500, 1.0)
    mix = unit_rms(droplets) + rng.uniform(0.3, 1.0) * unit_rms(spray) + rng.uniform(0.1, 0.5) * splash
    return finish_event(mix * intensity * attack_release(n, sr, rng.uniform(0.1, 0.5), rng.uniform(0.1, 0.5)),
                        sr, rng)


# class -> its extra source kinds (the first synthesizer, in synthesizers.py, stays one choice among them)
CLASS_VARIANTS: dict[str, dict[str, Synthesizer]] = {
    "Cat": {"rough_meow": rough_meow, "hiss": hiss, "chirrup": chirrup},
    "Dishes": {"cutlery": cutlery, "glass": glass, "scrape": scrape, "stacking": stacking},
    "Running_water": {"sink_tap": sink_tap, "filling": filling, "shower": shower},
}
