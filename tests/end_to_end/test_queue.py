"""Parallel experiments through DVC's own queue, as docs/scaling.md describes them: the data stages once and
committed, two variants queued, `dvc queue start -j 2`, both results in `dvc exp show`, and `ifdsed compare`
collecting them; then study.archive keeping one in the repository, where `ifdsed compare` still finds it once
DVC no longer has it (a study that spans sessions). The copy's own code runs: `python -m ifdsed` with the copy's
root on PYTHONPATH (tests/helpers.py's `environment`)."""
import copy
import json
import os
import shutil
import subprocess
import time

import pytest

from tests.helpers import ROOT, copy_project, environment, run_command as run

QUEUE_TIMEOUT = 600  # s; the two tiny experiments take well under a minute on an idle 2-core machine


def stdout_of(args, cwd) -> str:
    """stdout alone (for JSON)."""
    done = subprocess.run(args, cwd=cwd, env=environment(cwd), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def queue_states(repo, tries: int = 5) -> list[str]:
    """The status column of every task in `dvc queue status` (Queued, Running, Success, Failed, ...). DVC itself
    fails now and then while a task is failing (it reads the task's info file half-written: "Expecting value"),
    so a failed look is tried again."""
    for _ in range(tries - 1):
        done = subprocess.run(["dvc", "queue", "status"], cwd=repo, env=environment(repo), capture_output=True,
                              text=True, timeout=300)
        if done.returncode == 0:
            break
        time.sleep(1)
    lines = (done.stdout if done.returncode == 0 else stdout_of(["dvc", "queue", "status"], repo)).splitlines()
    states = []
    for line in lines:
        words = line.split()
        if words and words[0] != "Task" and len(words) >= 4 and not line.lower().startswith("worker"):
            states.append(words[-1])
    return states


def experiments(shown: list[dict]):
    """Every experiment revision in `dvc exp show --json` output."""
    for entry in shown:
        for experiment in entry.get("experiments") or []:
            yield from experiment.get("revs") or []


@pytest.mark.skipif(os.environ.get("IFDSED_SKIP_DVC") == "1", reason="IFDSED_SKIP_DVC=1")
def test_two_queued_experiments_run_with_two_workers_and_show_up(tmp_path, tiny_params):
    params = copy.deepcopy(tiny_params)
    params["train"].update(seeds=[1], threads=1)  # two runs at a time on two cores
    params["eval"].update(piano_roll_clips=0)
    for section in ("soundbank", "synth", "realworld", "features"):
        params[section]["workers"] = 1             # faster than a process pool for a handful of clips
    repo = copy_project(tmp_path / "repo", params)
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    # The recipe: the data stages once, committed, so that every queued run checks them out of the cache.
    run(["dvc", "repro", "features"], repo)
    run(git + ["add", "dvc.lock"], repo)
    run(git + ["commit", "-qm", "data stages"], repo)

    params_file = (repo / "params.yaml").read_bytes()
    run(["dvc", "exp", "run", "--queue", "-n", "ifd-run", "-S", "model.ifd=true"], repo)
    run(["dvc", "exp", "run", "--queue", "-n", "sedb-run", "-S", "model.sedb=true"], repo)
    run(["dvc", "exp", "run", "--queue", "-n", "broken-run", "-S", "train.epochs=0"], repo)   # fails: epochs >= 1
    assert queue_states(repo) == ["Queued", "Queued", "Queued"]
    log = open(tmp_path / "queue-start.log", "w")
    # Not waited on: whether `dvc queue start` returns at once or only with its workers, the queue is watched
    # through `dvc queue status`.
    starter = subprocess.Popen(["dvc", "queue", "start", "-j", "2"], cwd=repo, env=environment(repo),
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + QUEUE_TIMEOUT
        while (states := queue_states(repo)) and {"Queued", "Running"} & set(states):
            assert time.monotonic() < deadline, f"queue still busy after {QUEUE_TIMEOUT} s: {states}"
            time.sleep(2)
    finally:
        subprocess.run(["dvc", "queue", "stop"], cwd=repo, env=environment(repo), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
        try:
            starter.wait(timeout=60)
        except subprocess.TimeoutExpired:
            starter.kill()
            starter.wait()
        log.close()
    assert starter.returncode == 0, (tmp_path / "queue-start.log").read_text()
    assert sorted(states) == ["Failed", "Success", "Success"], run(["dvc", "queue", "logs", "ifd-run"], repo)
    # no silent carry-over: queued runs, the failed one too, leave the workspace's params as they were
    assert (repo / "params.yaml").read_bytes() == params_file

    shown = json.loads(stdout_of(["dvc", "exp", "show", "--json"], repo))
    found = {}
    for revision in experiments(shown):
        data = revision.get("data") or {}
        summary = ((data.get("metrics") or {}).get("results/metrics.json") or {}).get("data")
        if summary:
            found[revision.get("name")] = summary
        # the one DVC metrics file: the headline (each seed's files are in the experiment's commit)
        assert set(data.get("metrics") or {}) <= {"results/metrics.json"}, data.get("metrics")
    assert set(found) == {"ifd-run", "sedb-run"}, found
    assert found["ifd-run"]["variant"] == "IFD" and found["sedb-run"]["variant"] == "SEDB"
    for summary in found.values():
        assert summary["seeds"] == 1 and 0 <= summary["real_test/event_f1"] <= 1

    output = run(["python", "-m", "ifdsed", "compare", "--out", "tables"], repo)
    table = (repo / "tables/table1.md").read_text()
    assert "| IFD | 1 |" in table and "| SEDB | 1 |" in table, output

    # the README's `dvc exp show` line: a table that fits 120 columns, with the headline and the params that differ
    (line,) = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("dvc exp show")]
    shown = subprocess.run(["bash", "-c", line.split("  #")[0]], cwd=repo, capture_output=True, text=True, timeout=300,
                           env={**environment(repo), "COLUMNS": "120"})
    assert shown.returncode == 0, shown.stderr
    rows = shown.stdout.splitlines()
    assert max(map(len, rows)) <= 120 and "…" not in shown.stdout, shown.stdout
    for column in ("real_test/event_f1", "real_test/psds1", "syn_test/event_f1", "model.ifd", "model.sedb"):
        assert column in rows[1], shown.stdout
    assert "ifd-run" in shown.stdout and "sedb-run" in shown.stdout

    # --experiments: only the named experiments (any commit); a name with no finished experiment is an error
    output = run(["python", "-m", "ifdsed", "compare", "--out", "named", "--experiments", "sedb-run"], repo)
    table = (repo / "named/table1.md").read_text()
    assert "| SEDB | 1 |" in table and "| IFD |" not in table, output
    missing = subprocess.run(["python", "-m", "ifdsed", "compare", "--out", "x", "--experiments", "no-such-run"],
                             cwd=repo, env=environment(repo), capture_output=True, text=True, timeout=300)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr, missing.stderr
    assert "compare: no finished experiment named no-such-run" in missing.stderr

    # the archive: kept in the repository, read back by --experiments once the live experiment is gone
    shutil.copytree(ROOT / "study", repo / "study", ignore=shutil.ignore_patterns("__pycache__"))
    run(["python", "-m", "study.archive", "--prefix", "sedb-"], repo)
    assert [path.name for path in (repo / "docs/ifd-study/experiments").iterdir()] == ["sedb-run.json"]
    run(["dvc", "exp", "remove", "sedb-run"], repo)
    assert "sedb-run" not in stdout_of(["dvc", "exp", "list", "--all-commits", "--name-only"], repo)
    output = run(["python", "-m", "ifdsed", "compare", "--out", "archived", "--experiments", "sedb-run"], repo)
    for name in ("table1.md", "table2.md", "diagnostics.md"):
        assert (repo / "archived" / name).read_text() == (repo / "named" / name).read_text(), output
