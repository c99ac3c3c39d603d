"""DESED-style label tables, and the layout of a clip set on disk.

A clip set is a folder (for example ``data/synthetic/train``) holding:

- ``clips.tsv``   one row per clip: ``filename  path  duration`` (path: where the audio is, absolute or relative
                  to the project root; duration in seconds)
- ``tags.tsv``    clip tags: ``filename  event_labels`` (comma-separated, sorted; empty for a clip with no event)
- ``events.tsv``  strong labels, only for sets whose timestamps training or scoring may see:
                  ``filename  onset  offset  event_label``
- ``audio/``      the wav files, for sets the pipeline renders itself

All tables are tab-separated with a header, sorted, with times written to the millisecond, so the same
content always gives the same bytes.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ifdsed.io.atomic import atomic_path

EVENT_COLUMNS = ["filename", "onset", "offset", "event_label"]
TAG_COLUMNS = ["filename", "event_labels"]
CLIP_COLUMNS = ["filename", "path", "duration"]


def _write(frame: pd.DataFrame, path: Path, float_format: str = "%.3f") -> Path:
    """Write atomically: a killed process never leaves a half-written table under the final name."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format=float_format, lineterminator="\n")
    return Path(path)


def write_events(events: pd.DataFrame, path: str | Path) -> Path:
    """Strong labels, sorted by filename, onset, offset, label."""
    table = events[EVENT_COLUMNS].sort_values(EVENT_COLUMNS, kind="mergesort")
    return _write(table.reset_index(drop=True), path)


def read_events(path: str | Path) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t", dtype={"filename": str, "event_label": str}, keep_default_na=False)
    table["onset"] = table["onset"].astype(float)
    table["offset"] = table["offset"].astype(float)
    return table[EVENT_COLUMNS]


def join_tags(labels) -> str:
    """A clip's tag set as DCASE writes it: sorted, comma-separated, empty for none."""
    return ",".join(sorted(set(labels)))


def split_tags(text: str) -> list[str]:
    return sorted({label.strip() for label in str(text).split(",") if label.strip()})


def tags_from_events(events: pd.DataFrame, filenames) -> pd.DataFrame:
    """Clip tags implied by strong labels, one row per filename (clips with no event get an empty tag set)."""
    by_clip = events.groupby("filename")["event_label"].agg(join_tags)
    tags = pd.DataFrame({"filename": sorted(filenames)})
    tags["event_labels"] = tags["filename"].map(by_clip).fillna("")
    return tags


def write_tags(tags: pd.DataFrame, path: str | Path) -> Path:
    table = tags[TAG_COLUMNS].sort_values("filename", kind="mergesort")
    return _write(table.reset_index(drop=True), path)


def read_tags(path: str | Path) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return table[TAG_COLUMNS]


def write_clips(clips: pd.DataFrame, path: str | Path) -> Path:
    table = clips[CLIP_COLUMNS].sort_values("filename", kind="mergesort")
    return _write(table.reset_index(drop=True), path)


def read_clips(path: str | Path) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t", dtype={"filename": str, "path": str}, keep_default_na=False)
    table["duration"] = table["duration"].astype(float)
    return table[CLIP_COLUMNS]
