"""Atomic writes: a file appears under its final name complete, or not at all.

Every output of the pipeline is written through `atomic_path`: the content goes to a hidden temporary file in
the same folder (same file system, so the final `os.replace` is atomic), which replaces the target only once it
is complete. A killed process leaves at most a hidden ``.<name>.<pid>.tmp<suffix>`` file, never a half-written
output. The temporary name keeps the target's suffix, so libraries that choose a format by extension
(soundfile, matplotlib, jams) write the right one.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on leaving the block without an error it replaces `path` (its folder is
    created first); on an error it is removed and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | Path, data: Any, indent: int = 1, sort_keys: bool = True) -> Path:
    """Write `data` as JSON (with a final newline) to `path` atomically."""
    return write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")
