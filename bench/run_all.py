"""Run every benchmark under bench/ and collect their figures in bench/results.json.

    .venv/bin/python -m bench.run_all [--only NAME ...] [--skip NAME ...] [--quick] [--table]

Each benchmark runs as its own process, a module of the package bench (`python -m bench.NAME`: the commands are
in BENCHMARKS, run from the project root with this interpreter); the last line of its output is its JSON
result. bench/results.json holds, per benchmark, the command, that JSON, its wall time, the 1-minute load
average before and after and the time it ran, plus the machine (CPU model, cores, memory, Python and torch
versions) and the date. With --only, the other entries already in results.json are kept (each entry says when
it ran). A benchmark that fails is recorded with its error and the others still run; the exit status is then 1.
--quick runs shorter variants (development only: its figures are not the ones to quote). --table only rewrites
the table in docs/performance.md from bench/results.json (run_all does that after every run), so
the documents' figures are always the file's (tests/test_bench_table.py checks that they are).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ifdsed.evaluation.experiments import cpu_label, machine as cpu_record
from ifdsed.io.atomic import write_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
DOC = ROOT / "docs" / "performance.md"
TABLE_DOCS = (DOC,)  # holds the table between TABLE_START and TABLE_END (the README links to it)
TABLE_START, TABLE_END = "<!-- results table: written by bench/run_all.py -->", "<!-- end of results table -->"


def _module(name: str, *arguments: str) -> list[str]:
    """The arguments of the interpreter that run bench/NAME.py as a module: -m bench.NAME ..."""
    return ["-m", f"bench.{name}", *arguments]


# name: (arguments, arguments with --quick); the timing-sensitive short ones first, the pipeline last.
BENCHMARKS = {
    "train_step": (_module("train_step"), _module("train_step", "--rounds", "6", "--warmup", "1", "--lin-rounds", "1",
                                                  "--lin-warmup", "0", "--loader-epochs", "2")),
    "efficiency": (_module("efficiency"), _module("efficiency", "--rounds", "3", "--warmup", "1", "--no-compile")),
    "ifd_loss": (_module("ifd_loss"), _module("ifd_loss", "--repeats", "5")),
    "synthesis": (_module("synthesis", "--repeats", "3"),
                  _module("synthesis", "--clips", "16", "--test-clips", "4", "--repeats", "1")),
    "features": (_module("features"), _module("features", "--clips", "16", "--repeats", "2")),
    "audio_check": (_module("audio_check"), _module("audio_check", "--clips", "40", "--repeats", "1")),
    "predict": (_module("predict"), _module("predict", "--clips", "10", "--long", "1", "--repeats", "1")),
    "memory": (_module("memory"), _module("memory", "--scales", "default", "paper", "--max-steps", "3")),
    "pipeline": (_module("repro"), _module("repro", "--quick")),   # the DVC pipeline, timed by bench/repro.py
    # quality, not speed: the pipeline's trained models on real recordings (needs `make repro` first)
    "real_audio": (_module("real_audio"), _module("real_audio", "--mixes", "20")),
}


def machine() -> dict:
    """The host of a benchmark: the CPU with its kernel path and native bfloat16 (the record the study's archive
    keeps too: `ifdsed.evaluation.experiments.machine`), cores, memory, Python, torch and the platform."""
    record = cpu_record()
    return {"cpu_model": record["cpu"], "cpu_capability": record.get("cpu_capability"),
            "native_bfloat16": record.get("native_bfloat16"), "cores": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": record["python"], "torch": record["torch"], "platform": platform.platform()}


def run(name: str, arguments: list[str]) -> dict:
    command = [sys.executable] + arguments
    shown = ".venv/bin/python " + " ".join(arguments)
    load_before = os.getloadavg()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    started = time.perf_counter()
    print(f"== {name}: {shown}", flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, TQDM_DISABLE="1"))
    seconds = time.perf_counter() - started
    lines = [line for line in done.stdout.strip().splitlines() if line.strip()]
    entry = {"command": shown, "started": started_at, "wall_s": round(seconds, 1), "machine": machine(),
             "loadavg_before": [round(x, 2) for x in load_before],
             "loadavg_after": [round(x, 2) for x in os.getloadavg()]}
    for line in lines[:-1]:
        print(f"   {line}", flush=True)
    try:
        if done.returncode:
            raise ValueError(f"exit status {done.returncode}")
        entry["result"] = json.loads(lines[-1])
    except (ValueError, IndexError) as error:
        entry["error"] = f"{error}: {(done.stdout + done.stderr)[-2000:]}"
        print(f"   FAILED: {entry['error']}", flush=True)
    return entry


def _get(result: dict, path: str):
    value = result
    for key in path.split("."):
        value = value[key]
    return value


# (benchmark, figure, keys shown (dotted paths into its JSON), target, key of the met flag or None)
ROWS = [
    ("train_step", "training step, default path / eager float32, default model", ["speedup",
     "default_model.default_clips_per_s", "default_model.eager_fp32_clips_per_s", "execution"], ">= 2", "speedup_met"),
    ("train_step", "the same, Lin et al.'s 160 filters, 500 frames", ["lin_speedup", "lin.default_clips_per_s",
     "lin.eager_fp32_clips_per_s"], "", None),
    ("train_step", "compilation, first step (s)", ["compile_s", "compile_cache"], "", None),
    ("train_step", "batch loader alone vs what a step consumes (clips/s)", ["loader_over_step", "loader_clips_per_s",
     "step_clips_per_s", "loader.clips_per_s_inline"], "> 1", None),
    ("train_step", "training step, baseline, default path (ms, median)", ["baseline_ms"], "", None),
    ("train_step", "IFD branch: step time added (default path)", ["ifd_overhead", "ifd_ms"], "<= 0.10", "ifd_met"),
    ("train_step", "SEDB branch: step time added (default path)", ["sedb_overhead", "sedb_ms"], "<= 0.05",
     "sedb_met"),
    ("train_step", "SEDB + IFD: step time added (default path)", ["sedb_ifd_overhead", "sedb_ifd_ms"], "", None),
    ("train_step", "batched IFD loss vs loop reference (training batch)",
     ["ifd_loss.speedup", "ifd_loss.max_abs_diff", "ifd_loss.batched_ms", "ifd_loss.loop_ms"], "same value", None),
    ("ifd_loss", "batched IFD loss vs loop reference (B=24)", ["speedup", "max_abs_diff"], "same value", None),
    ("efficiency", "encoder FLOP rate / matmul peak, eager float32", ["fraction_of_peak", "encoder_gflops",
     "peak_gflops"], ">= 0.5", "met"),
    ("efficiency", "encoder on the training path (as trained: autocast, compiled) / matmul peaks",
     ["training_path.precision", "training_path.gflops", "training_path.fraction_of_fp32_peak",
      "training_path.fraction_of_bf16_peak", "peak_gflops_bf16"], "", None),
    ("efficiency", "the whole training step (encoder FLOPs only) / matmul peaks", ["training_path.full_step_ms",
     "training_path.full_step_gflops", "training_path.full_step_fraction_of_fp32_peak",
     "training_path.full_step_fraction_of_bf16_peak"], "", None),
    ("synthesis", "synthesis, 2 workers / 1 worker", ["scaling", "clips_per_s_1", "clips_per_s_2"], ">= 1.7",
     "met"),
    ("synthesis", "synthesis: scaling the measured parts predict", ["diagnosis.model_scaling",
     "diagnosis.scaper_import_s", "diagnosis.render_s_serial"], "", None),
    ("audio_check", "checking DCASE audio on import, 2 threads / 1 (ms a clip)",
     ["speedup", "ms_per_clip_1", "ms_per_clip_threads", "same_result"], "", None),
    ("pipeline", "`make repro` from clean (embedded default)", ["full_repro_s", "mode"], "", None),
    ("pipeline", "`dvc repro` with nothing changed (s, median)", ["noop_repro_s"], "<= 5 s", "noop_met"),
    ("pipeline", "`model.ifd` change reruns", ["model_change_stages"], "train, evaluate, summarize only",
     "model_change_met"),
    ("memory", "training peak RSS, default set sizes (MiB)", ["default_peak_rss_mib", "default_peak_anon_mib"],
     "", None),
    ("memory", "training peak RSS, paper set sizes, 250 frames (MiB)",
     ["paper_peak_rss_mib", "paper_peak_anon_mib", "paper_anon_growth_mib", "paper_features_growth_mib"], "", None),
    ("memory", "training peak RSS, paper set sizes, 500 frames (MiB)",
     ["paper_lin_peak_rss_mib", "paper_lin_peak_anon_mib"], "", None),
    ("memory", "anonymous memory, peak of the training steps (MiB)",
     ["scales.default.phases_anon_mib.train_steps", "scales.paper.phases_anon_mib.train_steps",
      "scales.paper_lin.phases_anon_mib.train_steps"], "", None),
    ("memory", "anonymous memory, peak of the validation pass (MiB)",
     ["scales.default.phases_anon_mib.validation", "scales.paper.phases_anon_mib.validation",
      "scales.paper_lin.phases_anon_mib.validation"], "", None),
    ("memory", "anonymous memory added by reading a whole epoch (MiB)",
     ["epoch_read_anon_growth_mib", "epoch_read_features_mib"], "features not held in memory", None),
    ("features", "log-mel extraction vs librosa", ["speedup", "clips_per_s", "max_abs_diff_db"], ">= 5", None),
    ("predict", "prediction real-time factor", ["realtime_factor", "cores_used"], ">= 1000", None),
    ("predict", "the same, exported by `ifdsed export`, in ONNX Runtime",
     ["onnx_realtime_factor", "onnx_cpu_realtime_factor"], "beside the PyTorch path", None),
    ("real_audio", "trained models on real recordings: event and 1 s segment F1 (macro, the classes present)",
     ["event_f1_macro", "segment_f1_macro", "models", "mixes", "classes"], "", None),
    ("real_audio", "false alarms on real ambiences with no target sound",
     ["false_alarms_per_minute", "background_windows_with_alarm", "background_windows"], "", None),
]


def render(results: dict) -> str:
    """The markdown table of every figure, from results.json's content."""
    lines = ["| benchmark | figure | value (key = value, as in bench/results.json) | target | met | command |",
             "|---|---|---|---|---|---|"]
    for name, figure, keys, target, met_key in ROWS:
        entry = results.get("benchmarks", {}).get(name)
        if entry is None or "result" not in entry:
            lines.append(f"| {name} | {figure} | {'failed' if entry else 'not run'} | {target} | | |")
            continue
        result = entry["result"]
        shown = []
        for key in keys:
            try:
                value = _get(result, key)
            except (KeyError, TypeError):
                continue
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            elif isinstance(value, list):
                value = " ".join(map(str, value))
            shown.append(f"`{key}` = {value}")
        met = ""
        if met_key is not None and met_key in result:
            met = "yes" if result[met_key] else "**no**"
        elif name == "features" and "speedup" in result:
            met = "yes" if result["speedup"] >= 5 else "**no**"
        elif name == "predict" and "realtime_factor" in keys and "realtime_factor" in result:
            met = "yes" if result["realtime_factor"] >= result.get("target", 1000) else "**no**"
        elif name == "memory" and target and "features_held_in_memory" in result:
            met = "**no**" if result["features_held_in_memory"] else "yes"
        elif name == "train_step" and target == "> 1" and "loader_over_step" in result:
            met = "yes" if result["loader_over_step"] > 1 else "**no**"
        elif name in ("train_step", "ifd_loss") and "same value" in target:
            diff = _get(result, keys[1])
            met = "yes" if diff <= 1e-5 else "**no**"
        quick = " (quick)" if entry.get("quick") else ""
        lines.append(f"| {name} | {figure}{quick} | {'; '.join(shown)} | {target} | {met} | `{entry['command']}` |")
    lines.append("")
    by_machine: dict[str, list[str]] = {}   # the same VM may be lent on other hardware from one session to the next
    for name, entry in results.get("benchmarks", {}).items():
        host = entry.get("machine", {})
        cpu = cpu_label({**host, "cpu": host.get("cpu_model", "?")}) if host.get("cpu_capability") else \
            host.get("cpu_model", "?")   # records made before the kernel path was kept: the model name alone
        described = (f"{cpu}, {host.get('cores', '?')} cores, {host.get('memory_gib', '?')} "
                     f"GiB, Python {host.get('python', '?')}, torch {host.get('torch', '?')}")
        by_machine.setdefault(described, []).append(f"{name} ({entry.get('started', '?')[:10]})")
    lines.append("Machine: " + "; ".join(f"{described}: {', '.join(names)}" for described, names in by_machine.items())
                 + ". 1-minute load average before each benchmark: " + ", ".join(
                     f"{name} {entry['loadavg_before'][0]}" for name, entry in results.get("benchmarks", {}).items())
                 + ".")
    return "\n".join(lines)


def write_table(results: dict) -> None:
    """Rewrite the results table of docs/performance.md (between its markers) from `results`."""
    for doc in TABLE_DOCS:
        text = doc.read_text()
        if TABLE_START not in text or TABLE_END not in text:
            raise SystemExit(f"{doc}: the table markers {TABLE_START} and {TABLE_END} are gone: put them back "
                             "where the table belongs")
        head, rest = text.split(TABLE_START, 1)
        _, tail = rest.split(TABLE_END, 1)
        doc.write_text(f"{head}{TABLE_START}\n{render(results)}\n{TABLE_END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS))
    parser.add_argument("--skip", nargs="+", default=[], choices=list(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="shorter runs, for development")
    parser.add_argument("--table", action="store_true", help="only rewrite the table of docs/performance.md")
    args = parser.parse_args()
    if args.table:
        return write_table(json.loads(RESULTS.read_text()))
    names = [name for name in (args.only or BENCHMARKS) if name not in args.skip]
    results = json.loads(RESULTS.read_text()) if args.only and RESULTS.is_file() else {}
    results.setdefault("benchmarks", {})
    failed = []
    for name in names:
        entry = run(name, BENCHMARKS[name][1 if args.quick else 0])
        if args.quick:
            entry["quick"] = True
        results["benchmarks"][name] = entry
        failed += [name] if "error" in entry else []
        results.update({"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "loadavg_now": [round(x, 2) for x in os.getloadavg()]})
        results.pop("machine", None)   # each entry records its own
        write_text(RESULTS, json.dumps(results, indent=1) + "\n")
    write_table(results)
    print(f"wrote {RESULTS.relative_to(ROOT)} and the table of {DOC.relative_to(ROOT)}"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
