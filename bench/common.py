"""What the benchmarks under bench/ share: the project root, argument parsing, params.yaml, timing, the fresh
processes some of them start, and the JSON line that ends every benchmark's output.

Every benchmark runs as a module from the project root (`.venv/bin/python -m bench.NAME`), so `ifdsed`,
`pipeline` and `bench` itself import from this checkout with no change to sys.path; a benchmark that
runs part of its work in a fresh process (memory, synthesis) starts that process the same way (`run_module`).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, ContextManager, NamedTuple

ROOT = Path(__file__).resolve().parents[1]


def arguments(doc: str) -> argparse.ArgumentParser:
    """An argument parser described by the first paragraph of a benchmark's docstring."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0])


def add_step_options(parser: argparse.ArgumentParser, rounds: int, warmup: int) -> None:
    """--rounds, --warmup, --threads and --batch-size: the options of the benchmarks that time training steps."""
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--threads", type=int, default=None, help="default: params.yaml train.threads")
    parser.add_argument("--batch-size", type=int, default=None, help="default: params.yaml train.batch_size")


def project_params():
    """params.yaml of this checkout; the project root is the working folder from here on."""
    from ifdsed.config import load_params
    os.chdir(ROOT)
    return load_params()


class StepSetup(NamedTuple):
    params: Any         # ifdsed.config.Params
    threads: int
    batch_size: int
    features: Any       # ifdsed.features.logmel.LogMelConfig


def step_setup(args: argparse.Namespace) -> StepSetup:
    """For the options of `add_step_options`: params.yaml, torch's thread count (--threads, else train.threads;
    set here), the batch size (--batch-size, else train.batch_size) and the log-mel settings of params.yaml."""
    import torch

    from ifdsed.features.logmel import LogMelConfig
    params = project_params()
    threads = args.threads or params.train.threads
    torch.set_num_threads(threads)
    return StepSetup(params, threads, args.batch_size or params.train.batch_size,
                     LogMelConfig.from_params(params.features, params.data.clip_duration))


def loadavg() -> float:
    """The 1-minute load average, to 2 decimals."""
    return round(os.getloadavg()[0], 2)


def time_ms(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of `repeats` calls of `fn` in ms, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def rotate(names: list[str], round_: int) -> list[str]:
    """`names` rotated by `round_` places: each round starts with another one."""
    shift = round_ % len(names)
    return names[shift:] + names[:shift]


def interleaved(runs: dict[str, Callable[[], Any]], rounds: int, warmup: int,
                context: Callable[[str], ContextManager] | None = None) -> tuple[dict[str, list[float]], dict]:
    """Time `runs` against each other: `warmup` rounds, then `rounds` rounds that each call every run once, in an
    order rotated every round (so drift and a busy spell of another process hit them all alike).

    Returns each run's wall times (s, one per round) and the value its last call returned. `context(name)`, when
    given, is entered around every call of that run, outside the clock (settings such as the thread count)."""
    context = context or (lambda name: contextlib.nullcontext())
    names, last = list(runs), {}
    for _ in range(warmup):
        for name in names:
            with context(name):
                last[name] = runs[name]()
    times = {name: [] for name in names}
    for round_ in range(rounds):
        for name in rotate(names, round_):
            with context(name):
                started = time.perf_counter()
                last[name] = runs[name]()
                times[name].append(time.perf_counter() - started)
    return times, last


def emit(result: dict) -> None:
    """A benchmark's result: one JSON object, the last line of its output (what bench/run_all.py records)."""
    print(json.dumps(result), flush=True)


def run_module(module: str, *args: Any) -> dict:
    """`python -m module args...` in a fresh process, from the project root, with TQDM_DISABLE=1; returns its
    last output line parsed as JSON, or exits with the end of its output if it failed."""
    command = [sys.executable, "-m", module, *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, TQDM_DISABLE="1"))
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                         f"{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
