"""Benchmark: Scaper synthesis throughput (clips per second) with 1 and 2 worker processes, and why it scales
as it does.

    .venv/bin/python -m bench.synthesis [--clips N] [--test-clips N] [--repeats 2] [--no-diagnose]

Builds a small embedded sound bank (`ifdsed.soundbank.bank.build_embedded_bank`: 6 clips per class, 4 background
beds) in a temporary folder, then times `ifdsed.scenes.synthesis.synthesize_sets` (the whole `synthesize` stage minus
the bank check: planning, Scaper mixing with SoX pitch shifts, wav + JAMS writing, the set tables) on
`--clips` training and `--test-clips` test clips (default: params.yaml's synth.train_clips and test_clips, the
stage's own sizes: a fixed start-up cost weighs more on fewer clips, see the diagnosis) with synth.workers = 1
and 2. Each run is a fresh Python process, as the DVC stage is, and the timed call includes scaper's import
(`ifdsed.scenes.render.render_sets` imports it once, before its workers fork, with any number of workers); runs
alternate 1, 2, 1, 2, ... `--repeats` times each and the fastest of each counts. clips_per_s = clips /
seconds of synthesize_sets; scaling = clips_per_s(2) / clips_per_s(1) (target >= 1.7 on 2 cores).

Diagnosis (unless --no-diagnose): in one more fresh process, the time to import scaper and the render time of
every clip in turn (`ifdsed.scenes.render.render_job`, in-process); from these, the 2-worker render time that a
perfect split would give and the one that handing out clips one at a time gives (simulated: each clip goes to
the first free worker). The import is a serial part of both runs: model_scaling = (import + serial render) /
(import + 2-worker render), for this run and for a 40 + 8 clip run. parent_overhead_s is what the measured
2-worker time has beyond that model: planning the clips (done by the workers, outside the timed renders),
handing out positions and collecting results, writing the set tables, starting the workers; it can come out
negative, since the diagnosis is another process and run-to-run spread on a shared VM is larger than it.
The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, arguments, emit, loadavg, project_params, run_module

BANK = dict(clips_per_class=6, backgrounds=4, background_duration=12.0)


def bench_params(clips: int, test_clips: int, workers: int):
    import yaml
    from ifdsed.config import parse_params
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["synth"].update(train_clips=clips, test_clips=test_clips, workers=workers)
    return parse_params(raw)


def child(args) -> None:
    """One timed run of synthesize_sets in this fresh process; prints a JSON line."""
    started_import = time.perf_counter()
    import ifdsed.scenes.synthesis as synthesis
    from ifdsed.soundbank.manifest import load_sources
    imported = time.perf_counter() - started_import
    os.environ.setdefault("TQDM_DISABLE", "1")
    params = bench_params(args.clips, args.test_clips, args.workers)
    bank = Path(args.bank)
    sources, fg_dir, bg_dir = load_sources("synthetic", bank / "manifest.tsv")
    out = Path(args.out)
    started = time.perf_counter()
    summary = synthesis.synthesize_sets(params, sources, fg_dir, bg_dir, out)
    seconds = time.perf_counter() - started
    emit({"seconds": seconds, "clips": sum(s["clips"] for s in summary.values()),
          "events": sum(s["events"] for s in summary.values()), "module_import_s": imported})


def diagnose(args) -> None:
    """Scaper's import time and every clip's render time, in this fresh process; prints a JSON line."""
    started = time.perf_counter()
    import scaper  # noqa: F401
    import_s = time.perf_counter() - started
    from ifdsed.scenes.render import ClipJob, MixSettings, render_job
    from ifdsed.scenes.planning import clip_rng
    from ifdsed.soundbank.manifest import load_sources
    from ifdsed.scenes.synthesis import SYNTHETIC_SETS, plan_synthetic_clip
    params = bench_params(args.clips, args.test_clips, 1)
    synth, duration = params.synth, params.data.clip_duration
    sources, fg_dir, bg_dir = load_sources("synthetic", Path(args.bank) / "manifest.tsv")
    mix = MixSettings(fg_dir, bg_dir, params.data.sample_rate, duration, synth.ref_db)
    foregrounds, backgrounds = sources[sources.role == "foreground"], sources[sources.role == "background"]
    clip_times = {}
    for set_index, set_name in enumerate(SYNTHETIC_SETS):
        n_clips = synth.train_clips if set_name == "train" else synth.test_clips
        audio = Path(args.out) / set_name / "audio"
        audio.mkdir(parents=True, exist_ok=True)
        times = []
        for clip in range(n_clips):
            rng = clip_rng(synth.seed, set_index, clip)
            plan = plan_synthetic_clip(f"c{clip}", rng, foregrounds, backgrounds, params.classes, synth, duration)
            job = ClipJob(plan, int(rng.integers(2**31 - 1)), mix, str(audio), str(audio))
            started = time.perf_counter()
            render_job(job)
            times.append(time.perf_counter() - started)
        clip_times[set_name] = times
    emit({"scaper_import_s": import_s, "clip_s": clip_times})


def pool_makespan(times: list[float], workers: int, chunksize: int) -> float:
    """Wall time of a pool over clips of these durations: each chunk of clips goes to the first free worker."""
    free = [0.0] * workers
    for start in range(0, len(times), chunksize):
        heapq.heapreplace(free, free[0] + sum(times[start:start + chunksize]))
    return max(free)


def run_child(args, workers: int, bank: Path, scratch: Path, mode: str = "--child") -> dict:
    return run_module("bench.synthesis", mode, "--bank", bank, "--out", tempfile.mkdtemp(dir=scratch),
                      "--clips", args.clips, "--test-clips", args.test_clips, "--workers", workers)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--clips", type=int, default=None, help="training clips (default: synth.train_clips)")
    parser.add_argument("--test-clips", type=int, default=None, help="test clips (default: synth.test_clips)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-diagnose", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--diagnose-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bank", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.chdir(ROOT)
    if args.child:
        return child(args)
    if args.diagnose_child:
        return diagnose(args)

    from ifdsed.soundbank.bank import build_embedded_bank
    params = project_params()
    args.clips = args.clips or params.synth.train_clips
    args.test_clips = args.test_clips or params.synth.test_clips
    load_before = loadavg()
    with tempfile.TemporaryDirectory(prefix="bench_synthesis_") as folder:
        scratch = Path(folder)
        bank = scratch / "bank"
        started = time.perf_counter()
        build_embedded_bank(bank, params.classes, sample_rate=params.data.sample_rate, seed=0, workers=2, **BANK)
        print(f"bench synthesis: bank of {BANK['clips_per_class']} clips per class built in "
              f"{time.perf_counter() - started:.1f} s; {args.clips} + {args.test_clips} clips per run, "
              f"{os.cpu_count()} cpus")
        runs = {1: [], 2: []}
        for _ in range(args.repeats):
            for workers in runs:
                result = run_child(args, workers, bank, scratch)
                runs[workers].append(result["seconds"])
                print(f"  workers {workers}: {result['clips']} clips in {result['seconds']:.2f} s")
        clips = args.clips + args.test_clips
        best = {workers: min(times) for workers, times in runs.items()}
        rate = {workers: clips / seconds for workers, seconds in best.items()}
        scaling = rate[2] / rate[1]
        result = {"clips_per_s_1": round(rate[1], 2), "clips_per_s_2": round(rate[2], 2),
                  "scaling": round(scaling, 3), "target": 1.7, "met": scaling >= 1.7,
                  "seconds_1": round(best[1], 2), "seconds_2": round(best[2], 2),
                  "all_runs_s": {f"workers_{w}": [round(t, 2) for t in times] for w, times in runs.items()}}
        if not args.no_diagnose:
            found = run_child(args, 1, bank, scratch, mode="--diagnose-child")
            times = found["clip_s"]["train"] + found["clip_s"]["test"]
            serial, imported = sum(times), found["scaper_import_s"]
            one_by_one = pool_makespan(times, 2, 1)  # one pool for both sets, clips handed out one at a time
            small = 48 * serial / clips             # the same clips' mean render time, for a 40 + 8 clip run
            result["diagnosis"] = {
                "render_s_serial": round(serial, 2), "clip_s_mean": round(serial / clips, 3),
                "clip_s_min": round(min(times), 3), "clip_s_max": round(max(times), 3),
                "scaper_import_s": round(imported, 2),
                "ideal_2_worker_render_s": round(serial / 2, 2),
                "chunksize1_2_worker_render_s": round(one_by_one, 2),
                "model_scaling": round((serial + imported) / (one_by_one + imported), 3),
                "model_scaling_48_clips": round((small + imported) / (small / 2 + imported), 3),
                "parent_overhead_s": round(best[2] - one_by_one - imported, 2)}
            print(f"diagnosis: {json.dumps(result['diagnosis'])}")
    result.update({"clips": clips, "train_clips": args.clips, "test_clips": args.test_clips,
                   "repeats": args.repeats, "bank": BANK, "cpus": os.cpu_count(),
                   "loadavg": [load_before, loadavg()]})
    print(f"1 worker {result['clips_per_s_1']} clips/s, 2 workers {result['clips_per_s_2']} clips/s: scaling "
          f"{result['scaling']}x (target 1.7x)")
    emit(result)


if __name__ == "__main__":
    main()
