"""Where a result comes from, written into every metrics file so that two results are compared only when it
agrees: the code's git revision, the versions of the packages that compute the metrics, and for
each evaluated set a fingerprint of its truth table and audio list and the count of clips scored and missing.

All keys are flat, `provenance/...`, beside the metrics (`dvc exp show` displays them):
  provenance/git_revision           HEAD of the project's git repository (None outside one); a DVC experiment
                                    records the commit it was queued from
  provenance/<package>              torch, sed_eval, sed_scores_eval, dcase_util versions (None if absent)
  provenance/<set>/fingerprint      sha256 (16 hex digits) of the set's events.tsv and its clips.tsv filenames
  provenance/<set>/clips_scored     clips scored
  provenance/<set>/clips_missing    clips the set lists but that could not be scored: for an imported DCASE set,
                                    the import report's missing and unreadable audio; 0 for a generated set
`comparability_warnings` names the keys on which results differ.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Mapping, Sequence

PACKAGES = ("torch", "sed_eval", "sed_scores_eval", "dcase_util")
PREFIX = "provenance/"


def git_revision(root: Path = Path(".")) -> str | None:
    """The commit checked out at `root`, or None outside a git repository."""
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def set_fingerprint(folder: Path) -> str:
    """sha256 of folder/events.tsv and the filenames of folder/clips.tsv, in order (16 hex digits)."""
    digest = hashlib.sha256((folder / "events.tsv").read_bytes())
    clips = (folder / "clips.tsv").read_text().splitlines()[1:]
    digest.update("\n".join(line.split("\t")[0] for line in clips).encode())
    return digest.hexdigest()[:16]


def missing_clips(import_report: Mapping | None, set_name: str) -> int:
    """Clips a set lists without usable audio, from an import report ({set: {n_listed, n_present}}); 0 without."""
    entry = (import_report or {}).get(set_name)
    return 0 if entry is None else int(entry["n_listed"]) - int(entry["n_present"])


def provenance(sets: Mapping[str, tuple[Path, Sequence[str], int]], root: Path = Path(".")) -> dict:
    """{set key: (clip-set folder, filenames scored, clips missing)} -> the flat provenance keys."""
    record = {f"{PREFIX}git_revision": git_revision(root),
              **{f"{PREFIX}{name}": version for name, version in package_versions().items()}}
    for key, (folder, scored, missing) in sets.items():
        record[f"{PREFIX}{key}/fingerprint"] = set_fingerprint(folder)
        record[f"{PREFIX}{key}/clips_scored"] = len(scored)
        record[f"{PREFIX}{key}/clips_missing"] = missing
    return record


def read_import_report(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def agreed(records: Sequence[Mapping], prefixes: tuple[str, ...] = (PREFIX, "cost/")) -> dict:
    """The provenance (and cost) keys of several records (a run's seeds): a value all share, or "differs"."""
    keys = sorted({key for record in records for key in record if key.startswith(prefixes)})
    merged = {}
    for key in keys:
        values = {json.dumps(record.get(key)) for record in records}
        merged[key] = records[0].get(key) if len(values) == 1 else "differs"
    return merged


def comparability_warnings(results: Mapping[str, Mapping]) -> list[str]:
    """{name: metrics} -> one line per provenance key whose value is not the same in every result (a result
    without provenance counts as differing)."""
    keys = sorted({key for metrics in results.values() for key in metrics if key.startswith(PREFIX)})
    lines = []
    for key in keys:
        values = {name: metrics.get(key) for name, metrics in results.items()}
        if len({json.dumps(value) for value in values.values()}) > 1:
            lines.append(f"{key} differs: " + ", ".join(f"{name} {value}" for name, value in values.items()))
    if any(not any(key.startswith(PREFIX) for key in metrics) for metrics in results.values()):
        lines.append("some results carry no provenance (made before it was recorded): "
                     + ", ".join(name for name, metrics in results.items()
                                 if not any(key.startswith(PREFIX) for key in metrics)))
    return lines
