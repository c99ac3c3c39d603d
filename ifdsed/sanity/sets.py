"""The sanity check's clips: real events mixed into real ambiences by Scaper, and the ambiences alone.

`make_sanity_sets(bank, out, ...)` writes, from a soundbank built by `ifdsed.sanity.sources.build_bank`:

- ``out/mixes/``: `mixes` clips in the DESED layout (audio/, events.tsv, tags.tsv, clips.tsv), each a 10 s
  stretch of a real ambience with 1..max_events real events placed by the project's planner (polyphony at most
  2, same-class gap 0.15 s), SNR uniform in snr_db, no pitch shift: the synthetic domain's recipe, with real
  sources on both sides;
- ``out/background/``: every whole clip-length window of every ambience, with an empty events table: what a
  detector finds there is a false alarm.

Every random choice flows from `seed`; the same bank and seed give the same bytes.
"""
from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pandas as pd

from ifdsed.config import SynthParams
from ifdsed.io.audio import decode
from ifdsed.scenes.planning import clip_rng
from ifdsed.scenes.render import ClipJob, MixSettings, render_sets, write_set_tables, write_wav
from ifdsed.scenes.synthesis import plan_synthetic_clip
from ifdsed.soundbank.bank import index_soundbank

MIX_RECIPE = dict(snr_db=(0.0, 20.0), pitch_shift=0.0, max_events=3, max_polyphony=2, min_event_duration=0.25,
                  min_gap=0.15, max_non_target=0)


def bank_sources(bank: Path) -> tuple[pd.DataFrame, list[str]]:
    """The bank's files as the planners take them (role, label, file, duration) and its classes, sorted."""
    bank = Path(bank)
    classes = sorted(path.name for path in (bank / "foreground").iterdir() if path.is_dir())
    manifest = index_soundbank(bank, classes)
    sources = pd.DataFrame({"role": manifest["role"], "label": manifest["label"], "file": manifest["path"],
                            "duration": manifest["duration"]})
    return sources, classes


def write_mixes(bank: Path, sources: pd.DataFrame, classes: list[str], out: Path, sample_rate: int,
                clip_duration: float, seed: int, mixes: int, workers: int = 2) -> pd.DataFrame:
    """out/mixes/ (see the module docstring) from the bank's `bank_sources`; returns its events table."""
    recipe = SynthParams(seed=seed, train_clips=mixes, ref_db=-40, **MIX_RECIPE)
    mix = MixSettings(str(Path(bank) / "foreground"), str(Path(bank) / "background"), sample_rate, clip_duration,
                      recipe.ref_db)
    foregrounds, backgrounds = sources[sources.role == "foreground"], sources[sources.role == "background"]

    def make_job(set_index: int, clip_index: int) -> ClipJob:
        rng = clip_rng(seed, set_index, clip_index)
        plan = plan_synthetic_clip(f"real_mix_{clip_index:03d}", rng, foregrounds, backgrounds, tuple(classes),
                                   recipe, clip_duration)
        return ClipJob(plan, int(rng.integers(2**31 - 1)), mix, str(Path(out) / "mixes" / "audio"), None)

    with closing(render_sets(make_job, {"mixes": mixes}, workers, "real-audio mixes")) as rendered:
        for _, filenames, events, _ in rendered:
            write_set_tables(Path(out) / "mixes", filenames, events, clip_duration)
    return events


def write_background_windows(sources: pd.DataFrame, out: Path, sample_rate: int, clip_duration: float) -> list[str]:
    """out/background/: every whole window of every ambience among `sources`; returns the filenames."""
    window = int(round(clip_duration * sample_rate))
    filenames = []
    for row in sources[sources.role == "background"].itertuples():
        audio, _, _ = decode(row.file, sample_rate)
        for start in range(0, len(audio) - window + 1, window):
            name = f"{row.label}_{Path(row.file).stem}_{start // window:02d}.wav"
            write_wav(Path(out) / "background" / "audio" / name, audio[start:start + window], sample_rate)
            filenames.append(name)
    empty = pd.DataFrame(columns=["filename", "onset", "offset", "event_label"])
    write_set_tables(Path(out) / "background", filenames, empty, clip_duration)
    return filenames


def make_sanity_sets(bank: Path, out: Path, sample_rate: int, clip_duration: float, seed: int = 0,
                     mixes: int = 60, workers: int = 2) -> dict:
    """Both sets; returns their sizes and the classes the mixes hold."""
    sources, classes = bank_sources(bank)          # every file decoded and checked once
    events = write_mixes(bank, sources, classes, out, sample_rate, clip_duration, seed, mixes, workers)
    windows = write_background_windows(sources, out, sample_rate, clip_duration)
    return {"mixes": mixes, "mix_events": len(events), "classes": sorted(events["event_label"].unique()),
            "background_windows": len(windows)}
