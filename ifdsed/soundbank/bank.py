"""The sound bank on disk: build the embedded procedural bank, or index a user's real DCASE 2020 soundbank.

Both functions describe the bank with one table, the manifest (``manifest.tsv``, tab-separated, header,
sorted by partition, role, label, path; durations to the millisecond; same content, same bytes):

==============  ================================================================================================
``partition``   ``synthetic`` or ``realworld`` (the embedded bank has both, disjoint; a real bank is ``synthetic``)
``role``        ``foreground``, ``background`` or ``non_target`` (a sound outside the classes, never labelled)
``label``       the class of a foreground clip, the kind of a background bed or non-target sound (its folder)
``path``        the audio file: relative to the bank root (embedded) or absolute (real soundbank);
                ``root / path`` is right in both cases
``duration``    seconds
``sample_rate`` Hz
``pool``        ``train``, ``validation`` or ``test``: the held-out split (ifdsed/soundbank/pools.py)
==============  ================================================================================================

Layout of each embedded partition (the DCASE 2020 task 4 soundbank layout that Scaper reads)::

    <root>/<partition>/foreground/<Class>/<Class>_<NNN>.wav
    <root>/<partition>/foreground/<non-target kind>/<kind>_<NNN>.wav   (Scaper mixes them as events)
    <root>/<partition>/background/<kind>/<kind>_<NNN>.wav
"""
from __future__ import annotations

import multiprocessing
import shutil
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm import tqdm

from ..errors import InputError
from ..io.atomic import atomic_path
from .manifest import MANIFEST_NAME, manifest_table, write_manifest
from .pools import assign_pools
from ..io.audio import AudioCheck, inspect_audio, inspect_files
from .backgrounds import BACKGROUND_SYNTHESIZERS, QUIET_KINDS
from .non_target import NON_TARGET_SYNTHESIZERS
from .synthesizers import CLASS_SYNTHESIZERS
from .variants import CLASS_VARIANTS

PARTITIONS = ("synthetic", "realworld")
ROLES = ("foreground", "background")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
MIN_SOURCE_SECONDS = 0.1   # a real soundbank file shorter than this is skipped: Scaper cannot mix it (fades)

# Stable indices for seeding: a clip's seed does not depend on which other classes are requested.
_CLASS_INDEX = {label: index for index, label in enumerate(CLASS_SYNTHESIZERS)}
_KIND_INDEX = {kind: index for index, kind in enumerate(BACKGROUND_SYNTHESIZERS)}
_NON_TARGET_INDEX = {kind: index for index, kind in enumerate(NON_TARGET_SYNTHESIZERS)}


@dataclass(frozen=True)
class _Job:
    """One file to synthesise: where it goes, what it is, and the entropy of its own random generator."""
    root: str
    path: str                 # relative to root
    partition: str
    role: str
    label: str
    entropy: tuple[int, ...]
    sample_rate: int
    duration: float           # requested duration of a background bed (unused for foregrounds)
    variants: bool = False    # a foreground of a class in source_variants: drawn from its extra kinds too


def _check_classes(classes: Sequence[str]) -> None:
    unknown = [label for label in classes if label not in CLASS_SYNTHESIZERS]
    if unknown:
        raise InputError(f"classes: no synthesizer for class {unknown[0]!r} "
                         f"(the embedded sound bank knows {', '.join(CLASS_SYNTHESIZERS)})")


def _plan(classes: Sequence[str], clips_per_class: int, backgrounds: int, background_duration: float,
          sample_rate: int, seed: int, root: Path, background_kinds: Sequence[str],
          non_target_clips: int, source_variants: Sequence[str]) -> list[_Job]:
    """Every file of both partitions, each with entropy (seed, partition, role, label, clip index): the beds
    spread over `background_kinds` in turn, `non_target_clips` of each non-target kind, the foregrounds of the
    classes in `source_variants` drawn from their extra kinds too."""
    kinds = list(background_kinds)
    jobs = []
    for p, partition in enumerate(PARTITIONS):
        for label in classes:
            for clip in range(clips_per_class):
                jobs.append(_Job(str(root), f"{partition}/foreground/{label}/{label}_{clip:03d}.wav", partition,
                                 "foreground", label, (seed, p, 0, _CLASS_INDEX[label], clip), sample_rate, 0.0,
                                 label in source_variants))
        for bed in range(backgrounds):
            kind, clip = kinds[bed % len(kinds)], bed // len(kinds)
            jobs.append(_Job(str(root), f"{partition}/background/{kind}/{kind}_{clip:03d}.wav", partition,
                             "background", kind, (seed, p, 1, _KIND_INDEX[kind], clip), sample_rate,
                             background_duration))
        for kind in NON_TARGET_SYNTHESIZERS:
            for clip in range(non_target_clips):
                jobs.append(_Job(str(root), f"{partition}/foreground/{kind}/{kind}_{clip:03d}.wav", partition,
                                 "non_target", kind, (seed, p, 2, _NON_TARGET_INDEX[kind], clip), sample_rate, 0.0))
    return jobs


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM wav, written under a temporary name and renamed: never a half-written file."""
    with atomic_path(path) as tmp:
        sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="WAV")


def _foreground_synthesizer(job: _Job):
    """The class's first synthesizer, or (source_variants) one of it and its extra kinds with equal chance, drawn by
    a generator of its own: the clip's generator is left as it was, so a clip that keeps the first synthesizer
    has the bytes it has without the option."""
    first = CLASS_SYNTHESIZERS[job.label]
    if not job.variants:
        return first
    choices = [first, *CLASS_VARIANTS[job.label].values()]
    chooser = np.random.default_rng(np.random.SeedSequence(job.entropy, spawn_key=(1,)))
    return choices[int(chooser.integers(len(choices)))]


def _render(job: _Job) -> dict:
    """Synthesise and write one file; return its manifest row."""
    rng = np.random.default_rng(np.random.SeedSequence(job.entropy))
    if job.role == "foreground":
        audio = _foreground_synthesizer(job)(rng, job.sample_rate)
    elif job.role == "non_target":
        audio = NON_TARGET_SYNTHESIZERS[job.label](rng, job.sample_rate)
    else:
        audio = BACKGROUND_SYNTHESIZERS[job.label](rng, job.sample_rate, job.duration)
    _write_wav(Path(job.root) / job.path, audio, job.sample_rate)
    return {"partition": job.partition, "role": job.role, "label": job.label, "path": job.path,
            "duration": round(len(audio) / job.sample_rate, 3), "sample_rate": job.sample_rate}


def _run(jobs: list[_Job], workers: int) -> list[dict]:
    """Render all jobs, in-process (workers == 1) or on a process pool, with a progress bar."""
    progress = dict(total=len(jobs), desc="sound bank", unit="clip", mininterval=1.0)
    if workers <= 1:
        return [_render(job) for job in tqdm(jobs, **progress)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return list(tqdm(pool.imap_unordered(_render, jobs, chunksize=4), **progress))


def build_embedded_bank(root: Path, classes: Sequence[str], clips_per_class: int, backgrounds: int,
                        background_duration: float, sample_rate: int, seed: int, workers: int = 2,
                        background_kinds: Sequence[str] = QUIET_KINDS, non_target_clips: int = 0,
                        source_variants: Sequence[str] = (), validation_share: float = 0.0,
                        test_share: float = 0.0) -> pd.DataFrame:
    """Synthesise the embedded sound bank under `root` and return its manifest (also written to root/manifest.tsv).

    Two disjoint partitions, ``synthetic`` and ``realworld``, each with `clips_per_class` foreground clips per
    class, `backgrounds` background beds of `background_duration` seconds spread over `background_kinds` in turn
    (ifdsed/soundbank/backgrounds.py), and `non_target_clips` clips of each non-target kind
    (ifdsed/soundbank/non_target.py; role ``non_target``, in the foreground folder, where Scaper finds them).
    The clips of the classes in `source_variants` are drawn from the class's first synthesizer and its extra
    source kinds (ifdsed/soundbank/variants.py). `validation_share` and `test_share` of each group of files are
    held out (`ifdsed.soundbank.pools.assign_pools`; 0: none).
    Every file has its own generator seeded from (seed, partition, role, label, clip index), so the bytes do not
    depend on `workers` (processes; 1 runs in this process). Existing partition folders under `root` are
    replaced. Raises ValueError naming the class when a class in `classes` has no synthesizer.
    """
    _check_classes(classes)
    if clips_per_class < 1 or backgrounds < 1 or background_duration <= 0 or non_target_clips < 0:
        raise ValueError("clips_per_class and backgrounds must be >= 1, background_duration > 0 and "
                         "non_target_clips >= 0")
    unknown = [kind for kind in background_kinds if kind not in BACKGROUND_SYNTHESIZERS]
    if unknown:
        raise InputError(f"soundbank.background_kinds: no synthesizer for {unknown[0]!r} (known: "
                         f"{', '.join(BACKGROUND_SYNTHESIZERS)})")
    unknown = [label for label in source_variants if label not in CLASS_VARIANTS]
    if unknown:
        raise InputError(f"soundbank.source_variants: no extra source kinds for {unknown[0]!r} (known: "
                         f"{', '.join(CLASS_VARIANTS)})")
    root = Path(root)
    for partition in PARTITIONS:
        shutil.rmtree(root / partition, ignore_errors=True)
    jobs = _plan(classes, clips_per_class, backgrounds, background_duration, sample_rate, seed, root,
                 background_kinds, non_target_clips, tuple(source_variants))
    manifest = manifest_table(assign_pools(pd.DataFrame(_run(jobs, workers)), validation_share, test_share, seed)
                              .to_dict("records"))
    write_manifest(manifest, root / MANIFEST_NAME)
    return manifest


def _audio_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith("."))


def _check_file(path: Path) -> AudioCheck:
    """`inspect_audio` of a whole soundbank file; a silent or too short source is not usable either."""
    check = inspect_audio(path)
    if check.silent:   # every event mixed from it would be labelled but inaudible
        return replace(check, problem=check.notes[0], notes=())
    if check.usable and check.duration < MIN_SOURCE_SECONDS:
        return replace(check, problem=f"too short ({1000 * check.duration:.0f} ms; a source must last at least "
                                      f"{1000 * MIN_SOURCE_SECONDS:.0f} ms to be mixed)")
    return check


def _index_folder(folder: Path, role: str, label: str, skipped: dict[str, str], notes: dict[str, str],
                  workers: int) -> list[dict]:
    """Manifest rows of the usable audio files directly in `folder`; the others go to `skipped` (path ->
    reason), and usable files worth a warning (clipping) to `notes` (path -> note)."""
    rows = []
    files = _audio_files(folder)
    checks = inspect_files(files, workers, _check_file)
    for path, check in zip(files, checks):
        if not check.usable:
            skipped[str(path)] = check.problem
            continue
        if check.notes:
            notes[str(path)] = "; ".join(check.notes)
        rows.append({"partition": "synthetic", "role": role, "label": label, "path": str(path),
                     "duration": round(check.duration, 3), "sample_rate": int(check.sample_rate)})
    return rows


def _listing(items: dict[str, str], limit: int = 10) -> str:
    lines = [f"  {path}: {reason}" for path, reason in sorted(items.items())[:limit]]
    if len(items) > limit:
        lines.append(f"  ... and {len(items) - limit} more")
    return "\n".join(lines)


def index_soundbank(root: Path, classes: Sequence[str], workers: int = 2, test_share: float = 0.0,
                    seed: int = 0) -> pd.DataFrame:
    """Manifest of a user's real DCASE 2020 / FSD+SINS soundbank (partition ``synthetic``, absolute paths), with
    `test_share` of each class's and each kind's files held out for a generated synthetic test set (`seed`:
    the split's, `ifdsed.soundbank.pools.assign_pools`).

    Layout: ``root/foreground/<Class>/*.wav|flac|ogg`` for each class in `classes`, and
    ``root/background/<kind>/*.wav|flac|ogg`` (any kind names; only files directly in those folders, as Scaper
    reads them). Every file is decoded and checked (`ifdsed.io.audio.inspect_audio`, `workers` threads): files
    that cannot be read, hold no samples, are truncated or corrupt, hold NaN or Inf samples, are silent, or last
    less than `MIN_SOURCE_SECONDS` are skipped with a warning; ``manifest.attrs["skipped"]`` lists their paths
    (always present, maybe empty) and ``attrs["skipped_reasons"]`` says why. Clipped files are kept, with a
    warning, and listed in ``attrs["notes"]``. Any sample rate and channel count is kept (Scaper converts).

    Raises `InputError` (a ValueError) naming ``real.soundbank``, the folders and the classes, before any file
    is decoded, when the root or some class's foreground folder does not exist; and naming the folder when a
    class has no usable audio in it, or when there is no usable background audio.
    """
    root = Path(root).absolute()
    if not root.is_dir():
        raise InputError(f"real.soundbank: {root} is not a folder (expected foreground/<Class>/ and "
                         f"background/<kind>/ in it)")
    absent = [label for label in classes if not (root / "foreground" / label).is_dir()]
    if absent:
        listed = ", ".join(f"{root / 'foreground' / label} (class {label!r})" for label in absent)
        raise InputError(f"real.soundbank: no foreground folder for {len(absent)} class(es) of `classes`: {listed}; "
                         f"every class in `classes` needs one, holding its audio")
    background = root / "background"
    kinds = sorted(path for path in background.iterdir() if path.is_dir()) if background.is_dir() else []
    if not kinds:
        raise InputError(f"real.soundbank: no background folder {background}/<kind>/ with audio")
    skipped: dict[str, str] = {}
    notes: dict[str, str] = {}
    rows: list[dict] = []
    for label in classes:
        folder = root / "foreground" / label
        before = dict(skipped)
        found = _index_folder(folder, "foreground", label, skipped, notes, workers)
        if not found:
            lost = {path: reason for path, reason in skipped.items() if path not in before}
            detail = f"; skipped:\n{_listing(lost)}" if lost else ""
            raise InputError(f"real.soundbank: no readable audio ({'/'.join(AUDIO_SUFFIXES)}) in {folder} "
                             f"for class {label!r}{detail}")
        rows += found
    found = [row for kind in kinds for row in _index_folder(kind, "background", kind.name, skipped, notes, workers)]
    if not found:
        raise InputError(f"real.soundbank: no readable background audio in {background}/<kind>/")
    rows += found
    if skipped:
        warnings.warn(f"index_soundbank: skipped {len(skipped)} unreadable file(s), e.g. "
                      f"{min(skipped)}: {skipped[min(skipped)]}", stacklevel=2)
    if notes:
        warnings.warn(f"index_soundbank: kept {len(notes)} clipped file(s) or file(s) beyond full scale, e.g. "
                      f"{min(notes)}: {notes[min(notes)]}", stacklevel=2)
    manifest = manifest_table(assign_pools(pd.DataFrame(rows), 0.0, test_share, seed).to_dict("records"))
    manifest.attrs["skipped"] = sorted(skipped)
    manifest.attrs["skipped_reasons"] = dict(sorted(skipped.items()))
    manifest.attrs["notes"] = dict(sorted(notes.items()))
    return manifest
