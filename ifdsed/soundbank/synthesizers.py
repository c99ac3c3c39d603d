"""Procedural synthesizers for the ten DCASE classes (the foreground events of the embedded sound bank).

Nothing can be downloaded on the machines this project runs on, so the built-in sound bank is made here.
Each class has one function ``synth(rng, sr) -> np.ndarray`` that returns one mono float32 event whose
pitch, timbre, envelope and duration are all drawn from ``rng`` (the only source of randomness), with its
peak between 0.5 and 0.89. Durations follow the real events: short ones (Dog, Cat, Dishes, Speech,
Alarm_bell_ringing) and long, stationary-ish ones (Blender, Vacuum_cleaner, Frying, Running_water,
Electric_shaver_toothbrush); ``CLASS_DURATIONS`` lists each class's range in seconds. Background beds are in
ifdsed/soundbank/backgrounds.py, sounds outside the ten classes in ifdsed/soundbank/non_target.py, the shared
building blocks in ifdsed/soundbank/dsp.py.

Everything is vectorised over samples: the only Python loops run over harmonics, partials or events.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import signal

from .dsp import (TWO_PI, attack_release, band_noise, below_nyquist, bubbles, butter_filter, colored_noise,
                  cosine_interp, draw_samples, finish_event, formant_gain, harmonic_sum, impulse_events, log_uniform,
                  oscillator_phase, raised, rms, seconds_to_samples, smooth, smooth_curve, unit_rms)

# Durations in seconds of each class's events (inclusive range).
CLASS_DURATIONS: dict[str, tuple[float, float]] = {
    "Alarm_bell_ringing": (1.0, 6.0),
    "Blender": (2.0, 10.0),
    "Cat": (0.5, 2.0),
    "Dishes": (0.2, 1.5),
    "Dog": (0.3, 1.5),
    "Electric_shaver_toothbrush": (2.0, 10.0),
    "Frying": (2.0, 10.0),
    "Running_water": (2.0, 10.0),
    "Speech": (0.8, 4.0),
    "Vacuum_cleaner": (2.0, 10.0),
}

def _draw_length(rng: np.random.Generator, sr: int, label: str) -> int:
    """A duration in samples, uniform over the class's range."""
    return draw_samples(rng, sr, CLASS_DURATIONS[label])


# --------------------------------------------------------------------------------------------------------------
# Alarm_bell_ringing: electronic beeper, electric bell or two-tone/wailing siren
# --------------------------------------------------------------------------------------------------------------

def _beeper(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Square-ish beeps in groups: beep length, gap, group size, pause and brightness all drawn."""
    t = np.arange(n) / sr
    beep, gap = rng.uniform(0.05, 0.35), rng.uniform(0.05, 0.3)
    group = int(rng.integers(1, 5))
    cycle = group * (beep + gap) + (rng.uniform(0.2, 0.8) if group > 1 else 0.0)
    position = t % cycle
    index = position // (beep + gap)
    gate = ((index < group) & (position - index * (beep + gap) < beep)).astype(float)
    gate = smooth(gate, sr, 0.004)
    f = below_nyquist(sr, float(log_uniform(rng, 1200, 4000)))
    brightness = rng.uniform(0.0, 0.7)
    tone = harmonic_sum(oscillator_phase(rng, np.full(n, f), sr), np.full(n, f), sr,
                      lambda k, _: (k % 2) * brightness ** ((k - 1) / 2) / k, max_harmonics=9)
    return tone * gate


def _electric_bell(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """A clapper striking an inharmonic bell 12-25 times a second, continuously or in rings."""
    f1 = float(log_uniform(rng, 500, 2000))
    ratios = np.array([1.0, 2.1, 2.9, 4.2, 5.4]) * (1.0 + rng.normal(0.0, 0.03, 5))
    ratios[0] = 1.0
    keep = f1 * ratios < 0.45 * sr
    ratios = ratios[keep]
    taus = float(log_uniform(rng, 0.15, 0.8)) / ratios ** 0.6
    amps = rng.uniform(0.2, 1.0, ratios.size) / np.sqrt(ratios)
    t_ir = np.arange(min(n, seconds_to_samples(sr, 5 * taus.max()))) / sr
    ir = np.sum(amps[:, None] * np.exp(-t_ir / taus[:, None])
                * np.sin(TWO_PI * f1 * ratios[:, None] * t_ir + rng.uniform(0, TWO_PI, (ratios.size, 1))), axis=0)

    rate = rng.uniform(12, 25)
    strikes = np.arange(0.0, n / sr, 1.0 / rate)
    strikes = np.clip(strikes + rng.normal(0.0, 0.04 / rate, strikes.size), 0.0, (n - 1) / sr)
    if rng.random() < 0.5:                                   # rings with pauses, like a telephone bell
        on, off = rng.uniform(0.4, 1.5), rng.uniform(0.2, 0.8)
        strikes = strikes[(strikes % (on + off)) < on]
    impulses = np.bincount(np.round(strikes * sr).astype(int), weights=rng.uniform(0.6, 1.0, strikes.size),
                           minlength=n)[:n]
    return signal.oaconvolve(impulses, ir)[:n]


def _siren(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Two alternating tones, or a tone wailing between two pitches."""
    t = np.arange(n) / sr
    low = float(log_uniform(rng, 500, 1500))
    high = below_nyquist(sr, low * rng.uniform(1.2, 1.6))
    if rng.random() < 0.5:
        half = rng.uniform(0.2, 0.7)
        switch = smooth(((t // half) % 2).astype(float), sr, 0.01)
    else:
        switch = raised(0.5 - 0.5 * np.cos(TWO_PI * rng.uniform(0.5, 3.0) * t))
    f0 = low + (high - low) * switch
    tilt = rng.uniform(1.0, 2.5)
    return harmonic_sum(oscillator_phase(rng, f0, sr), f0, sr, lambda k, _: k ** -tilt, max_harmonics=6)


def alarm_bell_ringing(rng: np.random.Generator, sr: int) -> np.ndarray:
    """An alarm, 1-6 s: a beeper, an electric bell or a siren (type, pitch, rhythm drawn from rng)."""
    n = _draw_length(rng, sr, "Alarm_bell_ringing")
    kind = (_beeper, _electric_bell, _siren)[int(rng.integers(3))]
    return finish_event(kind(rng, n, sr), sr, rng)


# --------------------------------------------------------------------------------------------------------------
# Motors: Blender, Vacuum_cleaner, Electric_shaver_toothbrush
# --------------------------------------------------------------------------------------------------------------

def _load_profile(rng: np.random.Generator, n: int, sr: int, low: float, high: float,
                  segment: tuple[float, float]) -> np.ndarray:
    """Motor speed factor changing between random levels every `segment` seconds (load changes)."""
    duration = n / sr
    knots = [0.0]
    while knots[-1] < duration:
        knots.append(knots[-1] + rng.uniform(*segment))
    return cosine_interp(np.arange(n) / sr, knots, rng.uniform(low, high, len(knots)))


def _spin(n: int, sr: int, up: float | None, down: float | None, floor: float = 0.25) -> np.ndarray:
    """Spin-up over the first `up` s and spin-down over the last `down` s (None: none)."""
    t = np.arange(n) / sr
    ramp = np.ones(n)
    if up:
        ramp *= floor + (1.0 - floor) * raised(t / up)
    if down:
        ramp *= floor + (1.0 - floor) * raised((n / sr - t) / down)
    return ramp


def blender(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A blender, 2-10 s: motor harmonics and blade noise, speed changing with the load, chopping modulation."""
    n = _draw_length(rng, sr, "Blender")
    speed = _load_profile(rng, n, sr, 0.7, 1.05, (0.3, 1.5))
    speed *= _spin(n, sr, rng.uniform(0.1, 0.5), rng.uniform(0.2, 0.6) if rng.random() < 0.5 else None)
    speed *= 1.0 + 0.01 * smooth_curve(rng, n, sr, 30.0)
    f0 = float(log_uniform(rng, 150, 450)) * speed

    tilt = rng.uniform(0.5, 1.2)
    gains = rng.lognormal(0.0, 0.5, 30) * np.arange(1, 31) ** -tilt
    motor = unit_rms(harmonic_sum(oscillator_phase(rng, f0, sr), f0, sr, lambda k, _: gains[k - 1], 30, fmax=6000))
    blades = band_noise(rng, n, sr, rng.uniform(150, 400), rng.uniform(2500, 6000), rng.uniform(0.5, 1.3))
    mix = motor + rng.uniform(0.3, 1.0) * blades * speed

    chop = np.clip(1.0 + rng.uniform(0.2, 0.6) * smooth_curve(rng, n, sr, rng.uniform(3, 12)), 0.2, None)
    return finish_event(mix * chop * speed ** 2, sr, rng)


def vacuum_cleaner(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A vacuum cleaner, 2-10 s: loud airflow noise, a fan whine, nozzle blockages and back-and-forth strokes."""
    n = _draw_length(rng, sr, "Vacuum_cleaner")
    t = np.arange(n) / sr
    speed = _load_profile(rng, n, sr, 0.95, 1.03, (0.5, 2.0))
    for _ in range(int(rng.integers(0, 3))):                 # nozzle blocked: the motor speeds up
        centre, width = rng.uniform(0, n / sr), rng.uniform(0.3, 1.5)
        speed *= 1.0 + rng.uniform(0.05, 0.15) * raised(1.0 - np.abs(t - centre) / width)
    speed *= _spin(n, sr, rng.uniform(0.5, 1.5) if rng.random() < 0.4 else None, None, floor=0.2)
    f_motor = float(log_uniform(rng, 300, 600)) * speed

    air = band_noise(rng, n, sr, rng.uniform(80, 250), rng.uniform(3500, 7500), rng.uniform(0.2, 1.0))
    for _ in range(int(rng.integers(1, 3))):                 # broad resonances of the hose and body
        centre = float(log_uniform(rng, 300, 3000))
        air += rng.uniform(0.3, 1.0) * band_noise(rng, n, sr, centre / 1.25, centre * 1.25)
    motor = unit_rms(harmonic_sum(oscillator_phase(rng, f_motor, sr), f_motor, sr, lambda k, _: k ** -1.0, 6))
    blades = int(rng.integers(5, 12))
    audible = np.clip((0.45 * sr - blades * f_motor) / (0.05 * sr), 0, 1)   # fade the whine out below Nyquist
    whine = np.sin(blades * oscillator_phase(rng, f_motor, sr)) * audible

    strokes = np.clip(1.0 + rng.uniform(0.1, 0.35) * smooth_curve(rng, n, sr, rng.uniform(0.5, 2.0)), 0.3, None)
    mix = unit_rms(air) * strokes + rng.uniform(0.05, 0.3) * motor + rng.uniform(0.05, 0.4) * whine
    return finish_event(mix * speed ** 2, sr, rng)


def electric_shaver_toothbrush(rng: np.random.Generator, sr: int) -> np.ndarray:
    """An electric shaver or a sonic toothbrush, 2-10 s: a buzzing harmonic motor loaded by skin or teeth."""
    n = _draw_length(rng, sr, "Electric_shaver_toothbrush")
    shaver = rng.random() < 0.5
    load = smooth_curve(rng, n, sr, rng.uniform(0.5, 2.0))
    if shaver:
        f0 = float(log_uniform(rng, 90, 250)) * (1.0 - 0.02 * np.clip(load, 0, None))
        tilt, count = rng.uniform(0.3, 0.8), 60
    else:
        f0 = rng.uniform(200, 320) * (1.0 - 0.04 * np.clip(load, 0, None))
        tilt, count = rng.uniform(0.8, 1.4), 30
    f0 = f0 * (1.0 + 0.003 * smooth_curve(rng, n, sr, 20.0))
    gains = rng.lognormal(0.0, 0.4, count) * np.arange(1, count + 1) ** -tilt
    buzz = unit_rms(harmonic_sum(oscillator_phase(rng, f0, sr), f0, sr, lambda k, _: gains[k - 1], count))
    buzz = butter_filter(buzz, sr, "highpass", rng.uniform(80, 200), order=2)

    if shaver:                                               # cutting hairs: bright noise
        mix = buzz + rng.uniform(0.1, 0.5) * unit_rms(butter_filter(rng.standard_normal(n), sr, "highpass",
                                                                rng.uniform(3000, 5000)))
        strokes = 1.0 + 0.15 * load
    else:                                                    # brushing strokes
        strokes = 1.0 + rng.uniform(0.2, 0.6) * np.sin(TWO_PI * rng.uniform(1.5, 4.0) * np.arange(n) / sr)
        mix = buzz
    return finish_event(mix * np.clip(strokes, 0.2, None), sr, rng)


# --------------------------------------------------------------------------------------------------------------
# Textures: Frying, Running_water
# --------------------------------------------------------------------------------------------------------------

def frying(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Frying, 2-10 s: dense Poisson crackles and sparser pops over a sizzling high-frequency hiss."""
    n = _draw_length(rng, sr, "Frying")
    intensity = np.exp(0.4 * smooth_curve(rng, n, sr, rng.uniform(0.2, 1.0)))
    crackle = impulse_events(rng, n, sr, float(log_uniform(rng, 80, 800)), intensity,
                              rng.uniform(0.0002, 0.0015), (rng.uniform(1000, 3000), 0.45 * sr))
    pops = impulse_events(rng, n, sr, rng.uniform(0.5, 4.0), intensity, rng.uniform(0.003, 0.01),
                           (rng.uniform(300, 600), rng.uniform(2000, 4000)))
    hiss = unit_rms(butter_filter(colored_noise(rng, n, sr, rng.uniform(-0.5, 0.3)), sr, "highpass",
                             rng.uniform(2000, 5000)))
    hiss *= (1.0 + 0.3 * smooth_curve(rng, n, sr, 2.0)) * intensity
    crackle /= np.max(np.abs(crackle)) + 1e-12
    pops *= rng.uniform(0.2, 0.6) / (np.max(np.abs(pops)) + 1e-12)
    return finish_event(crackle + pops + rng.uniform(0.3, 1.0) * rms(crackle) * hiss, sr, rng)


def running_water(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Running water, 2-10 s: band-limited noise with bubbly amplitude modulation and bubble chirps."""
    n = _draw_length(rng, sr, "Running_water")
    centre = float(log_uniform(rng, 500, 2500))
    spread = 2.0 ** (rng.uniform(1.0, 3.0) / 2.0)
    flow = band_noise(rng, n, sr, centre / spread, centre * spread, rng.uniform(0.0, 1.0))
    gurgle = np.clip(1.0 + rng.uniform(0.2, 0.6) * smooth_curve(rng, n, sr, rng.uniform(8, 40)), 0.05, None)
    chirps = bubbles(rng, n, sr, float(log_uniform(rng, 30, 300)),
                     (centre / 2, below_nyquist(sr, centre * 2)), (0.003, 0.015))
    mix = flow * gurgle + rng.uniform(0.3, 1.5) * unit_rms(chirps)
    return finish_event(mix * (1.0 + 0.1 * smooth_curve(rng, n, sr, 0.5)), sr, rng)


# --------------------------------------------------------------------------------------------------------------
# Short events: Dishes, Dog, Cat, Speech
# --------------------------------------------------------------------------------------------------------------

def _dish_object(rng: np.random.Generator, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An object's modes: inharmonic partial frequencies, decay times and amplitudes."""
    f1 = min(float(log_uniform(rng, 700, 4500)), 0.4 * sr)
    ratios = np.array([1.0, rng.uniform(2.2, 2.9), rng.uniform(3.8, 5.2), rng.uniform(5.5, 7.5),
                       rng.uniform(8.0, 10.0)])
    ratios = ratios[f1 * ratios < 0.45 * sr]
    taus = float(log_uniform(rng, 0.05, 0.4)) / ratios ** 0.7
    amps = rng.uniform(0.3, 1.0, ratios.size) * ratios ** -0.3
    return f1 * ratios, taus, amps


def _clink(rng: np.random.Generator, modes, n: int, sr: int) -> np.ndarray:
    """One strike: the object's decaying modes plus a 2-5 ms impact transient."""
    freqs, taus, amps = modes
    t = np.arange(n) / sr
    ring = np.sum(amps[:, None] * np.exp(-t / taus[:, None])
                  * np.sin(TWO_PI * freqs[:, None] * t + rng.uniform(0, TWO_PI, (freqs.size, 1))), axis=0)
    click = butter_filter(rng.standard_normal(n), sr, "highpass", 2000) * np.exp(-t / rng.uniform(0.002, 0.005))
    return ring + rng.uniform(0.1, 0.5) * click


def dishes(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Dishes, 0.2-1.5 s: 1-5 clinks of one or two plates/glasses (inharmonic decaying partials)."""
    low, high = CLASS_DURATIONS["Dishes"]
    objects = [_dish_object(rng, sr) for _ in range(int(rng.integers(1, 3)))]
    onsets = np.concatenate([[0.0], np.cumsum(rng.uniform(0.04, 0.3, int(rng.integers(0, 5))))])
    tail = 3.0 * max(float(modes[1][0]) for modes in objects)
    duration = float(np.clip(onsets[-1] + tail + rng.uniform(0.0, 0.2), low, high))
    n = min(max(seconds_to_samples(sr, duration), int(np.ceil(low * sr))), int(high * sr))
    out = np.zeros(n)
    for onset in onsets[onsets < duration - 0.03]:
        start = seconds_to_samples(sr, onset) if onset > 0 else 0
        modes = objects[int(rng.integers(len(objects)))]
        out[start:] += rng.uniform(0.3, 1.0) * _clink(rng, modes, n - start, sr)
    return finish_event(out, sr, rng, fade=0.002)


def _bark(rng: np.random.Generator, n: int, sr: int, f0: float, formants: np.ndarray) -> np.ndarray:
    """One bark: a harmonic voice with a rise-fall pitch, rough jitter and a noisy onset."""
    t = np.arange(n) / sr
    u = t / max(t[-1], 1e-9)
    contour = cosine_interp(u, [0.0, rng.uniform(0.15, 0.35), 1.0],
                             [0.9 * f0, f0 * (1 + rng.uniform(0.05, 0.3)), f0 * (1 - rng.uniform(0.1, 0.4))])
    contour *= 1.0 + rng.uniform(0.01, 0.05) * smooth_curve(rng, n, sr, 60.0)
    tilt = rng.uniform(0.5, 1.0)
    voice = unit_rms(harmonic_sum(oscillator_phase(rng, contour, sr), contour, sr,
                                 lambda k, fk: formant_gain(fk, formants, (200, 300, 400), (1.0, 0.6, 0.3))
                                 * k ** -tilt, 30, fmax=7000))
    envelope = (raised(t / rng.uniform(0.003, 0.01)) * np.exp(-t / (n / sr * rng.uniform(0.3, 0.6)))
                * raised((1.0 - u) / 0.2))
    noise = band_noise(rng, n, sr, 300, 6000)
    onset = np.exp(-t / rng.uniform(0.01, 0.04))
    return envelope * (voice + noise * (rng.uniform(0.3, 1.0) * onset + rng.uniform(0.05, 0.2)))


def dog(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A dog, 0.3-1.5 s: 1-4 barks of one dog (size sets pitch and formants)."""
    n = _draw_length(rng, sr, "Dog")
    size = rng.uniform(0.0, 1.0)                              # 0 small dog, 1 big dog
    f0 = 700.0 * (180.0 / 700.0) ** size * rng.uniform(0.9, 1.1)
    formants = np.array([rng.uniform(500, 900), rng.uniform(1300, 2200), rng.uniform(2500, 3500)])
    formants *= 1.25 - 0.4 * size
    barks = int(rng.integers(1, min(4, max(1, int(n / sr / 0.25))) + 1))
    slot = n // barks
    out = np.zeros(n)
    for index in range(barks):
        length = int(min(slot * rng.uniform(0.45, 0.8), seconds_to_samples(sr, 0.35)))
        start = index * slot + (int(rng.integers(0, max(1, slot - length))) if index else 0)
        out[start:start + length] += rng.uniform(0.6, 1.0) * _bark(rng, length, sr, f0 * rng.uniform(0.93, 1.07),
                                                                   formants)
    return finish_event(out, sr, rng)


def _meow(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """One meow: a rise-fall pitch glide with vibrato and an 'ee-ow' formant movement."""
    t = np.arange(n) / sr
    u = t / max(t[-1], 1e-9)
    start = float(log_uniform(rng, 380, 650))
    knots = [0.0, rng.uniform(0.2, 0.6), 1.0]
    f0 = cosine_interp(u, knots, [start, start * rng.uniform(1.15, 1.7), start * rng.uniform(0.6, 1.0)])
    f0 *= 1.0 + rng.uniform(0.005, 0.02) * np.sin(TWO_PI * rng.uniform(5, 8) * t)
    scale = rng.uniform(0.85, 1.2)
    f1 = cosine_interp(u, knots, scale * np.array([rng.uniform(400, 600), rng.uniform(800, 1100),
                                                    rng.uniform(500, 700)]))
    f2 = cosine_interp(u, knots, scale * np.array([rng.uniform(1800, 2400), rng.uniform(1400, 1800),
                                                    rng.uniform(900, 1300)]))
    tilt = rng.uniform(0.6, 1.1)
    voice = unit_rms(harmonic_sum(oscillator_phase(rng, f0, sr), f0, sr,
                                 lambda k, fk: formant_gain(fk, (f1, f2, 3000.0 * scale), (150, 200, 300),
                                                             (1.0, 0.7, 0.3)) * k ** -tilt, 25))
    breath = rng.uniform(0.02, 0.08) * band_noise(rng, n, sr, 1000, 5000)
    envelope = attack_release(n, sr, rng.uniform(0.03, 0.08), n / sr * rng.uniform(0.2, 0.4))
    return envelope * (voice + breath)


def cat(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A cat, 0.5-2 s: one or two meows."""
    n = _draw_length(rng, sr, "Cat")
    meows = 1 if n < 1.1 * sr else int(rng.integers(1, 3))
    slot = n // meows
    out = np.zeros(n)
    for index in range(meows):
        length = int(slot * rng.uniform(0.7, 0.95)) if meows > 1 else n
        start = index * slot + (int(rng.integers(0, slot - length + 1)) if index else 0)
        out[start:start + length] += _meow(rng, length, sr)
    return finish_event(out, sr, rng)


# Vowel formants F1-F3 (Hz) of an adult male voice: a, i, u, e, o, ae, er, schwa.
_VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480],
                    [570, 840, 2410], [660, 1720, 2410], [490, 1350, 1690], [500, 1500, 2500]], dtype=float)
_NASAL = np.array([250.0, 1100.0, 2500.0])
_NONE, _FRICATIVE, _PLOSIVE, _NASAL_CONSONANT = 0, 1, 2, 3


def _syllable_plan(rng: np.random.Generator, n: int, sr: int) -> dict[str, np.ndarray]:
    """Per-sample syllable layout: syllable index, position in it, consonant type and share, pauses, stress."""
    count = max(2, int(round(n / sr * rng.uniform(3.5, 6.5))))
    lengths = rng.gamma(5.0, size=count)
    bounds = np.round(np.concatenate([[0.0], np.cumsum(lengths)]) / lengths.sum() * n).astype(int)
    index = np.repeat(np.arange(count), np.diff(bounds))
    position = (np.arange(n) - bounds[index]) / np.maximum(np.diff(bounds)[index], 1)
    pause = rng.random(count) < 0.12
    pause[[0, -1]] = False
    return {
        "index": index, "position": position, "length": np.diff(bounds)[index], "pause": pause[index],
        "consonant": rng.choice(4, count, p=[0.3, 0.3, 0.25, 0.15])[index],
        "share": rng.uniform(0.2, 0.4, count)[index], "stress": rng.uniform(0.55, 1.0, count)[index],
        "vowel": rng.integers(len(_VOWELS), size=count)[index], "accent": rng.uniform(-0.08, 0.12, count)[index],
    }


def speech(rng: np.random.Generator, sr: int) -> np.ndarray:
    """Speech, 0.8-4 s: a phrase of formant-synthesised syllables with consonants, pauses and intonation."""
    n = _draw_length(rng, sr, "Speech")
    t = np.arange(n) / sr
    f0_base = float(log_uniform(rng, 85, 280))               # from a low male voice to a child
    scale = (1.0 + 0.25 * np.log(f0_base / 100.0) / np.log(2.8)) * rng.uniform(0.93, 1.07)
    plan = _syllable_plan(rng, n, sr)
    share, position, kind = plan["share"], plan["position"], plan["consonant"]
    in_consonant = (kind != _NONE) & (position < share)
    vowel_position = np.where(kind != _NONE, np.clip((position - share) / (1 - share), 0, 1), position)

    voicing = plan["stress"] * np.sqrt(np.sin(np.pi * vowel_position)) * ~in_consonant
    voicing += 0.35 * plan["stress"] * (in_consonant & (kind == _NASAL_CONSONANT))
    voicing = smooth(voicing * ~plan["pause"], sr, 0.015)
    targets = np.where((in_consonant & (kind == _NASAL_CONSONANT))[:, None], _NASAL, _VOWELS[plan["vowel"]])
    formants = [smooth(targets[:, j] * scale, sr, 0.04) for j in range(3)]

    f0 = f0_base * (1.12 - 0.25 * t / t[-1]) * (1.0 + smooth(plan["accent"] * plan["stress"], sr, 0.08))
    if rng.random() < 0.2:                                    # a question: final rise
        f0 *= 1.0 + rng.uniform(0.2, 0.4) * raised((t / t[-1] - 0.8) / 0.2)
    f0 *= 1.0 + 0.01 * smooth_curve(rng, n, sr, 40.0)
    tilt = rng.uniform(0.7, 1.2)
    bandwidths = (rng.uniform(60, 100), rng.uniform(80, 130), rng.uniform(120, 180))
    voice = harmonic_sum(oscillator_phase(rng, f0, sr), f0, sr,
                       lambda k, fk: formant_gain(fk, formants, bandwidths, (1.0, 0.7, 0.4)) * k ** -tilt,
                       80, fmax=5000)
    voice = unit_rms(voice) * voicing

    consonant_position = position / share
    frication = (in_consonant & (kind == _FRICATIVE)) * np.sin(np.pi * np.clip(consonant_position, 0, 1))
    burst_time = (consonant_position - 0.6) * share * plan["length"] / sr
    burst = (in_consonant & (kind == _PLOSIVE) & (burst_time > 0)) * np.exp(-np.abs(burst_time) / 0.008)
    hiss = unit_rms(butter_filter(rng.standard_normal(n), sr, "bandpass", (rng.uniform(2500, 4500), 9000)))
    noise = (hiss * (rng.uniform(0.3, 0.8) * frication + 0.8 * burst) * plan["stress"] * ~plan["pause"]
             + rng.uniform(0.02, 0.1) * voicing * band_noise(rng, n, sr, 500, 3500))
    return finish_event(voice + noise, sr, rng)


# --------------------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------------------

CLASS_SYNTHESIZERS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "Alarm_bell_ringing": alarm_bell_ringing,
    "Blender": blender,
    "Cat": cat,
    "Dishes": dishes,
    "Dog": dog,
    "Electric_shaver_toothbrush": electric_shaver_toothbrush,
    "Frying": frying,
    "Running_water": running_water,
    "Speech": speech,
    "Vacuum_cleaner": vacuum_cleaner,
}
