"""The simulated real-world domain: weak training, validation and test sets that stand in for DCASE 2018, and an
unlabelled in-domain set (DCASE 2018's unlabelled clips; for the mean teacher).

Clips are planned from the DCASE 2018 label statistics (ifdsed/dcase/dcase2018_stats.json: tag sets with their
co-occurrence, events per tagged class, event durations), mixed by Scaper from the sound bank's realworld
partition (sources never used by the synthetic domain) and then recorded through the acoustic chain of
ifdsed.scenes.acoustics, so the two domains differ in sources, label statistics and acoustics. Within the
partition, each set mixes its own pool (`ifdsed.soundbank.pools`): the weak and unlabelled sets the training pool,
the validation and test sets theirs, so validation and test clips hold sounds and beds no training clip holds. The
unlabelled set is drawn like the weak set (its label statistics) and keeps no label of any kind: clips.tsv and
sources.tsv only.

Per params (both on by default): 0..max_non_target unlabelled non-target events per clip, and
each clip's background at a level drawn from its kind's range (background_levels: the events' SNRs, drawn in
snr_db against a quiet room, drop by as much as the bed is louder than QUIET_ROOM_DB).

The weak set exposes its clip tags only (tags.tsv); its timestamps go to `hidden_dir`, for measurement and the
oracle diagnostic alone. Every set records what each clip was mixed from (sources.tsv).
"""
from __future__ import annotations

from contextlib import closing
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ifdsed.scenes.acoustics import record_with_seed
from ifdsed.config import Params, RealworldParams
from ifdsed.dcase.stats import load_stats, sample_clip_labels
from ifdsed.scenes.planning import ClipPlan, PlannedEvent, choose_background, clip_rng, place_events, plan_non_target
from ifdsed.soundbank.backgrounds import BACKGROUND_LEVELS_DB, QUIET_ROOM_DB
from ifdsed.scenes.render import ClipJob, MixSettings, render_sets, write_set_tables
from ifdsed.soundbank.pools import set_sources_by_role

# A set's place here seeds its clips (`clip_rng`): a new set goes last, so the others keep their bytes.
REALWORLD_SETS = ("weak", "validation", "test", "unlabelled")
STATISTICS = {"weak": "weak", "validation": "validation", "test": "test", "unlabelled": "weak"}  # -> stats file key


def choose_long_enough_source(foregrounds: pd.DataFrame, label: str, duration: float,
                              rng: np.random.Generator) -> tuple[str, float]:
    """A random source of `label` lasting at least `duration`, or the longest there is."""
    candidates = foregrounds[foregrounds["label"] == label]
    if candidates.empty:
        raise ValueError(f"the soundbank's realworld partition has no source audio for class {label!r}")
    long_enough = candidates[candidates["duration"] >= duration]
    if long_enough.empty:
        long_enough = candidates[candidates["duration"] == candidates["duration"].max()]
    row = long_enough.iloc[int(rng.integers(len(long_enough)))]
    return str(row["file"]), float(row["duration"])


def background_boost_db(label: str, rng: np.random.Generator) -> float:
    """How many dB a bed of kind `label` is louder than a quiet room, at a level drawn from its kind's range
    (0 for kinds without one, e.g. a user's own)."""
    low, high = BACKGROUND_LEVELS_DB.get(label, (QUIET_ROOM_DB, QUIET_ROOM_DB))
    return max(0.0, float(rng.uniform(low, high)) - QUIET_ROOM_DB)


def plan_realworld_clip(name: str, rng: np.random.Generator, foregrounds: pd.DataFrame,
                        backgrounds: pd.DataFrame, set_stats: dict, pooled_stats: dict,
                        realworld: RealworldParams, clip_duration: float,
                        non_targets: pd.DataFrame | None = None) -> ClipPlan:
    background = choose_background(backgrounds, rng, clip_duration)
    requests = sample_clip_labels(set_stats, pooled_stats, rng, clip_duration, min_duration=0.25)
    labels, files, durations, source_times = [], [], [], []
    for label, wanted in requests:
        file, source_duration = choose_long_enough_source(foregrounds, label, wanted, rng)
        duration = float(np.floor(min(wanted, source_duration) * 1000) / 1000)
        labels.append(label)
        files.append(file)
        durations.append(duration)
        source_times.append(round(float(rng.uniform(0, max(0.0, source_duration - duration - 0.001))), 3))
    snrs = rng.uniform(*realworld.snr_db, size=len(labels)).round(2)
    placed = place_events(durations, labels, rng, clip_duration, realworld.max_polyphony, realworld.min_gap)
    others = (plan_non_target(non_targets, rng, realworld.max_non_target, realworld.snr_db, clip_duration)
              if non_targets is not None else ())
    if realworld.background_levels:
        boost = background_boost_db(background.label, rng)
        snrs = (snrs - boost).round(2)
        others = tuple(replace(event, snr=round(event.snr - boost, 2)) for event in others)
    events = tuple(PlannedEvent(labels[i], files[i], source_times[i], onset, durations[i], float(snrs[i]), 0.0)
                   for i, onset in placed)
    return ClipPlan(name, background, events, others)


def simulate_sets(params: Params, sources: pd.DataFrame, fg_dir: str, bg_dir: str, out_root: Path,
                  hidden_dir: Path) -> dict:
    """Render the weak, validation, test and unlabelled sets into out_root/<set> (a set of 0 clips is not
    written); returns counts per set."""
    realworld, clip_duration = params.realworld, params.data.clip_duration
    stats = load_stats()
    by_role = set_sources_by_role(sources, "realworld")
    mix = MixSettings(fg_dir, bg_dir, params.data.sample_rate, clip_duration, ref_db=-40.0)
    recorder = partial(record_with_seed, sample_rate=params.data.sample_rate, params=realworld)
    n_clips = {"weak": realworld.weak_clips, "validation": realworld.validation_clips, "test": realworld.test_clips,
               "unlabelled": realworld.unlabelled_clips}
    sizes = {name: n_clips[name] for name in REALWORLD_SETS if n_clips[name]}  # index: its place in REALWORLD_SETS

    def make_job(set_index: int, clip_index: int) -> ClipJob:  # runs in the pool's workers
        set_name, set_dir = REALWORLD_SETS[set_index], out_root / REALWORLD_SETS[set_index]
        # timestamps: the set's own for validation and test; the pooled strong sets for weak, which has none
        label_stats = stats["sets"][STATISTICS[set_name]]
        event_stats = stats["strong_pooled"] if STATISTICS[set_name] == "weak" else label_stats
        rng = clip_rng(realworld.seed, set_index, clip_index)
        pool = by_role[set_name]
        plan = plan_realworld_clip(f"rw_{set_name}_{clip_index:05d}", rng, pool["foreground"], pool["background"],
                                   label_stats, event_stats, realworld, clip_duration,
                                   pool["non_target"])
        seed = int(rng.integers(2**31 - 1))
        return ClipJob(plan, seed, mix, str(set_dir / "audio"), None, recorder)

    summary = {}
    with closing(render_sets(make_job, sizes, realworld.workers, "real-world sets")) as rendered_sets:
        for set_name, filenames, events, mixed_from in rendered_sets:
            weak, unlabelled = set_name == "weak", set_name == "unlabelled"
            write_set_tables(out_root / set_name, filenames, events, clip_duration,
                             expose_events=not (weak or unlabelled),
                             hidden_events_path=hidden_dir / f"{set_name}_events.tsv" if weak else None,
                             sources=mixed_from, labelled=not unlabelled)
            summary[set_name] = {"clips": len(filenames), "events": len(events)}
    return summary
