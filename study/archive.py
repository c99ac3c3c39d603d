"""Keep the IFD study's finished experiments in the repository, so that a comparison whose experiments run in
several sessions (or on several machines) can be tabled once all of them have run:

    python -m study.archive --prefix final-     # -> docs/ifd-study/experiments/<name>.json, one per experiment

Each finished experiment of this clone (any commit) whose name starts with the prefix (each one-seed run of an
experiment queued seed by seed, too) is written as an archive record
(`ifdsed.evaluation.experiments.archive_record`): its params, metrics and result files, the files
study.curves draws (`study.curves.kept_files`), and the machine that saved it. Run it on the machine that ran
the experiments, as soon as they finish. study.final, study.curves and `ifdsed compare --experiments` read
archived experiments beside the live ones (a live one of the same name wins).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ifdsed.evaluation.experiments import ARCHIVE, archive_record, summary_of
from ifdsed.io import atomic
from study.curves import experiments, kept_files


def save(prefix: str, archive: Path = ARCHIVE) -> list[Path]:
    """Archive every finished live experiment named <prefix>* that has its summary (the newest, where two share a
    name); returns the records written. A record of the same experiment commit is left as it is (it was saved
    on the machine that ran it; the watcher looks again every few minutes)."""
    archive.mkdir(parents=True, exist_ok=True)
    newest: dict[str, tuple[dict, list[int]]] = {}
    for name, revision, _, seeds in experiments(prefix, archive=None, merge=False):
        timestamp = revision["data"].get("timestamp") or ""
        if summary_of(revision) and (name not in newest or timestamp > newest[name][0]["data"].get("timestamp", "")):
            newest[name] = (revision, seeds)
    written = []
    for name, (revision, seeds) in sorted(newest.items()):
        path = archive / f"{name}.json"
        if path.exists() and json.loads(path.read_text()).get("rev") == revision["rev"]:
            continue
        atomic.write_text(path, json.dumps(archive_record(revision, kept_files(seeds)), indent=1, sort_keys=True)
                          + "\n")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", required=True, help="archive the finished experiments named <prefix>*")
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    args = parser.parse_args()
    written = save(args.prefix, args.archive)
    if not written:
        raise SystemExit(f"archive: no finished experiment named {args.prefix}* in this clone that "
                         f"{args.archive} does not hold already")
    for path in written:
        print(f"-> {path} ({path.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
