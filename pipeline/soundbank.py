"""DVC stage `soundbank`: the sound bank every later stage draws foreground events and backgrounds from.

Run from the project root: ``python -m pipeline.soundbank``.

Reads params.yaml: ``classes``, ``data.source``, ``data.sample_rate``, ``soundbank.*`` (seed, clips_per_class,
backgrounds, background_duration) and ``real.soundbank``.

Writes ``data/soundbank/`` (its old content is deleted first):

- ``data.source: embedded``: the procedural bank, two disjoint partitions ``synthetic/`` and ``realworld/``,
  each ``foreground/<Class>/<Class>_<NNN>.wav`` and ``background/<kind>/<kind>_<NNN>.wav`` (16-bit PCM at
  data.sample_rate), and ``manifest.tsv`` with paths relative to ``data/soundbank``.
- ``data.source: real``: only ``manifest.tsv``, indexing the user's DCASE 2020 soundbank at real.soundbank
  (partition ``synthetic``, absolute paths).

Either way later stages read one manifest (columns ``partition role label path duration sample_rate``;
``data/soundbank / path`` is the file in both cases). See ifdsed/soundbank/bank.py.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pandas as pd

from ifdsed.config import load_params
from ifdsed.soundbank import MANIFEST_NAME, build_embedded_bank, index_soundbank, write_manifest

OUT = Path("data/soundbank")


def _summary(manifest: pd.DataFrame) -> str:
    """One line per partition and role: file count, label count, total duration."""
    lines = []
    for (partition, role), group in manifest.groupby(["partition", "role"], sort=True):
        lines.append(f"  {partition:10s} {role:10s} {len(group):5d} files, {group['label'].nunique():2d} labels, "
                     f"{group['duration'].sum() / 60:7.1f} min")
    return "\n".join(lines)


def main() -> int:
    params = load_params()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    if params.data.source == "embedded":
        bank = params.soundbank
        workers = min(bank.workers, os.cpu_count() or 1)
        manifest = build_embedded_bank(OUT, params.classes, bank.clips_per_class, bank.backgrounds,
                                       bank.background_duration, params.data.sample_rate, bank.seed, workers)
        print(f"soundbank: built the embedded bank in {OUT}/ (synthetic/, realworld/, {MANIFEST_NAME})")
    else:
        manifest = index_soundbank(Path(params.real.soundbank), params.classes)
        write_manifest(manifest, OUT / MANIFEST_NAME)
        print(f"soundbank: indexed the real soundbank {params.real.soundbank} into {OUT / MANIFEST_NAME}")
        skipped = manifest.attrs.get("skipped", [])
        if skipped:
            print(f"soundbank: skipped {len(skipped)} unreadable file(s):\n  " + "\n  ".join(skipped))
    print(_summary(manifest))
    print(f"  total: {len(manifest)} files, {manifest['duration'].sum() / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
