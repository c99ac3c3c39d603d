"""DVC experiments as the comparison and the study read them: the revisions `dvc exp show --json` lists, the
files of an experiment's git commit, and an archive of finished experiments kept in the repository.

Why an archive: an experiment lives in the git refs of the clone that ran it. A study whose experiments run
over several sessions or machines (the IFD study's 80-epoch comparison takes longer than a session on a 2-core
VM) would otherwise never have all of them in one clone. `archive_record` keeps what the study's tables and
curves read: the experiment's name, commit, params and every metrics file (as `dvc exp show` gives them), the
text of the git-tracked result files asked for (dvclive logs, pseudo-label tables), and the machine that saved
it; written as <archive>/<name>.json, it is read back by `experiment_revisions` beside the live experiments,
and `experiment_file` reads a file of either kind.
"""
from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path
from typing import Iterable, Iterator

ARCHIVE = Path("docs/ifd-study/experiments")   # the IFD study's archive (study.archive writes it)


def show(all_commits: bool = False) -> list[dict]:
    """`dvc exp show --json` (with `all_commits`: --all-commits), parsed."""
    command = ["dvc", "exp", "show", "--json"] + (["--all-commits"] if all_commits else [])
    shown = subprocess.run(command, capture_output=True, text=True)
    if shown.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` failed:\n{shown.stderr}")
    return json.loads(shown.stdout)


def all_revisions(entries: list[dict]) -> Iterator[dict]:
    """Every revision in `dvc exp show --json` output: the workspace, commits and their experiments."""
    for entry in entries:
        yield entry
        for experiment in entry.get("experiments") or []:
            yield from all_revisions(experiment.get("revs") or [])


def archived_revisions(archive: Path = ARCHIVE) -> list[dict]:
    """The records of <archive>/*.json, by name."""
    return [json.loads(path.read_text()) for path in sorted(archive.glob("*.json"))] if archive.is_dir() else []


def experiment_revisions(archive: Path | None = ARCHIVE) -> Iterator[dict]:
    """Each experiment of every commit (name, rev, data: params and metrics), then each archived experiment whose
    name no live one has (a study may span commits, sessions and machines)."""
    live = [revision for entry in show(all_commits=True) for experiment in entry.get("experiments") or []
            for revision in experiment.get("revs") or []]
    yield from live
    if archive is not None:
        names = {revision.get("name") for revision in live}
        yield from (record for record in archived_revisions(archive) if record["name"] not in names)


def experiment_file(revision: dict, path: str) -> str | None:
    """The text of `path` in an experiment: from its record when archived, else from its git commit (None if
    it has no such file)."""
    if "files" in revision:
        return revision["files"].get(path)
    done = subprocess.run(["git", "show", f"{revision['rev']}:{path}"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def machine() -> dict:
    """The CPU, Python and torch of this machine: training results on a CPU differ in their last bits from one
    CPU model to another (bfloat16 kernels), so an archived experiment says where it was saved."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    return {"cpu": cpu, "python": platform.python_version(), "torch": torch_version}


def archive_record(revision: dict, paths: Iterable[str]) -> dict:
    """What the archive keeps of a finished experiment: name, commit, timestamp, params and metrics, the text of
    each of `paths` it has, and this machine (save it on the machine that ran it)."""
    data = revision.get("data") or {}
    files = {path: text for path in paths if (text := experiment_file(revision, path)) is not None}
    return {"name": revision["name"], "rev": revision["rev"], "machine": machine(), "files": files,
            "data": {key: data.get(key) for key in ("timestamp", "params", "metrics")}}
