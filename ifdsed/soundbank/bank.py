"""The sound bank on disk: build the embedded procedural bank, or index a user's real DCASE 2020 soundbank.

Both functions describe the bank with one table, the manifest (``manifest.tsv``, tab-separated, header,
sorted by partition, role, label, path; durations to the millisecond; same content, same bytes):

==============  ================================================================================================
``partition``   ``synthetic`` or ``realworld`` (the embedded bank has both, disjoint; a real bank is ``synthetic``)
``role``        ``foreground`` or ``background``
``label``       the class of a foreground clip, the kind of a background bed (its folder name)
``path``        the audio file: relative to the bank root (embedded) or absolute (real soundbank);
                ``root / path`` is right in both cases
``duration``    seconds
``sample_rate`` Hz
==============  ================================================================================================

Layout of each embedded partition (the DCASE 2020 task 4 soundbank layout that Scaper reads)::

    <root>/<partition>/foreground/<Class>/<Class>_<NNN>.wav
    <root>/<partition>/background/<kind>/<kind>_<NNN>.wav
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm import tqdm

from .synthesizers import BACKGROUND_SYNTHESIZERS, CLASS_SYNTHESIZERS

PARTITIONS = ("synthetic", "realworld")
ROLES = ("foreground", "background")
MANIFEST_COLUMNS = ["partition", "role", "label", "path", "duration", "sample_rate"]
MANIFEST_NAME = "manifest.tsv"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")

# Stable indices for seeding: a clip's seed does not depend on which other classes are requested.
_CLASS_INDEX = {label: index for index, label in enumerate(CLASS_SYNTHESIZERS)}
_KIND_INDEX = {kind: index for index, kind in enumerate(BACKGROUND_SYNTHESIZERS)}


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


def _check_classes(classes: Sequence[str]) -> None:
    unknown = [label for label in classes if label not in CLASS_SYNTHESIZERS]
    if unknown:
        raise ValueError(f"classes: no synthesizer for class {unknown[0]!r} "
                         f"(the embedded sound bank knows {', '.join(CLASS_SYNTHESIZERS)})")


def _plan(classes: Sequence[str], clips_per_class: int, backgrounds: int, background_duration: float,
          sample_rate: int, seed: int, root: Path) -> list[_Job]:
    """Every file of both partitions, each with entropy (seed, partition, role, label, clip index)."""
    kinds = list(BACKGROUND_SYNTHESIZERS)
    jobs = []
    for p, partition in enumerate(PARTITIONS):
        for label in classes:
            for clip in range(clips_per_class):
                jobs.append(_Job(str(root), f"{partition}/foreground/{label}/{label}_{clip:03d}.wav", partition,
                                 "foreground", label, (seed, p, 0, _CLASS_INDEX[label], clip), sample_rate, 0.0))
        for bed in range(backgrounds):
            kind, clip = kinds[bed % len(kinds)], bed // len(kinds)
            jobs.append(_Job(str(root), f"{partition}/background/{kind}/{kind}_{clip:03d}.wav", partition,
                             "background", kind, (seed, p, 1, _KIND_INDEX[kind], clip), sample_rate,
                             background_duration))
    return jobs


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM wav, written under a temporary name and renamed: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)


def _render(job: _Job) -> dict:
    """Synthesise and write one file; return its manifest row."""
    rng = np.random.default_rng(np.random.SeedSequence(job.entropy))
    if job.role == "foreground":
        audio = CLASS_SYNTHESIZERS[job.label](rng, job.sample_rate)
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


def _manifest(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    frame["duration"] = frame["duration"].astype(float).round(3)
    frame["sample_rate"] = frame["sample_rate"].astype(int)
    return frame.sort_values(["partition", "role", "label", "path"], kind="mergesort").reset_index(drop=True)


def write_manifest(frame: pd.DataFrame, path: Path) -> Path:
    """Write a manifest atomically, sorted, durations to the millisecond (same content, same bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    _manifest(frame.to_dict("records")).to_csv(tmp, sep="\t", index=False, float_format="%.3f",
                                               lineterminator="\n")
    os.replace(tmp, path)
    return path


def read_manifest(path: Path) -> pd.DataFrame:
    """Read a manifest written by `write_manifest`."""
    return pd.read_csv(path, sep="\t", dtype={"partition": str, "role": str, "label": str, "path": str,
                                              "duration": float, "sample_rate": int}, keep_default_na=False)


def build_embedded_bank(root: Path, classes: Sequence[str], clips_per_class: int, backgrounds: int,
                        background_duration: float, sample_rate: int, seed: int, workers: int = 2) -> pd.DataFrame:
    """Synthesise the embedded sound bank under `root` and return its manifest (also written to root/manifest.tsv).

    Two disjoint partitions, ``synthetic`` and ``realworld``, each with `clips_per_class` foreground clips per
    class and `backgrounds` background beds of `background_duration` seconds spread over the background kinds.
    Every file has its own generator seeded from (seed, partition, role, label, clip index), so the bytes do not
    depend on `workers` (processes; 1 runs in this process). Existing partition folders under `root` are
    replaced. Raises ValueError naming the class when a class in `classes` has no synthesizer.
    """
    _check_classes(classes)
    if clips_per_class < 1 or backgrounds < 1 or background_duration <= 0:
        raise ValueError("clips_per_class and backgrounds must be >= 1 and background_duration > 0")
    root = Path(root)
    for partition in PARTITIONS:
        shutil.rmtree(root / partition, ignore_errors=True)
    jobs = _plan(classes, clips_per_class, backgrounds, background_duration, sample_rate, seed, root)
    manifest = _manifest(_run(jobs, workers))
    write_manifest(manifest, root / MANIFEST_NAME)
    return manifest


def _audio_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES)


def _index_folder(folder: Path, role: str, label: str, skipped: list[str]) -> list[dict]:
    """Manifest rows of the readable audio files directly in `folder`; unreadable ones go to `skipped`."""
    rows = []
    for path in _audio_files(folder):
        try:
            info = sf.info(str(path))
        except (sf.SoundFileError, RuntimeError, OSError):
            info = None
        if info is None or info.frames <= 0 or info.samplerate <= 0:     # unreadable or empty
            skipped.append(str(path))
            continue
        rows.append({"partition": "synthetic", "role": role, "label": label, "path": str(path),
                     "duration": round(info.frames / info.samplerate, 3), "sample_rate": int(info.samplerate)})
    return rows


def index_soundbank(root: Path, classes: Sequence[str]) -> pd.DataFrame:
    """Manifest of a user's real DCASE 2020 / FSD+SINS soundbank (partition ``synthetic``, absolute paths).

    Layout: ``root/foreground/<Class>/*.wav|flac|ogg`` for each class in `classes`, and
    ``root/background/<kind>/*.wav|flac|ogg`` (any kind names; only files directly in those folders, as Scaper
    reads them). Files soundfile cannot read (or holding no samples) are skipped with a warning; their paths are
    listed in ``manifest.attrs["skipped"]`` (always present, maybe empty).
    Raises ValueError naming the folder when a class has no foreground folder or no readable audio in it, or when
    there is no readable background audio.
    """
    root = Path(root).absolute()
    skipped: list[str] = []
    rows: list[dict] = []
    for label in classes:
        folder = root / "foreground" / label
        if not folder.is_dir():
            raise ValueError(f"real.soundbank: no foreground folder {folder} for class {label!r} "
                             f"(every class in `classes` needs one)")
        found = _index_folder(folder, "foreground", label, skipped)
        if not found:
            raise ValueError(f"real.soundbank: no readable audio ({'/'.join(AUDIO_SUFFIXES)}) in {folder} "
                             f"for class {label!r}")
        rows += found
    background = root / "background"
    kinds = sorted(path for path in background.iterdir() if path.is_dir()) if background.is_dir() else []
    found = [row for kind in kinds for row in _index_folder(kind, "background", kind.name, skipped)]
    if not found:
        raise ValueError(f"real.soundbank: no readable background audio in {background}/<kind>/")
    rows += found
    if skipped:
        warnings.warn(f"index_soundbank: skipped {len(skipped)} unreadable file(s), e.g. {skipped[0]}",
                      stacklevel=2)
    manifest = _manifest(rows)
    manifest.attrs["skipped"] = sorted(skipped)
    return manifest
