"""Benchmark: the training step, eager float32 against the default execution (params.yaml: bfloat16 autocast +
torch.compile on a CPU that has bfloat16), for the default model and Lin et al.'s; what the IFD and SEDB branches
and a mean teacher add to the default step; and the batch loader alone.

    .venv/bin/python -m bench.train_step [--rounds 30] [--warmup 3] [--lin-rounds 3] [--lin-warmup 1]
                                         [--loader-epochs 10] [--ifd-repeats 3] [--threads N] [--batch-size N]
                                         [--cold-compile]

Every step timed is the training loop's own, `ifdsed.training.step.optimisation_step` (forward under the run's
autocast, losses in float32, zero_grad, backward, Adam step), on the real model and loss (`ifdsed.models.sed_model.SEDModel`,
`SEDModel.losses`), under one of two executions (`ifdsed.training.execution.Execution`):
- eager_fp32: `Execution(cpu, float32, compile=False, channels_last=False)`, the step as it was before;
- default: `Execution.from_params(params.train, cpu)`, what params.yaml gives (train.precision auto = bfloat16
  where the CPU has it natively, else float32; train.compile; train.channels_last), the module the step calls
  being `execution.prepare(model)`, exactly as `ifdsed.training.loop` builds it.
Two configurations, both at train.batch_size clips with train.synthetic_fraction of them synthetic: the default
model (params.yaml's model section; 64 mels x 250 frames from the features section) and Lin et al.'s
(the same with channels [160, 160, 160] and 500 frames per clip). The batch is one seeded DCASE-like batch
(bench/ifd_loss.py's `make_batch`: 1-2 tags per clip out of 10 classes, events as random on/off segments), real
weak clips first (tags only: frame labels zero, as `MixedBatches` gives them), then synthetic clips. The ATP frame
weights are drawn N(0, 0.3) instead of zero, so that the weak clips have pseudo strong labels and the IFD branch
the pairs it has once training has moved those weights (at zero, every p = 0.5 and no weak frame is active).

Compilation happens at a compiled step's first call (forward and backward graphs): that call is timed on its
own (`compile_s`, wall seconds of the first step, compilation included) and never counted in a step time.
Inductor's on-disk caches are used as found (a second run on a machine compiles faster than the first, as a
second training seed does); --cold-compile disables them. torch._dynamo is reset before Lin's configuration, so it
compiles for its own static shapes, as a training run at 500 frames would (not a dynamic-shape recompile).

Timing (`bench.common.interleaved`): `--warmup` rounds, then `--rounds` rounds, each running one step of every
run, in an order rotated every round (so drift and a busy spell of another process hit all alike). Only these
steady-state rounds count. Default configuration, 5 runs: eager_fp32 (params.yaml's model) and the paper's four
variants (baseline, IFD, SEDB, SEDB&IFD) on the default execution. Lin's configuration (`--lin-rounds`, a step
there takes seconds), 2 runs: eager_fp32 and default, params.yaml's model variant. Figures:
- step ms: median step time; clips_per_s = batch size / median step time;
- speedup = median over rounds of (eager_fp32 step / default step of the same round), params.yaml's model
  variant (today baseline); target >= 2.0 (`speedup_target`, `speedup_met`: the default model's);
- overhead of each branch = median over rounds of (variant step / baseline step of the same round) - 1, on the
  default execution (what users run); targets: IFD <= 0.10, SEDB <= 0.05.
- the mean teacher's overhead, the same ratio for `baseline+MT` (model.mean_teacher; no target): the baseline's
  step on the same labelled clips plus train.unlabelled_fraction of unlabelled ones (10 more by default; features
  only, marked is_unlabelled as `MixedBatches` appends them), the teacher's forward pass on every clip, the
  consistency loss at model.consistency_weight, and the EMA update after the optimizer's step
  (`ifdsed.training.mean_teacher.MeanTeacher`, model.mean_teacher_decay). The teacher runs under the same
  execution as the student, uncompiled, as in training.

The loader alone: `prefetched(MixedBatches(...).epoch(e), cpu, train.prefetch)`, iterated with nothing else
running, over a memory-mapped float16 store of the default shape (bench/memory.py's `write_store`, default scale:
300 weak and 400 synthetic clips x 250 frames x 64 mels, in a temporary folder; just written, so in the page
cache, as a store is after a training's first epoch), one epoch per call, `--loader-epochs` calls interleaved
with the same loader at depth 0 (batches made in the calling thread). loader_clips_per_s (median epoch) is set
against step_clips_per_s, what one default step of the default model consumes: loader_over_step is how many times
faster batches are made than the step uses them (> 1: the step never waits, given a core for the thread).

It also compares the batched IFD loss (`ifdsed.models.ifd.ifd_loss`) with bench/ifd_loss.py's straightforward loop
reference on a batch of the training batch size: same value (|diff|), and the speed ratio.
The last line of the output is one JSON object.
"""
from __future__ import annotations

import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch._dynamo

from bench.common import add_step_options, arguments, emit, interleaved, loadavg, step_setup, time_ms
from bench.ifd_loss import loop_ifd, make_batch
from ifdsed.config import model_config
from ifdsed.models.config import VARIANTS
from ifdsed.models.ifd import ifd_loss
from ifdsed.models.sed_model import SEDModel
from ifdsed.training.batches import append_unlabelled, unlabelled_per_batch
from ifdsed.training.execution import Execution
from ifdsed.training.mean_teacher import MeanTeacher
from ifdsed.training.step import optimisation_step

TARGETS = {"IFD": 0.10, "SEDB": 0.05}
MEAN_TEACHER = "baseline+MT"
SPEEDUP_TARGET = 2.0
LIN_CHANNELS, LIN_FRAMES = (160, 160, 160), 500
CPU = torch.device("cpu")


def training_batch(batch_size: int, n_synthetic: int, frames: int, n_mels: int, n_classes: int, seed: int = 0):
    """A batch as MixedBatches yields it: real weak clips first (frame labels zero), then synthetic clips."""
    _, labels, tags = make_batch(batch_size, frames, 8, n_classes=n_classes, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    bands = (torch.arange(n_mels)[None, :] * n_classes // n_mels == torch.arange(n_classes)[:, None]).float()
    features = torch.randn(batch_size, frames, n_mels, generator=gen) + 2.0 * labels @ bands  # events light bands
    is_synthetic = torch.arange(batch_size) >= batch_size - n_synthetic
    labels[~is_synthetic] = 0                                               # weak clips: tags only
    return {"features": features, "clip_tags": tags, "frame_labels": labels, "is_synthetic": is_synthetic}


def with_unlabelled(batch: dict, n_unlabelled: int, seed: int = 3) -> dict:
    """`batch` with `n_unlabelled` clips appended as MixedBatches appends the unlabelled set's, their features
    drawn like the batch's own."""
    _, frames, n_mels = batch["features"].shape
    generator = torch.Generator().manual_seed(seed)
    return append_unlabelled(batch, torch.randn(n_unlabelled, frames, n_mels, generator=generator))  # [B + Bu, ...]


def make_model(params, n_mels: int, ifd: bool, sedb: bool, channels=None) -> SEDModel:
    """params.yaml's model with the given branches (and channels), seeded, ATP weights N(0, 0.3), train mode."""
    update = {"ifd": ifd, "sedb": sedb, **({"channels": tuple(channels)} if channels else {})}
    variant = params.model_copy(update={"model": params.model.model_copy(update=update)})
    torch.manual_seed(0)
    model = SEDModel(model_config(variant, n_mels))
    with torch.no_grad():
        model.atp.w.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(0))
    return model.train()


def make_step(model: SEDModel, batch: dict, lr: float, execution: Execution, teacher: MeanTeacher | None = None,
              consistency_weight: float = 0.0):
    """One call = one training step of `model` on `batch`, as the training loop runs it under `execution` (with
    `teacher`: a mean-teacher step, its consistency loss at `consistency_weight`)."""
    net = execution.prepare(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scaler = execution.grad_scaler()
    return lambda: optimisation_step(net, model, optimizer, batch, execution, scaler, teacher=teacher,
                                     consistency_weight=consistency_weight)


def first_call_s(step) -> float:
    """Wall seconds of a step's first call (for a compiled step: compilation of its forward and backward)."""
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of numerator / denominator of the same round."""
    return statistics.median(n / d for n, d in zip(numerator, denominator))


def measure_loader(params, batch_size: int, epochs: int) -> dict:
    """Clips per second of the training loader alone (prefetch depth train.prefetch, and 0) over a fake store."""
    from bench.memory import SCALES, write_store
    from ifdsed import paths
    from ifdsed.features.normalize import Normalizer
    from ifdsed.features.store import load_feature_set, load_normalization
    from ifdsed.training.batches import MixedBatches
    from ifdsed.training.prefetch import prefetched

    depth = params.train.prefetch
    with tempfile.TemporaryDirectory(prefix="bench-train-step-") as folder:
        store = Path(folder) / "features"
        write_store(store, "default")
        real = load_feature_set(store, paths.REAL_TRAIN_SET)
        synthetic = load_feature_set(store, paths.SYNTHETIC_TRAIN_SET)
        batches = MixedBatches(real, synthetic, Normalizer(*load_normalization(store)), batch_size,
                               params.train.synthetic_fraction, seed=1)
        counter = itertools.count()

        def epoch(depth_: int):
            def run() -> int:
                return sum(len(batch["features"]) for batch in prefetched(batches.epoch(next(counter)), CPU, depth_))
            return run
        times, clips = interleaved({"prefetch": epoch(depth), "inline": epoch(0)}, epochs, 1)
        shape = list(real.features.shape[1:])
    per_s = {name: clips[name] / statistics.median(values) for name, values in times.items()}
    weak, n_synthetic = SCALES["default"][:2]
    return {"clips_per_s": round(per_s["prefetch"], 1), "clips_per_s_inline": round(per_s["inline"], 1),
            "depth": depth, "clips_per_epoch": clips["prefetch"], "weak_clips": weak, "synthetic_clips": n_synthetic,
            "frames": shape[0], "n_mels": shape[1], "store_dtype": "float16", "epochs": epochs}


def main() -> None:
    parser = arguments(__doc__)
    add_step_options(parser, rounds=30, warmup=3)
    parser.add_argument("--lin-rounds", type=int, default=3, help="timed rounds of Lin et al.'s configuration")
    parser.add_argument("--lin-warmup", type=int, default=1)
    parser.add_argument("--loader-epochs", type=int, default=10, help="timed epochs of the loader alone")
    parser.add_argument("--ifd-repeats", type=int, default=3, help="timed runs of the loop IFD reference")
    parser.add_argument("--cold-compile", action="store_true", help="disable inductor's on-disk caches")
    args = parser.parse_args()
    params, threads, batch_size, features = step_setup(args)
    if args.cold_compile:
        from torch._inductor import config as inductor_config
        inductor_config.force_disable_caches = True
    eager = Execution(CPU, torch.float32, compile=False, channels_last=False)
    default = Execution.from_params(params.train, CPU)
    own = next(name for name, flags in VARIANTS.items() if flags == (params.model.ifd, params.model.sedb))
    n_synthetic = round(batch_size * params.train.synthetic_fraction)
    n_classes, n_mels, lr = len(params.classes), features.n_mels, params.train.lr
    print(f"bench train_step: batch {batch_size} ({n_synthetic} synthetic), {n_mels} mels, {threads} threads, "
          f"{os.cpu_count()} cpus, torch {torch.__version__}; default execution {default.describe()}, "
          f"params.yaml's model: {own}")

    # The default configuration: eager float32 and the four variants on the default execution.
    batch = training_batch(batch_size, n_synthetic, features.frames, n_mels, n_classes)
    models = {name: make_model(params, n_mels, ifd, sedb) for name, (ifd, sedb) in VARIANTS.items()}
    steps = {"eager_fp32": make_step(make_model(params, n_mels, params.model.ifd, params.model.sedb), batch, lr, eager)}
    steps.update({name: make_step(model, batch, lr, default) for name, model in models.items()})
    n_unlabelled = unlabelled_per_batch(batch_size, params.train.unlabelled_fraction)
    student = make_model(params, n_mels, False, False)
    steps[MEAN_TEACHER] = make_step(student, with_unlabelled(batch, n_unlabelled), lr, default,
                                    MeanTeacher(student, params.model.mean_teacher_decay),
                                    params.model.consistency_weight)
    channels = list(models["baseline"].config.channels)
    compile_s = {name: first_call_s(step) for name, step in steps.items() if name != "eager_fp32"}
    print(f"default model: channels {channels}, {features.frames} frames, {models['baseline'].num_parameters()} "
          f"parameters (baseline); first step (compilation) {', '.join(f'{k} {v:.1f} s' for k, v in compile_s.items())}")
    load_before = loadavg()
    times, last = interleaved(steps, args.rounds, args.warmup)
    median_ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    overhead = {name: ratio(times[name], times["baseline"]) - 1 for name in [*VARIANTS, MEAN_TEACHER]
                if name != "baseline"}
    speedup = ratio(times["eager_fp32"], times[own])
    for name in steps:
        extra = "" if name in ("baseline", "eager_fp32") else f", overhead {100 * overhead[name]:+.1f} %"
        target = f" (target <= {100 * TARGETS[name]:.0f} %)" if name in TARGETS else ""
        print(f"{name:10s} median step {median_ms[name]:7.1f} ms (min {1000 * min(times[name]):.1f}), "
              f"{batch_size / median_ms[name] * 1000:6.1f} clips/s{extra}{target}")
    print(f"default / eager_fp32 ({own}): {speedup:.2f}x (target >= {SPEEDUP_TARGET})")
    ifd_stats = {key: int(last["IFD"][key]) for key in ("ifd_n_pos", "ifd_n_neg", "ifd_n_triplets")}
    print(f"IFD pairs in the batch: {ifd_stats}")

    def configuration(eager_ms: float, default_ms: float, speedup_: float, compiled_s: float, channels_, frames,
                      rounds, warmup) -> dict:
        return {"channels": channels_, "frames": frames, "n_mels": n_mels, "variant": own,
                "eager_fp32_ms": round(eager_ms, 1), "default_ms": round(default_ms, 1),
                "eager_fp32_clips_per_s": round(batch_size / eager_ms * 1000, 2),
                "default_clips_per_s": round(batch_size / default_ms * 1000, 2),
                "speedup": round(speedup_, 3), "compile_s": round(compiled_s, 1), "rounds": rounds, "warmup": warmup}
    default_model = configuration(median_ms["eager_fp32"], median_ms[own], speedup, compile_s[own], channels,
                                  features.frames, args.rounds, args.warmup)
    del steps, models

    # Lin et al.'s configuration: eager float32 and default, params.yaml's model variant.
    torch._dynamo.reset()   # its own static-shape compilation, not a dynamic recompile of the 250-frame graphs
    lin_batch = training_batch(batch_size, n_synthetic, LIN_FRAMES, n_mels, n_classes)
    lin_steps = {name: make_step(make_model(params, n_mels, params.model.ifd, params.model.sedb, LIN_CHANNELS),
                                 lin_batch, lr, execution) for name, execution in (("eager_fp32", eager),
                                                                                   ("default", default))}
    lin_compile_s = first_call_s(lin_steps["default"])
    print(f"Lin et al.: channels {list(LIN_CHANNELS)}, {LIN_FRAMES} frames; first step (compilation) "
          f"{lin_compile_s:.1f} s")
    lin_times, _ = interleaved(lin_steps, args.lin_rounds, args.lin_warmup)
    lin_ms = {name: statistics.median(values) * 1000 for name, values in lin_times.items()}
    lin = configuration(lin_ms["eager_fp32"], lin_ms["default"], ratio(lin_times["eager_fp32"], lin_times["default"]),
                        lin_compile_s, list(LIN_CHANNELS), LIN_FRAMES, args.lin_rounds, args.lin_warmup)
    for name in lin_steps:
        print(f"Lin {name:10s} median step {lin_ms[name]:8.1f} ms, {batch_size / lin_ms[name] * 1000:6.2f} clips/s")
    print(f"Lin default / eager_fp32: {lin['speedup']:.2f}x")
    del lin_steps

    # The loader alone, against what one default step consumes.
    loader = measure_loader(params, batch_size, args.loader_epochs)
    step_clips_per_s = default_model["default_clips_per_s"]
    loader_over_step = loader["clips_per_s"] / step_clips_per_s
    print(f"loader alone (prefetch depth {loader['depth']}): {loader['clips_per_s']:.0f} clips/s "
          f"({loader['clips_per_s_inline']:.0f} at depth 0); the default step consumes {step_clips_per_s:.1f} "
          f"clips/s: {loader_over_step:.0f}x")
    load_after = loadavg()

    # The batched IFD loss against the loop reference, at the training batch size and embedding size.
    dim = make_model(params, n_mels, True, False).config.ifd_out_dim
    v, labels, tags = make_batch(batch_size, features.frames, dim)
    batched_value = ifd_loss(v, labels, tags, pairing=params.model.ifd_pairing)[0].item()
    loop_value = loop_ifd(v, labels, tags, pairing=params.model.ifd_pairing)
    loop_ms = time_ms(lambda: loop_ifd(v, labels, tags, pairing=params.model.ifd_pairing), args.ifd_repeats)
    batched_ms = time_ms(lambda: ifd_loss(v, labels, tags, pairing=params.model.ifd_pairing), 30)
    diff = abs(batched_value - loop_value)
    print(f"IFD loss, B={batch_size} T={features.frames} D={dim}: batched {batched_value:.6f} in {batched_ms:.2f} ms, "
          f"loop {loop_value:.6f} in {loop_ms:.0f} ms: |diff| {diff:.2e}, {loop_ms / batched_ms:.0f}x faster")

    result = {
        "speedup": default_model["speedup"], "speedup_target": SPEEDUP_TARGET,
        "speedup_met": speedup >= SPEEDUP_TARGET, "lin_speedup": lin["speedup"],
        "default_model": default_model, "lin": lin,
        "execution": default.describe(), "model_variant": own,
        "baseline_ms": round(median_ms["baseline"], 1),
        "ifd_ms": round(median_ms["IFD"], 1), "sedb_ms": round(median_ms["SEDB"], 1),
        "sedb_ifd_ms": round(median_ms["SEDB&IFD"], 1),
        "ifd_overhead": round(overhead["IFD"], 4), "sedb_overhead": round(overhead["SEDB"], 4),
        "sedb_ifd_overhead": round(overhead["SEDB&IFD"], 4),
        "mean_teacher_ms": round(median_ms[MEAN_TEACHER], 1), "mean_teacher_overhead": round(overhead[MEAN_TEACHER], 4),
        "mean_teacher_unlabelled_clips": n_unlabelled,
        "ifd_target": TARGETS["IFD"], "sedb_target": TARGETS["SEDB"],
        "ifd_met": overhead["IFD"] <= TARGETS["IFD"], "sedb_met": overhead["SEDB"] <= TARGETS["SEDB"],
        "compile_s": {**{name: round(value, 1) for name, value in compile_s.items()}, "lin": round(lin_compile_s, 1)},
        "compile_cache": "disabled" if args.cold_compile else "as found",
        "loader_clips_per_s": loader["clips_per_s"], "step_clips_per_s": step_clips_per_s,
        "loader_over_step": round(loader_over_step, 1), "loader": loader,
        "ifd_loss": {"batch": batch_size, "frames": features.frames, "dim": dim,
                     "pairing": params.model.ifd_pairing, "batched_ms": round(batched_ms, 3),
                     "loop_ms": round(loop_ms, 1), "speedup": round(loop_ms / batched_ms, 1),
                     "batched_value": round(batched_value, 6), "loop_value": round(loop_value, 6),
                     "max_abs_diff": float(f"{diff:.3g}")},
        "ifd_pairs": ifd_stats, "batch_size": batch_size, "synthetic_clips": n_synthetic,
        "frames": features.frames, "n_mels": n_mels, "channels": channels,
        "threads": threads, "rounds": args.rounds, "warmup": args.warmup, "cpus": os.cpu_count(),
        "loadavg": [load_before, load_after],
    }
    emit(result)


if __name__ == "__main__":
    main()
