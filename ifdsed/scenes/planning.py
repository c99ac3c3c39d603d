"""Where the events of one clip go: onsets under a polyphony cap and a same-class gap.

Both domains plan their clips here, with a numpy Generator seeded per clip, and hand the plan to Scaper as
constant distributions, so Scaper only mixes and the plan alone decides what is where.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PlannedEvent:
    """A foreground event: which source file, which part of it, where in the clip and how loud."""
    label: str
    source_file: str
    source_time: float  # s into the source file
    onset: float        # s into the clip
    duration: float     # s
    snr: float          # dB above the background
    pitch_shift: float  # semitones (0: none)


@dataclass(frozen=True)
class PlannedBackground:
    label: str
    source_file: str
    source_time: float


@dataclass(frozen=True)
class ClipPlan:
    name: str
    background: PlannedBackground
    events: tuple[PlannedEvent, ...]              # the labelled events
    non_target: tuple[PlannedEvent, ...] = ()     # sounds outside the classes: mixed, never labelled


def _fits(onset: float, duration: float, label: str, placed: list[tuple[str, float, float]],
          max_polyphony: int, min_gap: float) -> bool:
    """True when [onset, onset + duration) keeps polyphony <= max_polyphony and same-class events
    at least min_gap apart."""
    offset = onset + duration
    starts = np.array([start for _, start, _ in placed] + [onset])
    ends = np.array([end for _, _, end in placed] + [offset])
    # polyphony only changes at event starts: count active events at each start inside the new event
    probes = starts[(starts >= onset) & (starts < offset)]
    active = (starts[None, :] <= probes[:, None]) & (ends[None, :] > probes[:, None])  # [probes, events]
    if active.sum(axis=1).max(initial=0) > max_polyphony:
        return False
    for other, start, end in placed:
        if other == label and onset < end + min_gap and start < offset + min_gap:
            return False
    return True


def place_events(durations: list[float], labels: list[str], rng: np.random.Generator, clip_duration: float,
                 max_polyphony: int, min_gap: float, tries: int = 30) -> list[tuple[int, float]]:
    """Give each requested event (label, duration) an onset, longest first. A request that finds no room
    in `tries` random onsets is dropped. Returns (request index, onset) in onset order."""
    placed: list[tuple[str, float, float]] = []  # (label, onset, offset) of accepted events
    accepted: list[tuple[int, float]] = []
    for index in sorted(range(len(durations)), key=lambda i: -durations[i]):
        duration = min(durations[index], clip_duration)
        for onset in rng.uniform(0.0, clip_duration - duration, size=tries):
            onset = round(float(onset), 3)
            if _fits(onset, duration, labels[index], placed, max_polyphony, min_gap):
                placed.append((labels[index], onset, onset + duration))
                accepted.append((index, onset))
                break
    return sorted(accepted, key=lambda item: (item[1], item[0]))


def choose_source(sources: pd.DataFrame, label: str, rng: np.random.Generator) -> tuple[str, float]:
    """A random source file of `label` from a manifest slice with columns label, file, duration."""
    candidates = sources[sources["label"] == label]
    if candidates.empty:
        raise ValueError(f"the soundbank has no source audio for class {label!r}")
    row = candidates.iloc[int(rng.integers(len(candidates)))]
    return str(row["file"]), float(row["duration"])


def choose_background(backgrounds: pd.DataFrame, rng: np.random.Generator,
                      clip_duration: float) -> PlannedBackground:
    row = backgrounds.iloc[int(rng.integers(len(backgrounds)))]
    spare = max(0.0, float(row["duration"]) - clip_duration - 0.05)
    # A whole number of 1/64 s: Scaper truncates source_time * sr and (source_time + duration) * sr
    # separately, which loses a sample (and fails the mix) unless both products are exact binary floats.
    source_time = np.floor(rng.uniform(0, spare) * 64) / 64
    return PlannedBackground(str(row["label"]), str(row["file"]), float(source_time))


def plan_non_target(non_targets: pd.DataFrame, rng: np.random.Generator, max_events: int,
                    snr_db: tuple[float, float], clip_duration: float) -> tuple[PlannedEvent, ...]:
    """0..max_events non-target events (uniform count): a random kind and file each, the whole file (cut to the
    clip), anywhere in the clip, SNR uniform in snr_db, free to overlap anything (as DCASE's recipe mixes FUSS
    events). Draws nothing from rng when max_events is 0 or there are no non-target sources."""
    if max_events == 0 or non_targets.empty:
        return ()
    kinds = sorted(non_targets["label"].unique())
    events = []
    for _ in range(int(rng.integers(0, max_events + 1))):
        kind = str(kinds[int(rng.integers(len(kinds)))])
        file, source_duration = choose_source(non_targets, kind, rng)
        duration = float(np.floor(min(source_duration, clip_duration) * 1000) / 1000)
        onset = round(float(rng.uniform(0.0, clip_duration - duration)), 3)
        events.append(PlannedEvent(kind, file, 0.0, onset, duration, round(float(rng.uniform(*snr_db)), 2), 0.0))
    return tuple(sorted(events, key=lambda event: (event.onset, event.label)))


def clip_rng(seed: int, set_index: int, clip_index: int) -> np.random.Generator:
    """The random stream of one clip: independent of how clips are spread over workers."""
    return np.random.default_rng(np.random.SeedSequence([seed, set_index, clip_index]))
