"""The synthetic domain: strong-labelled soundscapes in the DCASE 2020/2021 recipe.

Per clip: a background bed at ref_db LUFS, 1..max_events foreground events of uniformly drawn classes, each
the whole of a source file (cut to the clip length when longer), SNR uniform in snr_db, pitch shift uniform in
[-pitch_shift, pitch_shift] semitones, at most max_polyphony events at once, events shorter than
min_event_duration dropped, events of one class at least min_gap apart; then 0..max_non_target unlabelled
non-target events (DCASE 2021's FUSS events), SNR uniform in snr_db, anywhere.

The train set mixes the synthetic partition's training pool only, the test set its test pool only
(`ifdsed.soundbank.pools`): test clips hold sounds no training clip holds, as the DCASE 2019 synthetic evaluation
set holds FSD clips the training soundbank does not.
"""
from __future__ import annotations

from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd

from ifdsed.config import Params, SynthParams
from ifdsed.scenes.planning import (ClipPlan, PlannedEvent, choose_background, choose_source, clip_rng,
                                    place_events, plan_non_target)
from ifdsed.scenes.render import ClipJob, MixSettings, render_sets, write_set_tables
from ifdsed.soundbank.pools import set_sources_by_role

SYNTHETIC_SETS = ("train", "test")  # index in this tuple seeds the set's random stream


def plan_synthetic_clip(name: str, rng: np.random.Generator, foregrounds: pd.DataFrame,
                        backgrounds: pd.DataFrame, classes: tuple[str, ...], synth: SynthParams,
                        clip_duration: float, non_targets: pd.DataFrame | None = None) -> ClipPlan:
    """Draw one clip's background and events (all random choices come from rng)."""
    background = choose_background(backgrounds, rng, clip_duration)
    n_events = int(rng.integers(1, synth.max_events + 1))
    labels, files, durations, source_times = [], [], [], []
    for label in rng.choice(classes, size=n_events):
        file, source_duration = choose_source(foregrounds, str(label), rng)
        duration = float(np.floor(min(source_duration, clip_duration) * 1000) / 1000)
        if duration < synth.min_event_duration:
            continue
        labels.append(str(label))
        files.append(file)
        durations.append(duration)
        source_times.append(round(float(rng.uniform(0, max(0.0, source_duration - duration - 0.001))), 3))
    snrs = rng.uniform(*synth.snr_db, size=len(labels)).round(2)
    pitches = rng.uniform(-synth.pitch_shift, synth.pitch_shift, size=len(labels)).round(2)
    placed = place_events(durations, labels, rng, clip_duration, synth.max_polyphony, synth.min_gap)
    events = tuple(PlannedEvent(labels[i], files[i], source_times[i], onset, durations[i], float(snrs[i]),
                                float(pitches[i])) for i, onset in placed)
    others = (plan_non_target(non_targets, rng, synth.max_non_target, synth.snr_db, clip_duration)
              if non_targets is not None else ())
    return ClipPlan(name, background, events, others)


def synthesize_sets(params: Params, sources: pd.DataFrame, fg_dir: str, bg_dir: str, out_root: Path,
                    sets: tuple[str, ...] = SYNTHETIC_SETS) -> dict:
    """Render the synthetic sets named in `sets` (train and test by default) into out_root/<set>; returns counts
    per set. Leaving the test set out (it is imported instead) changes no byte of the train set.

    `sources` has columns role, label, file, duration, pool (file usable as a path from the working directory);
    each set draws from its own pool (`ifdsed.soundbank.pools.set_sources`)."""
    synth, clip_duration = params.synth, params.data.clip_duration
    by_role = set_sources_by_role(sources, "synthetic")
    mix = MixSettings(fg_dir, bg_dir, params.data.sample_rate, clip_duration, synth.ref_db)
    n_clips = {"train": synth.train_clips, "test": synth.test_clips}
    sizes = {name: n_clips[name] for name in SYNTHETIC_SETS if name in sets}  # index: place in SYNTHETIC_SETS

    names = tuple(sizes)

    def make_job(set_index: int, clip_index: int) -> ClipJob:  # runs in the pool's workers
        set_name = names[set_index]                               # set_index: its place in `sizes`
        set_dir = out_root / set_name
        rng = clip_rng(synth.seed, SYNTHETIC_SETS.index(set_name), clip_index)
        pool = by_role[set_name]
        plan = plan_synthetic_clip(f"syn_{set_name}_{clip_index:05d}", rng, pool["foreground"], pool["background"],
                                   params.classes, synth, clip_duration, pool["non_target"])
        seed = int(rng.integers(2**31 - 1))
        return ClipJob(plan, seed, mix, str(set_dir / "audio"), str(set_dir / "jams"))

    summary = {}
    with closing(render_sets(make_job, sizes, synth.workers, "synthetic sets")) as rendered_sets:
        for set_name, filenames, events, mixed_from in rendered_sets:
            write_set_tables(out_root / set_name, filenames, events, clip_duration, sources=mixed_from)
            summary[set_name] = {"clips": len(filenames), "events": len(events)}
    return summary
