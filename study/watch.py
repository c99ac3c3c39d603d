"""Keep the DVC queue of a study running and archive each experiment as it finishes, so that nothing finished is
lost when the session (and with it the queue's worker) ends:

    nohup python -m study.watch --prefix final- >> watch.log 2>&1 &

Every `--every` seconds: archives the finished experiments named <prefix>* (study.archive.save, into
`--archive`), starts a worker (`dvc queue start -j 1`) when tasks are queued and no worker is active (a worker
can die, and the queue then waits forever), and stops once nothing is queued or running.
"""
from __future__ import annotations

import argparse
import subprocess
import time
from datetime import datetime
from pathlib import Path

from ifdsed.evaluation.experiments import ARCHIVE
from study.archive import save


def queue_state() -> tuple[int, int, int]:
    """(queued, running, active workers) from `dvc queue status`: a task row ends with its status."""
    shown = subprocess.run(["dvc", "queue", "status"], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in shown.splitlines() if line.strip()]
    statuses = [row[-1] for row in rows if row[:2] != ["Worker", "status:"]]
    workers = next((int(row[2]) for row in rows if row[:2] == ["Worker", "status:"]), 0)
    return statuses.count("Queued"), statuses.count("Running"), workers


def watch(prefix: str, archive: Path, every: float) -> None:
    """Look every `every` seconds until nothing is queued and no task runs (or a task says Running with no worker
    twice in a row: its worker died). A worker is started only when two looks in a row found none, since DVC's
    count of workers can miss a busy one; a look that fails (a DVC lock, say) is logged and tried again."""
    idle_looks = 0
    while True:
        stamp = datetime.now().strftime("%H:%M:%S")
        try:
            queued, running, workers = queue_state()
            written = save(prefix, archive)
        except (subprocess.CalledProcessError, SystemExit, OSError, ValueError) as problem:
            print(f"{stamp} look failed, trying again: {problem}", flush=True)
            time.sleep(every)
            continue
        idle_looks = idle_looks + 1 if not workers else 0
        print(f"{stamp} queued {queued}, running {running}, workers {workers}; {len(written)} newly archived",
              flush=True)
        if not queued and (not running or idle_looks >= 2):
            return
        if queued and idle_looks >= 2:
            print(f"{stamp} starting a queue worker", flush=True)
            subprocess.run(["dvc", "queue", "start", "-j", "1"], check=False)
            idle_looks = 0
        time.sleep(every)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", required=True, help="archive the finished experiments named <prefix>*")
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    parser.add_argument("--every", type=float, default=120.0, help="seconds between two looks")
    args = parser.parse_args()
    watch(args.prefix, args.archive, args.every)


if __name__ == "__main__":
    main()
