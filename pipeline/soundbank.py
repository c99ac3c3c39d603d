"""DVC stage `soundbank`: the sound bank every later stage draws foreground events and backgrounds from.

Run from the project root: ``python -m pipeline.soundbank``.

Reads params.yaml: ``classes``, ``data.source``, ``data.sample_rate``, ``soundbank.*`` (seed, clips_per_class,
backgrounds, background_duration, background_kinds, non_target_clips, source_variants, held_out_validation,
held_out_test), ``real.soundbank`` and ``real.syn_test_tsv``.

Writes ``data/soundbank/`` (its old content is replaced once the new one is complete: the embedded bank is
built in ``data/soundbank.partial/`` and renamed into place, and a real soundbank is checked before anything is
deleted, so a bad ``real.soundbank`` or an interrupted run never leaves a bank that looks complete):

- ``data.source: embedded``: the procedural bank, two disjoint partitions ``synthetic/`` and ``realworld/``,
  each ``foreground/<Class>/<Class>_<NNN>.wav``, ``foreground/<non-target kind>/<kind>_<NNN>.wav`` and
  ``background/<kind>/<kind>_<NNN>.wav`` (16-bit PCM at data.sample_rate), and ``manifest.tsv`` with paths
  relative to ``data/soundbank``.
- ``data.source: real``: only ``manifest.tsv``, indexing the user's DCASE 2020 soundbank at real.soundbank
  (partition ``synthetic``, absolute paths).

Either way later stages read one manifest (columns ``partition role label path duration sample_rate pool``;
``data/soundbank / path`` is the file in both cases). See ifdsed/soundbank/bank.py. ``pool`` splits every
partition's files into held-out pools (ifdsed/soundbank/pools.py): training clips never mix a validation or test
file. A real soundbank holds out ``soundbank.held_out_test`` for a generated synthetic test set, nothing when the
synthetic test set is imported (real.syn_test_tsv).

Files of a real soundbank that cannot be used (unreadable, truncated, NaN/Inf samples, silent, too short) are
skipped and listed on the output with the reason; clipped files are kept and listed. A class without a
foreground folder or without usable audio stops the stage, naming ``real.soundbank``, the folder and the class.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from ifdsed import paths
from ifdsed.config import load_params
from ifdsed.errors import run_stage
from ifdsed.soundbank.bank import build_embedded_bank, index_soundbank
from ifdsed.soundbank.manifest import MANIFEST_NAME, write_manifest
from ifdsed.soundbank.pools import POOLS

OUT = paths.SOUNDBANK


def _summary(manifest: pd.DataFrame) -> str:
    """One line per partition and role: file count, label count, total duration, files per pool."""
    lines = []
    for (partition, role), group in manifest.groupby(["partition", "role"], sort=True):
        pools = ", ".join(f"{pool} {count}" for pool, count in group["pool"].value_counts()[
            [pool for pool in POOLS if pool in set(group["pool"])]].items())
        lines.append(f"  {partition:10s} {role:10s} {len(group):5d} files, {group['label'].nunique():2d} labels, "
                     f"{group['duration'].sum() / 60:7.1f} min (pools: {pools})")
    return "\n".join(lines)


def _replace(partial: Path, out: Path) -> None:
    """Put a complete `partial` folder in the place of `out`."""
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)


def _listing(title: str, items: dict[str, str]) -> str:
    return f"soundbank: {title} {len(items)} file(s):\n" + "\n".join(f"  {path}: {why}" for path, why in items.items())


def main() -> int:
    params = load_params()
    partial = OUT.with_name(OUT.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    if params.data.source == "embedded":
        bank = params.soundbank
        workers = min(bank.workers, os.cpu_count() or 1)
        partial.mkdir(parents=True)
        manifest = build_embedded_bank(partial, params.classes, bank.clips_per_class, bank.backgrounds,
                                       bank.background_duration, params.data.sample_rate, bank.seed, workers,
                                       bank.background_kinds, bank.non_target_clips, bank.source_variants,
                                       bank.held_out_validation, bank.held_out_test)
        _replace(partial, OUT)
        print(f"soundbank: built the embedded bank in {OUT}/ (synthetic/, realworld/, {MANIFEST_NAME})")
    else:
        # Checked (every class folder first, then every file decoded) before the old bank is touched.
        # A generated synthetic test set mixes held-out files; an imported one (real.syn_test_tsv, e.g. DCASE
        # 2019's synthetic evaluation set, already mixed from other FSD clips) leaves the whole bank to training.
        test_share = 0.0 if params.real.syn_test_tsv else params.soundbank.held_out_test
        manifest = index_soundbank(Path(params.real.soundbank), params.classes,
                                   workers=min(params.soundbank.workers, os.cpu_count() or 1),
                                   test_share=test_share, seed=params.soundbank.seed)
        write_manifest(manifest, partial / MANIFEST_NAME)
        _replace(partial, OUT)
        print(f"soundbank: indexed the real soundbank {params.real.soundbank} into {OUT / MANIFEST_NAME}")
        skipped = manifest.attrs.get("skipped_reasons", {})
        if skipped:
            print(_listing("skipped (not usable)", skipped))
        notes = manifest.attrs.get("notes", {})
        if notes:
            print(_listing("kept, but check", notes))
        rates = manifest.loc[manifest["sample_rate"] != params.data.sample_rate, "sample_rate"]
        if len(rates):
            print(f"soundbank: {len(rates)} file(s) at other sample rates ({', '.join(map(str, sorted(set(rates))))} "
                  f"Hz): Scaper resamples them to {params.data.sample_rate} Hz")
    print(_summary(manifest))
    print(f"  total: {len(manifest)} files, {manifest['duration'].sum() / 60:.1f} min")
    return 0


if __name__ == "__main__":
    run_stage("soundbank", main)
