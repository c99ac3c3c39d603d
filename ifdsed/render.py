"""Render a planned clip with Scaper, and write clip sets with a pool of workers.

Scaper does the mixing (loudness normalisation to ref_db, SNR, pitch shift through SoX, fades) and the JAMS
annotation; the plan (ifdsed.planning) fixes every random choice beforehand, so the bytes of a clip depend only
on its plan, never on the worker that rendered it.

A clip that Scaper cannot mix (or that comes out with NaN or Inf samples) stops the stage with a `RenderError`
naming the clip and its source files, never a traceback from inside Scaper. Every file is written under a
temporary name and renamed, and a set's ``clips.tsv`` is written last: a set folder without it is unfinished.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import soundfile
from tqdm import tqdm

from ifdsed.planning import ClipPlan
from ifdsed.sources import InputError
from ifdsed.tables import write_clips, write_events, write_tags, tags_from_events


class RenderError(InputError):
    """A clip could not be mixed; the message names the clip and its source files."""


@dataclass(frozen=True)
class MixSettings:
    """What every clip of a set shares."""
    fg_dir: str
    bg_dir: str
    sample_rate: int
    clip_duration: float
    ref_db: float


def mix_with_scaper(plan: ClipPlan, mix: MixSettings, seed: int):
    """Scaper mix of one plan -> (audio [samples] float64, jams.JAMS, events [(onset, offset, label)])."""
    import scaper  # imported here: it is slow to import and only workers need it

    soundscape = scaper.Scaper(mix.clip_duration, mix.fg_dir, mix.bg_dir, random_state=seed)
    soundscape.sr = mix.sample_rate
    soundscape.ref_db = mix.ref_db
    soundscape.n_channels = 1
    soundscape.fade_in_len = 0.01
    soundscape.fade_out_len = 0.01
    background = plan.background
    soundscape.add_background(label=("const", background.label), source_file=("const", background.source_file),
                              source_time=("const", background.source_time))
    for event in plan.events:
        soundscape.add_event(
            label=("const", event.label), source_file=("const", event.source_file),
            source_time=("const", event.source_time), event_time=("const", event.onset),
            event_duration=("const", event.duration), snr=("const", event.snr),
            pitch_shift=("const", event.pitch_shift) if event.pitch_shift else None, time_stretch=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scaper warns about peak normalisation on loud mixes
        audio, jam, annotations, _ = soundscape.generate(fix_clipping=True, disable_sox_warnings=True)
    events = [(round(float(onset), 3), round(float(offset), 3), str(label)) for onset, offset, label in annotations]
    return audio[:, 0], jam, events


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM, written under a temporary name and renamed, so a killed run leaves no partial wav."""
    tmp = path.with_name(path.name + ".tmp.wav")
    soundfile.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")
    os.replace(tmp, path)


def _write_jams(path: Path, jam) -> None:
    tmp = path.with_name(path.stem + ".tmp.jams")
    jam.save(str(tmp))
    os.replace(tmp, path)


@dataclass(frozen=True)
class ClipJob:
    """Everything a worker needs for one clip."""
    index: int
    plan: ClipPlan
    seed: int
    mix: MixSettings
    audio_dir: str
    jams_dir: str | None
    postprocess: Callable[[np.ndarray, int], np.ndarray] | None = None  # (audio, clip seed) -> audio


def _sources(plan: ClipPlan) -> str:
    return ", ".join([plan.background.source_file] + [event.source_file for event in plan.events])


def render_job(job: ClipJob) -> tuple[str, list[tuple[float, float, str]]]:
    """Mix, optionally post-process, and write one clip; returns (filename, events).

    Raises `RenderError` naming the clip and its sources when Scaper fails or the audio is not finite."""
    logging.getLogger("sox").setLevel(logging.ERROR)
    try:
        audio, jam, events = mix_with_scaper(job.plan, job.mix, job.seed)
    except Exception as error:  # noqa: BLE001 - Scaper, SoX and libsndfile raise many types; say which clip
        raise RenderError(f"{job.plan.name}: Scaper could not mix it from {_sources(job.plan)}: "
                          f"{type(error).__name__}: {error}".strip()) from None
    if job.postprocess is not None:
        audio = job.postprocess(audio, job.seed)
    if not np.isfinite(audio).all():
        raise RenderError(f"{job.plan.name}: the mix holds NaN or Inf samples; its sources: {_sources(job.plan)} "
                          f"(rerun the soundbank stage, which checks every source: `dvc repro -f soundbank`)")
    filename = f"{job.plan.name}.wav"
    write_wav(Path(job.audio_dir) / filename, audio, job.mix.sample_rate)
    if job.jams_dir is not None:
        _write_jams(Path(job.jams_dir) / f"{job.plan.name}.jams", jam)
    return filename, events


def render_set(jobs: list[ClipJob], workers: int, description: str) -> pd.DataFrame:
    """Render every job (in a pool when workers > 1) and return the strong labels of the set.

    Output order, bytes and labels are the same for any number of workers."""
    for job in jobs[:1]:
        Path(job.audio_dir).mkdir(parents=True, exist_ok=True)
        if job.jams_dir:
            Path(job.jams_dir).mkdir(parents=True, exist_ok=True)
    rows = []
    progress = tqdm(total=len(jobs), desc=description, unit="clip")
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.imap(render_job, jobs, chunksize=4)
            for filename, events in results:
                rows.extend((filename, onset, offset, label) for onset, offset, label in events)
                progress.update()
    else:
        for job in jobs:
            filename, events = render_job(job)
            rows.extend((filename, onset, offset, label) for onset, offset, label in events)
            progress.update()
    progress.close()
    return pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"])


def write_set_tables(set_dir: Path, filenames: list[str], events: pd.DataFrame, clip_duration: float,
                     expose_events: bool = True, hidden_events_path: Path | None = None) -> None:
    """clips.tsv, tags.tsv and (when the set's timestamps may be seen) events.tsv for a rendered set.

    clips.tsv is written last, so a set whose tables were interrupted has none and is never taken as complete
    (the features stage requires it)."""
    audio_dir = set_dir / "audio"
    clips = pd.DataFrame({"filename": filenames, "path": [str(audio_dir / name) for name in filenames],
                          "duration": clip_duration})
    (set_dir / "clips.tsv").unlink(missing_ok=True)
    if hidden_events_path is not None:
        write_events(events, hidden_events_path)
    if expose_events:
        write_events(events, set_dir / "events.tsv")
    write_tags(tags_from_events(events, filenames), set_dir / "tags.tsv")
    write_clips(clips, set_dir / "clips.tsv")
