"""Render a planned clip with Scaper, and write clip sets with a pool of workers.

Scaper does the mixing (loudness normalisation to ref_db, SNR, pitch shift through SoX, fades) and the JAMS
annotation; the plan (ifdsed.scenes.planning) fixes every random choice beforehand, so the bytes of a clip depend only
on its plan, never on the worker that rendered it.

A clip that Scaper cannot mix (or that comes out with NaN or Inf samples) stops the stage with a `RenderError`
naming the clip and its source files, never a traceback from inside Scaper. Every file is written under a
temporary name and renamed, and a set's ``clips.tsv`` is written last: a set folder without it is unfinished.

Every set also records what each clip was mixed from, ``sources.tsv`` (filename, role, label, source_file: the
background bed, the labelled events and the non-target events, one row each), the record the held-out-sources
check reads (`ifdsed.soundbank.pools`, tests/scenes/test_held_out.py).
"""
from __future__ import annotations

import logging
import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd
import soundfile
from tqdm import tqdm

from ifdsed.scenes.planning import ClipPlan
from ifdsed.errors import InputError
from ifdsed.io.atomic import atomic_path
from ifdsed.io.tables import write_clips, write_events, write_tags, tags_from_events


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
    """Scaper mix of one plan -> (audio [samples] float64, jams.JAMS, events [(onset, offset, label)]).

    The plan's non-target events are mixed like the others and kept in the JAMS annotation (the whole truth of
    the mix), but never in the returned events, which become the label tables."""
    import scaper  # imported here: it is slow to import (render_sets imports it once, before its workers fork)

    soundscape = scaper.Scaper(mix.clip_duration, mix.fg_dir, mix.bg_dir, random_state=seed)
    soundscape.sr = mix.sample_rate
    soundscape.ref_db = mix.ref_db
    soundscape.n_channels = 1
    soundscape.fade_in_len = 0.01
    soundscape.fade_out_len = 0.01
    background = plan.background
    soundscape.add_background(label=("const", background.label), source_file=("const", background.source_file),
                              source_time=("const", background.source_time))
    for event in plan.events + plan.non_target:
        soundscape.add_event(
            label=("const", event.label), source_file=("const", event.source_file),
            source_time=("const", event.source_time), event_time=("const", event.onset),
            event_duration=("const", event.duration), snr=("const", event.snr),
            pitch_shift=("const", event.pitch_shift) if event.pitch_shift else None, time_stretch=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scaper warns about peak normalisation on loud mixes
        audio, jam, annotations, _ = soundscape.generate(fix_clipping=True, disable_sox_warnings=True)
    targets = {event.label for event in plan.events}
    events = [(round(float(onset), 3), round(float(offset), 3), str(label)) for onset, offset, label in annotations
              if label in targets]
    return audio[:, 0], jam, events


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM, written under a temporary name and renamed, so a killed run leaves no partial wav."""
    with atomic_path(path) as tmp:
        soundfile.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")


def _write_jams(path: Path, jam) -> None:
    with atomic_path(path) as tmp:
        jam.save(str(tmp))


@dataclass(frozen=True)
class ClipJob:
    """Everything a worker needs for one clip."""
    plan: ClipPlan
    seed: int
    mix: MixSettings
    audio_dir: str
    jams_dir: str | None
    postprocess: Callable[[np.ndarray, int], np.ndarray] | None = None  # (audio, clip seed) -> audio


SOURCE_COLUMNS = ["filename", "role", "label", "source_file"]
Source = tuple[str, str, str]               # (role, label, source file) of one sound mixed into a clip
Rendered = tuple[str, list[tuple[float, float, str]], list[Source]]   # (filename, events, sources) of a clip


def plan_sources(plan: ClipPlan) -> list[Source]:
    """What a clip is mixed from: its bed, its labelled events, its non-target events, in that order."""
    return ([("background", plan.background.label, plan.background.source_file)]
            + [("foreground", event.label, event.source_file) for event in plan.events]
            + [("non_target", event.label, event.source_file) for event in plan.non_target])


def _sources(plan: ClipPlan) -> str:
    return ", ".join(source_file for _, _, source_file in plan_sources(plan))


def render_job(job: ClipJob) -> Rendered:
    """Mix, optionally post-process, and write one clip; returns (filename, events, sources).

    Raises `RenderError` naming the clip and its sources when Scaper fails or the audio is not finite."""
    logging.getLogger("sox").setLevel(logging.ERROR)
    Path(job.audio_dir).mkdir(parents=True, exist_ok=True)
    if job.jams_dir is not None:
        Path(job.jams_dir).mkdir(parents=True, exist_ok=True)
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
    return filename, events, plan_sources(job.plan)


JobMaker = Callable[[int, int], ClipJob]  # (set index, clip index) -> the clip's job, plan included


@dataclass(frozen=True)
class ClipMaker:
    """Plans and renders the clip at a position (set index, clip index); any failure becomes a `RenderError`
    naming the clip (a message-only exception, which always comes back from a worker process intact)."""
    make_job: JobMaker
    set_names: tuple[str, ...]

    def __call__(self, position: tuple[int, int]) -> Rendered:
        set_index, clip_index = position
        try:
            job = self.make_job(set_index, clip_index)
        except Exception as error:  # noqa: BLE001 - name the clip whatever went wrong
            raise RenderError(f"clip {clip_index} of the {self.set_names[set_index]} set could not be planned: "
                              f"{type(error).__name__}: {error}") from None
        try:
            return render_job(job)
        except RenderError:
            raise
        except Exception as error:  # noqa: BLE001 - the recording chain and the writers raise many types
            raise RenderError(f"{job.plan.name}: {type(error).__name__}: {error}") from None


_worker_clip_maker: ClipMaker | None = None  # set in each worker process by _start_worker


def _start_worker(maker: ClipMaker) -> None:
    global _worker_clip_maker
    _worker_clip_maker = maker


def _render_position(position: tuple[int, int]) -> Rendered:
    return _worker_clip_maker(position)


def _render_in_pool(maker: ClipMaker, positions: list[tuple[int, int]], workers: int) -> Iterator[Rendered]:
    """maker(position) for every position in `workers` forked processes; results in order.

    fork: the workers inherit the maker (a closure over the source tables), only positions and results are
    pickled. A worker that dies (killed, out of memory) stops the stage with a RenderError instead of a hang;
    leaving early (an error, a closed generator) cancels the clips not started."""
    executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_start_worker, initargs=(maker,))
    try:
        yield from executor.map(_render_position, positions, chunksize=1)
    except BrokenProcessPool:
        raise RenderError("a rendering worker process died (killed, or out of memory?); the sets not finished "
                          "have no clips.tsv and are never used: rerun the stage") from None
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def render_sets(make_job: JobMaker, set_sizes: dict[str, int], workers: int, description: str
                ) -> Iterator[tuple[str, list[str], pd.DataFrame, pd.DataFrame]]:
    """Plan and render every clip of the sets (in worker processes when workers > 1); yields (set name, its
    filenames in clip order, its strong labels, its sources table) for each set, in order, as soon as its last
    clip is rendered.

    make_job(set index, clip index) builds a clip's job, the set index being the set's position in set_sizes.
    One pool serves all the sets, and its workers plan the clips too: the parent only hands out positions, one
    at a time (clips take 0.02 to 0.08 s each, so this balances best), and collects the results. Scaper is
    imported here, before the workers fork, so they inherit it instead of each importing it (a second of
    start-up per worker). A plan depends only on its position and the seeds, so the bytes and labels are the
    same for any number of workers."""
    import scaper  # noqa: F401 - once, in the parent: forked workers inherit the imported module
    maker = ClipMaker(make_job, tuple(set_sizes))
    positions = [(set_index, clip_index) for set_index, size in enumerate(set_sizes.values())
                 for clip_index in range(size)]
    rendered = (_render_in_pool(maker, positions, workers) if workers > 1
                else (maker(position) for position in positions))
    with closing(rendered), tqdm(total=len(positions), desc=description, unit="clip") as progress:
        for name, size in set_sizes.items():
            results = []
            for result in islice(rendered, size):
                results.append(result)
                progress.update()
            yield name, [filename for filename, _, _ in results], events_table(results), sources_table(results)


def events_table(results: Iterable[Rendered]) -> pd.DataFrame:
    """Rendered clips -> the set's strong labels: filename, onset, offset, event_label."""
    rows = [(filename, onset, offset, label) for filename, events, _ in results for onset, offset, label in events]
    return pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"])


def sources_table(results: Iterable[Rendered]) -> pd.DataFrame:
    """Rendered clips -> what each was mixed from: SOURCE_COLUMNS, one row per sound of each clip."""
    rows = [(filename, *source) for filename, _, sources in results for source in sources]
    return pd.DataFrame(rows, columns=SOURCE_COLUMNS)


def write_set_tables(set_dir: Path, filenames: list[str], events: pd.DataFrame, clip_duration: float,
                     expose_events: bool = True, hidden_events_path: Path | None = None,
                     sources: pd.DataFrame | None = None, labelled: bool = True) -> None:
    """clips.tsv, tags.tsv (unless the set is unlabelled: `labelled` false), (when the set's timestamps may be
    seen) events.tsv and (when given) sources.tsv for a rendered set.

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
    if labelled:
        write_tags(tags_from_events(events, filenames), set_dir / "tags.tsv")
    if sources is not None:
        with atomic_path(set_dir / "sources.tsv") as tmp:
            sources.to_csv(tmp, sep="\t", index=False, lineterminator="\n")
    write_clips(clips, set_dir / "clips.tsv")
