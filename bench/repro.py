"""Benchmark: the DVC pipeline's wall time from clean, a repeated repro with nothing changed, and what a
params change reruns.

    .venv/bin/python -m bench.repro [--quick] [--noop-repeats 3] [--keep DIR]

Copies the project (the files tests/helpers.py lists, plus the Makefile) into a fresh git
repository in a temporary folder, with this checkout's .venv linked in, and there:

1. `make -o .venv/.installed repro` from clean (no data, no dvc.lock, no DVC cache, no torch.compile cache):
   exactly `make repro` with
   its install step taken as done (it is idempotent and this benchmark must not install anything): `dvc repro`
   of every stage, then `ifdsed compare`. full_repro_s is its wall time; stage_s the wall time of
   each stage, from the moment DVC announces it to the next announcement (the last one to the end of
   `dvc repro`); compare_s the comparison tables.
2. `dvc repro` again, `--noop-repeats` times, with nothing changed: noop_repro_s is the median (target <= 5 s);
   the stages it ran must be none.
3. For a change of `model.ifd` (false -> true) and, for comparison, of `synth.seed`: params.yaml is edited and
   `dvc repro --dry` lists the stages whose own dependencies changed (`*_direct`; nothing runs, and params.yaml
   is restored byte for byte after); with the stages downstream of them in `dvc dag` they are the stages a
   repro reruns (`*_stages`). model_change_met: the change touches train@* only and reruns train@*,
   evaluate@*, diagnose@* and summarize only. With --quick, `dvc exp run -S model.ifd=true` is also run for real
   (model_change_ran).

--quick uses tests/helpers.py's tiny params (a minute or two) instead of params.yaml's defaults (the default
run takes 10 to 20 minutes on 2 cores). The last line is one JSON object.
"""
from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from bench.common import ROOT, arguments, emit, loadavg
from bench.project_copy import copy_project_files, tiny_params   # shared with the tests

STAGE_LINE = re.compile(r"^Running stage '([^']+)'")


def environment(repo: Path) -> dict:
    """The stages' environment; torch.compile's caches in a fresh folder beside the repository, so that "from clean"
    includes compiling the training step, as on a fresh machine."""
    return dict(os.environ, PATH=f"{repo / '.venv' / 'bin'}:{os.environ['PATH']}", PYTHONPATH=str(repo),
                TQDM_DISABLE="1", TORCHINDUCTOR_CACHE_DIR=str(repo.parent / "torchinductor_cache"))


def copy_project(repo: Path, params_text: str | None) -> None:
    """The project files into a fresh git repository at `repo` (one commit), .venv linked to this checkout's."""
    copy_project_files(repo, extra=("Makefile",))
    if params_text is not None:
        (repo / "params.yaml").write_text(params_text)
    (repo / ".venv").symlink_to(ROOT / ".venv")
    with open(repo / ".git_exclude_venv", "w"):
        pass
    git = ["git", "-c", "user.email=bench@localhost", "-c", "user.name=bench"]
    for command in (["git", "init", "-q"], git + ["add", "-A", ":!.venv", ":!.git_exclude_venv"],
                    git + ["commit", "-qm", "bench"]):
        subprocess.run(command, cwd=repo, check=True, capture_output=True)
    (repo / ".git_exclude_venv").unlink()
    with open(repo / ".git" / "info" / "exclude", "a") as handle:
        handle.write(".venv\n")


def run_timed(command: list[str], repo: Path) -> tuple[float, dict[str, float], list[str], str]:
    """Run `command`, stamping each output line: (wall s, {stage: s}, stages in order, output)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=repo, env=environment(repo), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    marks, lines = [], []
    for line in process.stdout:
        lines.append(line)
        found = STAGE_LINE.match(line)
        if found:
            marks.append((found.group(1), time.perf_counter()))
        elif line.startswith("Use `dvc push`") or line.startswith("To track the changes"):
            marks.append(("<end>", time.perf_counter()))
    process.wait()
    ended = time.perf_counter()
    output = "".join(lines)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output[-5000:]}")
    stages = [name for name, _ in marks if name != "<end>"]
    times = {}
    for (name, at), (_, after) in zip(marks, marks[1:] + [("<end>", ended)]):
        if name != "<end>":
            times[name] = round(after - at, 1)
    return ended - started, times, stages, output


def dry_stages(repo: Path, section: str, key: str, value) -> list[str]:
    """Stages `dvc repro --dry` would run after setting params section.key = value (params restored after)."""
    params = repo / "params.yaml"
    original = params.read_text()
    raw = yaml.safe_load(original)
    raw[section][key] = value
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    try:
        done = subprocess.run(["dvc", "repro", "--dry"], cwd=repo, env=environment(repo), capture_output=True,
                              text=True)
        if done.returncode:
            raise SystemExit(f"dvc repro --dry failed:\n{done.stdout}\n{done.stderr}")
    finally:
        params.write_text(original)
    return [found.group(1) for line in done.stdout.splitlines() if (found := STAGE_LINE.match(line))]


def downstream(repo: Path, stages: list[str]) -> list[str]:
    """`stages` and every stage that depends on them, from `dvc dag --dot`, in the DAG's order."""
    done = subprocess.run(["dvc", "dag", "--dot"], cwd=repo, env=environment(repo), capture_output=True, text=True,
                          check=True)
    order = re.findall(r'^"([^"]+)";$', done.stdout, flags=re.M)
    edges = re.findall(r'^"([^"]+)" -> "([^"]+)";$', done.stdout, flags=re.M)
    reached, frontier = set(stages), list(stages)
    while frontier:
        node = frontier.pop()
        for source, target in edges:
            if source == node and target not in reached:
                reached.add(target)
                frontier.append(target)
    return [name for name in order if name in reached]


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny params instead of the defaults")
    parser.add_argument("--noop-repeats", type=int, default=3)
    parser.add_argument("--keep", help="build the copy here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    load_before = loadavg()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    repo = folder / "repo"
    try:
        copy_project(repo, yaml.safe_dump(tiny_params(), sort_keys=False) if args.quick else None)
        print(f"bench pipeline: {'tiny' if args.quick else 'default'} params, copy at {repo}, "
              f"{os.cpu_count()} cpus", flush=True)
        full_s, stage_s, stages, output = run_timed(["make", "-o", ".venv/.installed", "repro"], repo)
        print(f"make repro from clean: {full_s:.1f} s; stages: " +
              ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stage_s.items()), flush=True)
        compare_s = round(full_s - sum(stage_s.values()), 1)   # dvc's own overhead and ifdsed compare
        noop, noop_stages = [], []
        for _ in range(args.noop_repeats):
            seconds, _, ran, _ = run_timed(["dvc", "repro"], repo)
            noop.append(seconds)
            noop_stages.extend(ran)
        status = subprocess.run(["dvc", "status"], cwd=repo, env=environment(repo), capture_output=True,
                                text=True).stdout.strip()
        model_direct = dry_stages(repo, "model", "ifd", True)
        synth_direct = dry_stages(repo, "synth", "seed", 7)
        model_stages, synth_stages = downstream(repo, model_direct), downstream(repo, synth_direct)
        model_ran = None
        if args.quick:   # the real thing, affordable with tiny params
            _, _, model_ran, _ = run_timed(["dvc", "exp", "run", "-S", "model.ifd=true"], repo)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    base = lambda names: sorted({name.split("@")[0] for name in names})  # noqa: E731
    noop_s = statistics.median(noop)
    expected_stages = ["diagnose", "evaluate", "summarize", "train"]
    model_ok = (base(model_direct) == ["train"] and base(model_stages) == expected_stages
                and (model_ran is None or base(model_ran) == expected_stages))
    result = {"mode": "quick" if args.quick else "default", "full_repro_s": round(full_s, 1),
              "full_repro_min": round(full_s / 60, 2), "stage_s": stage_s, "stages_run": stages,
              "other_s": compare_s, "noop_repro_s": round(noop_s, 2), "noop_repro_all_s": [round(s, 2) for s in noop],
              "noop_target_s": 5.0, "noop_met": noop_s <= 5.0 and not noop_stages, "noop_stages_run": noop_stages,
              "status_after": status, "model_change_direct": model_direct, "model_change_stages": model_stages,
              "model_change_met": model_ok, "model_change_ran": model_ran,
              "synth_seed_change_direct": synth_direct, "synth_seed_change_stages": synth_stages, "cpus": os.cpu_count(),
              "loadavg": [load_before, loadavg()]}
    print(f"no-op dvc repro: median {noop_s:.2f} s of {[round(s, 2) for s in noop]} (target 5 s), stages run: "
          f"{noop_stages or 'none'}")
    print(f"model.ifd=true: changed {model_direct}, reruns {model_stages}"
          + (f"; `dvc exp run -S model.ifd=true` ran {model_ran}" if model_ran is not None else ""))
    print(f"synth.seed=7: changed {synth_direct}, reruns {synth_stages}")
    emit(result)


if __name__ == "__main__":
    main()
