"""The sound bank manifest (data/soundbank/manifest.tsv): written by the soundbank stage, read by the synthesis
stages.

The manifest lists every source file: ``partition role label path duration sample_rate pool``. Paths are
relative to the manifest's folder (the embedded bank) or absolute (a user's real soundbank); ``pool`` is the
held-out split (train, validation or test: ifdsed/soundbank/pools.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from ifdsed import paths
from ifdsed.errors import InputError
from ifdsed.io.atomic import atomic_path

MANIFEST_COLUMNS = ["partition", "role", "label", "path", "duration", "sample_rate", "pool"]
MANIFEST_NAME = paths.MANIFEST.name


def manifest_table(rows: list[dict]) -> pd.DataFrame:
    """Manifest rows as a table, sorted, durations to the millisecond: the same sources give the same bytes."""
    frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    frame["duration"] = frame["duration"].astype(float).round(3)
    frame["sample_rate"] = frame["sample_rate"].astype(int)
    return frame.sort_values(["partition", "role", "label", "path"], kind="mergesort").reset_index(drop=True)


def write_manifest(frame: pd.DataFrame, path: Path) -> Path:
    """Write a manifest atomically, sorted, durations to the millisecond (same content, same bytes)."""
    with atomic_path(path) as tmp:
        manifest_table(frame.to_dict("records")).to_csv(tmp, sep="\t", index=False, float_format="%.3f",
                                                   lineterminator="\n")
    return Path(path)


def read_manifest(path: Path) -> pd.DataFrame:
    """Read a manifest written by `write_manifest`."""
    return pd.read_csv(path, sep="\t", dtype={"partition": str, "role": str, "label": str, "path": str,
                                              "duration": float, "sample_rate": int, "pool": str},
                       keep_default_na=False)



def load_sources(partition: str, manifest: Path = paths.MANIFEST) -> tuple[pd.DataFrame, str, str]:
    """The foreground and background files of one partition -> (sources, fg_dir, bg_dir).

    `sources` has columns role, label, file, duration, pool, where file is a path usable from the working
    directory (`ifdsed.soundbank.pools.set_sources` picks a clip set's pool); fg_dir and bg_dir are the Scaper
    folders (one subfolder per label) holding them.

    Raises `InputError` naming the manifest when it is missing (the soundbank stage has not run, or was
    interrupted before writing it) or malformed, and naming the files when some listed audio is gone or has
    changed length since the soundbank stage indexed it; Scaper never sees such a file.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise InputError(f"{manifest}: not found: run the soundbank stage first (`dvc repro soundbank`)")
    try:
        table = pd.read_csv(manifest, sep="\t", dtype={"label": str, "path": str, "pool": str}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{manifest}: not a readable manifest ({error}): rerun `dvc repro -f soundbank`") from None
    missing_columns = [name for name in MANIFEST_COLUMNS if name not in table.columns]
    if missing_columns:
        raise InputError(f"{manifest}:1: missing column(s) {missing_columns}: rerun `dvc repro -f soundbank`")
    table = table[table["partition"] == partition]
    if table.empty:
        raise InputError(f"{manifest}: no source audio in partition {partition!r}")
    root = manifest.parent
    files = [path if Path(path).is_absolute() else str(root / path) for path in table["path"]]
    _check_files(manifest, files, table["duration"].astype(float).to_numpy())
    sources = pd.DataFrame({"role": table["role"].to_numpy(), "label": table["label"].to_numpy(),
                            "file": files, "duration": table["duration"].astype(float).to_numpy(),
                            "pool": table["pool"].to_numpy()})
    folders = {}
    for role in ("foreground", "background"):
        role_files = sources.loc[sources["role"] == role, "file"]
        if role_files.empty:
            raise InputError(f"{manifest}: partition {partition!r} has no {role} audio")
        folders[role] = str(Path(role_files.iloc[0]).parent.parent)
    return sources, folders["foreground"], folders["background"]


def _check_files(manifest: Path, files: list[str], durations: np.ndarray) -> None:
    """Every listed file exists and still has the listed duration (to the millisecond): a header read each."""
    problems = []
    for file, listed in zip(files, durations):
        try:
            info = soundfile.info(file)
            actual = info.frames / info.samplerate
        except Exception as error:  # noqa: BLE001
            problems.append(f"{file}: {'missing' if not Path(file).exists() else f'unreadable ({error})'}")
            continue
        if abs(actual - listed) > 0.0015:
            problems.append(f"{file}: {actual:.3f} s long, the manifest says {listed:.3f} s")
    if problems:
        shown = "\n  ".join(problems[:10]) + (f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise InputError(f"{manifest}: {len(problems)} source file(s) changed since the soundbank stage indexed "
                         f"them; run `dvc repro -f soundbank`:\n  {shown}")
