"""Non-target events: sounds of a home outside the ten classes, mixed into clips of both domains, never labelled.

DCASE's synthetic recipe from 2021 on mixes such events (from FUSS) into its soundscapes, so that a model learns
that not every foreground sound is one of the classes. Each kind has one function ``synth(rng, sr) ->
np.ndarray`` (mono float32, peak in the foreground range, every choice drawn from ``rng``) with durations in
``NON_TARGET_DURATIONS``: a door (knocks or a slam), footsteps, typing on a keyboard, a cupboard (a creak and
a bang), water pipes (knocking and gurgling) and music from a small loudspeaker.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import signal

from .dsp import (TWO_PI, bubbles, butter_filter, draw_samples, finish_event, harmonic_sum, impulse_events,
                  log_uniform, oscillator_phase, seconds_to_samples, smooth_curve)

# Durations in seconds of each kind's events (inclusive range).
NON_TARGET_DURATIONS: dict[str, tuple[float, float]] = {
    "door": (0.4, 2.0),
    "footsteps": (1.5, 6.0),
    "keyboard": (1.0, 6.0),
    "cupboard": (0.6, 2.5),
    "water_pipes": (0.5, 4.0),
    "music": (2.0, 10.0),
}


def _impact(rng: np.random.Generator, sr: int, freq: float, tau: float, noise: float) -> np.ndarray:
    """The sound of one impact: a decaying low mode (freq Hz, time constant tau s) plus a shorter noise burst."""
    t = np.arange(seconds_to_samples(sr, 6 * tau)) / sr
    mode = np.sin(TWO_PI * freq * t + rng.uniform(0, TWO_PI)) * np.exp(-t / tau)
    return mode + noise * rng.standard_normal(t.size) * np.exp(-4 * t / tau)


def _strike(n: int, sr: int, times: np.ndarray, amplitudes: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """`kernel` started at each of `times` (s), scaled by `amplitudes`, in a signal of n samples."""
    positions = np.clip(np.round(np.asarray(times) * sr).astype(int), 0, n - 1)
    impulses = np.bincount(positions, weights=amplitudes, minlength=n)[:n]
    return signal.oaconvolve(impulses, kernel)[:n]


def door(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Knocks on a door (2-5, evenly spaced) or a door slammed shut with its latch rattling."""
    n = draw_samples(rng, sr, NON_TARGET_DURATIONS["door"])
    end = n / sr
    if rng.random() < 0.5:
        count = int(rng.integers(2, 6))
        times = 0.02 + min(rng.uniform(0.12, 0.3), 0.8 * end / count) * np.arange(count)
        kernel = _impact(rng, sr, rng.uniform(80, 250), rng.uniform(0.01, 0.04), rng.uniform(0.3, 1.0))
        sound = _strike(n, sr, times, rng.uniform(0.7, 1.0, count), kernel)
    else:
        slam = _impact(rng, sr, rng.uniform(50, 150), rng.uniform(0.03, 0.1), 1.0)
        latch = _impact(rng, sr, rng.uniform(1500, 4000), 0.004, 0.5)
        rattles = int(rng.integers(1, 5))
        rattle_times = 0.05 + np.sort(rng.uniform(0, 0.3 * end, rattles))
        rattle_levels = rng.uniform(0.1, 0.4, rattles)
        sound = (_strike(n, sr, np.array([0.02]), np.ones(1), slam)
                 + _strike(n, sr, rattle_times, rattle_levels, latch))
    return finish_event(butter_filter(sound, sr, "lowpass", rng.uniform(2000, 6000)), sr, rng)


def footsteps(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Someone walking across a floor: a heel thud and a sole scuff at every step, 1.6-2.4 steps a second."""
    n = draw_samples(rng, sr, NON_TARGET_DURATIONS["footsteps"])
    interval = 1.0 / rng.uniform(1.6, 2.4)
    times = np.arange(rng.uniform(0.0, interval), n / sr - 0.05, interval)
    times = times + rng.normal(0.0, 0.02, times.size)
    heel = _impact(rng, sr, rng.uniform(60, 150), rng.uniform(0.01, 0.03), rng.uniform(0.2, 0.6))
    scuff = butter_filter(_impact(rng, sr, 1000.0, 0.02, 3.0), sr, "bandpass", (rng.uniform(800, 2000), 6000))
    step_loudness = rng.uniform(0.6, 1.0, times.size)
    approach = np.linspace(rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0), times.size)   # coming closer or going away
    loudness = step_loudness * approach
    scuff_level = rng.uniform(0.1, 0.4)
    sound = _strike(n, sr, times, loudness, heel) + scuff_level * _strike(n, sr, times + 0.04, loudness, scuff)
    return finish_event(sound, sr, rng)


def keyboard(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Typing: key clicks at 4-10 a second in bursts, with the odd heavier space bar."""
    n = draw_samples(rng, sr, NON_TARGET_DURATIONS["keyboard"])
    bursts = np.clip(1.0 + 1.5 * smooth_curve(rng, n, sr, rng.uniform(0.5, 2.0)), 0.3, None)   # slower, then faster
    band, tau = (rng.uniform(1000, 2500), rng.uniform(5000, 7500)), rng.uniform(0.001, 0.004)
    clicks = np.zeros(n)
    while not np.any(clicks):                                # a short burst may draw no key at all: draw again
        clicks = impulse_events(rng, n, sr, rng.uniform(4, 10), bursts, tau, band)
    thunks = impulse_events(rng, n, sr, rng.uniform(0.3, 1.5), bursts, 0.008, (150, 1500))
    return finish_event(clicks + rng.uniform(0.2, 0.6) * thunks, sr, rng)


def cupboard(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A cupboard door: a creaking hinge (stick-slip: a buzzing tone gliding in pitch) and a bang as it shuts."""
    n = draw_samples(rng, sr, NON_TARGET_DURATIONS["cupboard"])
    t = np.arange(n) / sr
    creak_end = rng.uniform(0.5, 0.85) * n / sr
    f0 = log_uniform(rng, 150, 600) * (1.0 + 0.4 * smooth_curve(rng, n, sr, rng.uniform(1, 4)) ** 2)
    f0 = np.clip(f0, 60, 2000)
    creak = harmonic_sum(oscillator_phase(rng, f0, sr), f0, sr, lambda k, _: k ** -0.7, 20)
    creak *= np.clip(1.0 + 0.8 * smooth_curve(rng, n, sr, 15.0), 0.0, None) * (t < creak_end)
    bang = _impact(rng, sr, rng.uniform(80, 200), rng.uniform(0.02, 0.06), 1.0)
    sound = 0.3 * creak + _strike(n, sr, np.array([creak_end]), np.array([rng.uniform(0.5, 1.5)]), bang)
    return finish_event(butter_filter(sound, sr, "lowpass", 6000, order=2), sr, rng)


def water_pipes(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Water in the pipes behind a wall: metallic knocks (water hammer) and low gurgles, muffled."""
    n = draw_samples(rng, sr, NON_TARGET_DURATIONS["water_pipes"])
    knocks = int(rng.integers(1, 5))
    clang = _impact(rng, sr, rng.uniform(200, 700), rng.uniform(0.03, 0.1), 0.3)
    sound = _strike(n, sr, np.sort(rng.uniform(0, 0.8 * n / sr, knocks)), rng.uniform(0.4, 1.0, knocks), clang)
    gurgle = bubbles(rng, n, sr, rng.uniform(5, 40), (80, 400), (0.01, 0.04))
    sound = sound + rng.uniform(0.2, 1.0) * gurgle / (np.max(np.abs(gurgle)) + 1e-12)
    return finish_event(butter_filter(sound, sr, "lowpass", rng.uniform(800, 2000)), sr, rng)


def music(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Music from a small loudspeaker: plucked notes of a pentatonic melody over a bass line, at 70-150 beats
    a minute, band-limited like the speaker."""
    n = draw_samples(rng, sr, NON_TARGET_DURATIONS["music"])
    beat = 60.0 / rng.uniform(70, 150)
    root = float(log_uniform(rng, 110, 330))
    scale = root * 2.0 ** (np.array([0, 2, 4, 7, 9, 12, 14, 16]) / 12)
    brightness = rng.uniform(0.5, 1.5)
    sound = np.zeros(n)
    onsets = np.arange(0.0, n / sr - 0.1, beat / 2)
    for index, onset in enumerate(onsets):                   # a loop over notes (at most a few dozen)
        if rng.random() < 0.25:
            continue                                         # a rest
        melody = scale[int(rng.integers(scale.size))]
        notes = [melody] + ([root / 2] if index % 2 == 0 else [])
        length = min(seconds_to_samples(sr, beat * rng.uniform(0.8, 2.0)), n - int(onset * sr))
        t = np.arange(length) / sr
        for f in notes:
            f0 = np.full(length, f)
            tone = harmonic_sum(oscillator_phase(rng, f0, sr), f0, sr, lambda k, _: k ** -(1.0 + brightness), 12)
            start = int(onset * sr)
            sound[start:start + length] += tone * np.exp(-t / (0.3 * beat)) * (1.0 - np.exp(-t / 0.003))
    return finish_event(butter_filter(sound, sr, "bandpass", (rng.uniform(150, 400), rng.uniform(4000, 7000))),
                        sr, rng)


NON_TARGET_SYNTHESIZERS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "door": door,
    "footsteps": footsteps,
    "keyboard": keyboard,
    "cupboard": cupboard,
    "water_pipes": water_pipes,
    "music": music,
}
