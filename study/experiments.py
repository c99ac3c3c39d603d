"""The DVC experiments of every commit, as the study's recipes read them (one `dvc exp show` parse for all)."""
from __future__ import annotations

import json
import subprocess
from typing import Iterator


def experiment_revisions() -> Iterator[dict]:
    """Each experiment revision of `dvc exp show --all-commits --json` (name, rev, data: params and metrics);
    the search and the final comparison may span commits, since experiments are queued from the day's commit."""
    shown = subprocess.run(["dvc", "exp", "show", "--all-commits", "--json"], capture_output=True, text=True,
                           check=True)
    for entry in json.loads(shown.stdout):
        for experiment in entry.get("experiments") or []:
            yield from experiment.get("revs") or []
