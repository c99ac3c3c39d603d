"""Background beds of the embedded sound bank: what a home sounds like when none of the ten classes is heard.

Each kind has one function ``bed(rng, sr, duration) -> np.ndarray`` (mono float32, every choice drawn from
``rng``), scaled to an RMS level drawn from the kind's range in ``BACKGROUND_LEVELS_DB``. Two families:

- quiet, stationary noise floors: room tone, mains hum, ventilation, distant traffic rumble (-50 to -36 dBFS);
- loud or changing sources of real homes (-44 to -24 dBFS): a fan or air conditioner, a washing machine,
  traffic and rain through a window, television or radio babble, an exercise machine.

Scaper normalises every bed to its ref_db, so these levels matter where a domain keeps them: the simulated
real-world domain can draw each clip's background level from its kind's range (realworld.background_levels),
so loud kinds bury the events deeper than quiet ones, as in real recordings.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .dsp import (TWO_PI, band_noise, bubbles, butter_filter, colored_noise, fade_ends, harmonic_sum,
                  impulse_events, log_uniform, oscillator_phase, raised, rms, seconds_to_samples, smooth_curve,
                  unit_rms)
from .synthesizers import speech

# RMS level range (dBFS) of each background kind.
BACKGROUND_LEVELS_DB: dict[str, tuple[float, float]] = {
    "room_tone": (-50.0, -40.0),
    "mains_hum": (-48.0, -38.0),
    "ventilation": (-46.0, -36.0),
    "distant_rumble": (-47.0, -37.0),
    "fan": (-40.0, -26.0),
    "washing_machine": (-42.0, -26.0),
    "traffic": (-42.0, -26.0),
    "rain": (-44.0, -28.0),
    "babble": (-42.0, -28.0),
    "exercise_machine": (-38.0, -24.0),
}
QUIET_KINDS = ("room_tone", "mains_hum", "ventilation", "distant_rumble")    # the bank's default beds
PEAK_LIMIT = 0.9        # no bed peaks above this (16-bit safe)
QUIET_ROOM_DB = -40.0   # the background level the real-world domain's snr_db refers to (realworld.background_levels)


def _finish_background(x: np.ndarray, sr: int, rng: np.random.Generator, kind: str) -> np.ndarray:
    """Remove DC, fade the ends, scale to an RMS level drawn from the kind's range (lowered if a peak would pass
    PEAK_LIMIT), return float32."""
    x = fade_ends(x - np.mean(x), sr, 0.05)
    level = 10.0 ** (rng.uniform(*BACKGROUND_LEVELS_DB[kind]) / 20.0)
    x = x * (level / rms(x))
    peak = float(np.max(np.abs(x)))
    return (x * min(1.0, PEAK_LIMIT / peak)).astype(np.float32)


def _floor_noise(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Unit-RMS pink-to-brown room noise, low-passed: the floor under every bed."""
    noise = colored_noise(rng, n, sr, rng.uniform(1.0, 2.0))
    return unit_rms(butter_filter(noise, sr, "lowpass", rng.uniform(2000, 8000), order=2))


def _drift(rng: np.random.Generator, n: int, sr: int, depth: float) -> np.ndarray:
    """A slow level drift of about +-depth (relative), for stationary-ish beds."""
    return 1.0 + depth * np.tanh(smooth_curve(rng, n, sr, rng.uniform(0.05, 0.3)))


def room_tone(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    """Room tone: quiet pink-to-brown noise with a slow level drift."""
    n = seconds_to_samples(sr, duration)
    return _finish_background(_floor_noise(rng, n, sr) * _drift(rng, n, sr, 0.1), sr, rng, "room_tone")


def mains_hum(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    """Mains hum of a transformer or fridge (50 or 60 Hz family) over room tone."""
    n = seconds_to_samples(sr, duration)
    mains = float(rng.choice([50.0, 60.0])) * (1.0 + rng.normal(0.0, 0.002))
    fundamental = mains * (2.0 if rng.random() < 0.5 else 1.0)  # magnetostriction hums at twice the mains
    f0 = fundamental * (1.0 + 0.0005 * smooth_curve(rng, n, sr, 0.5))
    gains = rng.lognormal(0.0, 0.7, 10) * np.where(np.arange(1, 11) % 2 == 1, 1.0, rng.uniform(0.1, 0.6))
    gains *= np.arange(1, 11) ** -rng.uniform(0.5, 1.5)
    hum = unit_rms(harmonic_sum(oscillator_phase(rng, f0, sr), f0, sr, lambda k, _: gains[k - 1], 10))
    bed = hum * _drift(rng, n, sr, 0.05) + rng.uniform(0.1, 0.5) * _floor_noise(rng, n, sr)
    return _finish_background(bed, sr, rng, "mains_hum")


def ventilation(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    """Ventilation or a range hood: broadband fan noise with a weak blade-pass tone."""
    n = seconds_to_samples(sr, duration)
    air = band_noise(rng, n, sr, rng.uniform(80, 300), rng.uniform(1500, 5000), rng.uniform(0.5, 1.2))
    blade_pass = rng.uniform(10, 30) * int(rng.integers(3, 8))
    f0 = np.full(n, blade_pass) * (1.0 + 0.002 * smooth_curve(rng, n, sr, 1.0))
    tone = unit_rms(harmonic_sum(oscillator_phase(rng, f0, sr), f0, sr, lambda k, _: k ** -1.5, 4))
    bed = (air + rng.uniform(0.05, 0.3) * tone) * _drift(rng, n, sr, 0.08) + 0.2 * _floor_noise(rng, n, sr)
    return _finish_background(bed, sr, rng, "ventilation")


def distant_rumble(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    """Distant traffic through a window: low-passed brown noise with slow swells, over room tone."""
    n = seconds_to_samples(sr, duration)
    rumble = unit_rms(butter_filter(colored_noise(rng, n, sr, 2.0), sr, "lowpass", rng.uniform(60, 250)))
    swells = 1.0 + 0.25 * np.tanh(smooth_curve(rng, n, sr, rng.uniform(0.05, 0.2)))
    bed = rumble * swells + rng.uniform(0.2, 0.5) * _floor_noise(rng, n, sr)
    return _finish_background(bed, sr, rng, "distant_rumble")

def fan(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    """A desk fan or an air conditioner: loud airflow whooshing at the blade-pass rate, its tone and a motor hum;
    half of them oscillate, sweeping level and brightness."""
    n = seconds_to_samples(sr, duration)
    t = np.arange(n) / sr
    air = band_noise(rng, n, sr, rng.uniform(60, 200), rng.uniform(3000, 7000), rng.uniform(0.3, 1.0))
    blade_pass = np.full(n, rng.uniform(15, 25) * int(rng.integers(3, 6)))
    blade_pass *= 1.0 + 0.003 * smooth_curve(rng, n, sr, 0.5)
    phase = oscillator_phase(rng, blade_pass, sr)
    tone = unit_rms(harmonic_sum(phase, blade_pass, sr, lambda k, _: k ** -1.0, 8))
    whoosh = 1.0 + rng.uniform(0.05, 0.3) * np.sin(phase)
    mains = np.full(n, float(rng.choice([100.0, 120.0])))
    hum = unit_rms(harmonic_sum(oscillator_phase(rng, mains, sr), mains, sr, lambda k, _: k ** -2.0, 5))
    bed = air * whoosh + rng.uniform(0.1, 0.5) * tone + rng.uniform(0.0, 0.3) * hum
    if rng.random() < 0.5:                                   # an oscillating fan turns towards and away
        bed *= 1.0 + rng.uniform(0.2, 0.5) * np.sin(TWO_PI * rng.uniform(0.05, 0.12) * t + rng.uniform(0, TWO_PI))
    return _finish_background(bed, sr, rng, "fan")


def washing_machine(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    """A washing machine or dishwasher: a drum turning and tumbling laundry (swish and thumps in its rhythm), or
    a spin cycle's whine rising to speed, over pump noise."""
    n = seconds_to_samples(sr, duration)
    t = np.arange(n) / sr
    pump = band_noise(rng, n, sr, 100, rng.uniform(1500, 4000), 1.0)
    if rng.random() < 0.5:                                   # wash: the drum turns, the laundry falls
        turn = raised(0.5 + 0.5 * np.sin(TWO_PI * rng.uniform(0.4, 1.0) * t + rng.uniform(0, TWO_PI)))
        swish = unit_rms(butter_filter(colored_noise(rng, n, sr, 1.0), sr, "bandpass", (200, 2500)))
        thumps = impulse_events(rng, n, sr, rng.uniform(0.5, 2.0), turn + 0.05, rng.uniform(0.01, 0.04), (40, 400))
        thumps *= rng.uniform(1.0, 4.0) / (np.max(np.abs(thumps)) + 1e-12)   # peaks a few times the swish's RMS
        bed = swish * (0.2 + turn) + thumps + 0.3 * pump
    else:                                                    # spin: the drum speeds up to 10-20 turns a second
        drum = rng.uniform(10, 20) * (0.5 + 0.5 * raised(t / rng.uniform(2.0, 8.0)))
        motor = drum * int(rng.integers(6, 14))
        whine = unit_rms(harmonic_sum(oscillator_phase(rng, motor, sr), motor, sr, lambda k, _: k ** -1.5, 6))
        rumble = unit_rms(butter_filter(colored_noise(rng, n, sr, 1.5), sr, "lowpass", 400))
        wobble = 1.0 + 0.3 * np.sin(oscillator_phase(rng, drum, sr))
        bed = rumble * wobble + rng.uniform(0.1, 0.5) * whine + 0.3 * pump
    return _finish_background(bed, sr, rng, "washing_machine")


def traffic(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    """Traffic through a window: cars and lorries passing (a swell of engine and tyre noise each) over a rumble,
    muffled by the glass."""
    n = seconds_to_samples(sr, duration)
    t = np.arange(n) / sr
    bed = unit_rms(butter_filter(colored_noise(rng, n, sr, 2.0), sr, "lowpass", rng.uniform(100, 300)))
    for _ in range(rng.poisson(rng.uniform(0.1, 0.6) * duration)):   # a few vehicles: a loop over passes
        closest, speed = rng.uniform(-1.0, duration + 1.0), rng.uniform(0.5, 2.0)
        swell = 1.0 / (1.0 + ((t - closest) * speed / 0.5) ** 2)    # ~ 1 / distance**2 of a passing source
        tyres = band_noise(rng, n, sr, rng.uniform(40, 100), rng.uniform(800, 3000), rng.uniform(0.5, 1.5))
        bed += rng.uniform(1.0, 4.0) * swell * tyres
    bed = butter_filter(bed, sr, "lowpass", rng.uniform(1500, 4000), order=2)
    return _finish_background(bed, sr, rng, "traffic")


def rain(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    """Rain on a window or a roof: dense drop impacts over broadband hiss, its intensity drifting, with drips
    from a gutter."""
    n = seconds_to_samples(sr, duration)
    intensity = np.exp(0.3 * smooth_curve(rng, n, sr, rng.uniform(0.1, 0.5)))
    drops = impulse_events(rng, n, sr, float(log_uniform(rng, 200, 3000)), intensity, rng.uniform(0.0005, 0.003),
                           (rng.uniform(300, 1500), 0.45 * sr))
    hiss = band_noise(rng, n, sr, rng.uniform(200, 800), rng.uniform(4000, 7500), rng.uniform(0.0, 1.0))
    drips = bubbles(rng, n, sr, rng.uniform(2, 20), (300, 1500), (0.005, 0.02))
    bed = unit_rms(drops) + rng.uniform(0.3, 1.5) * hiss * intensity + rng.uniform(0.0, 0.5) * unit_rms(drips)
    return _finish_background(bed, sr, rng, "rain")


def babble(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    """A television, a radio or people in the next room: 3-7 voices talking over each other, heard through a
    small loudspeaker or a wall (band-limited), so no single voice stands out."""
    n = seconds_to_samples(sr, duration)
    voices = np.zeros(n)
    for _ in range(int(rng.integers(3, 8))):                 # a loop over voices and their utterances
        position = rng.uniform(-2.0, 0.0)
        while position < duration:
            utterance = speech(rng, sr)
            start = int(round(position * sr))
            first, last = max(start, 0), min(start + len(utterance), n)
            if last > first:
                voices[first:last] += utterance[first - start: last - start]
            position += len(utterance) / sr + rng.uniform(0.1, 1.0)
    speaker = butter_filter(voices, sr, "bandpass", (rng.uniform(200, 500), rng.uniform(2500, 4500)))
    return _finish_background(speaker + 0.05 * rms(speaker) * band_noise(rng, n, sr, 100, 6000), sr, rng, "babble")


def exercise_machine(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    """An exercise bike or a treadmill: a flywheel's whirr and belt hiss swelling with every pedal stroke, or a
    motor's whine with footfalls on the belt."""
    n = seconds_to_samples(sr, duration)
    t = np.arange(n) / sr
    cadence = rng.uniform(0.8, 1.6)                          # strokes or strides per second
    stroke = np.sin(TWO_PI * cadence * t + rng.uniform(0, TWO_PI)) ** 2
    wheel = rng.uniform(8, 25) * (1.0 + 0.03 * stroke)       # flywheel or roller turns per second
    whirr = unit_rms(harmonic_sum(oscillator_phase(rng, wheel, sr), wheel, sr, lambda k, _: k ** -0.8, 40))
    belt = band_noise(rng, n, sr, 200, rng.uniform(2000, 6000), 0.5)
    bed = (whirr + rng.uniform(0.3, 1.0) * belt) * (1.0 + rng.uniform(0.2, 0.6) * stroke)
    if rng.random() < 0.5:                                   # a treadmill: footfalls, two per stride
        steps = impulse_events(rng, n, sr, 2.0 * cadence, (stroke > 0.9).astype(float) + 1e-3, 0.02, (40, 500))
        bed += rng.uniform(0.5, 1.5) * unit_rms(steps)
    return _finish_background(bed, sr, rng, "exercise_machine")


BACKGROUND_SYNTHESIZERS: dict[str, Callable[[np.random.Generator, int, float], np.ndarray]] = {
    "room_tone": room_tone,
    "mains_hum": mains_hum,
    "ventilation": ventilation,
    "distant_rumble": distant_rumble,
    "fan": fan,
    "washing_machine": washing_machine,
    "traffic": traffic,
    "rain": rain,
    "babble": babble,
    "exercise_machine": exercise_machine,
}
