"""Benchmark: the cost of the paper-scale profile (`make paper-scale`), from a measured training step.

    .venv/bin/python -m bench.paper_scale [--steps 3] [--threads 2] [--precision auto] [--no-compile]
        [--gpu-tflops 25 100] [--out FILE]

Times the training step exactly as ifdsed/training/loop.py runs it (`ifdsed.training.step.optimisation_step`:
forward under the default autocast and compiled, as params.yaml's train.precision and train.compile give it, or
as --precision / --no-compile say; SEDModel.losses in float32, backward, Adam step) at
the paper's scale: Lin et al.'s 160-filter encoder (`model.channels [160, 160, 160]`), 500 frames x 64 mels per
clip (44.1 kHz, 20 ms hop), batches of 16 clips (8 real weak + 8 synthetic, so IFD and SEDB see the same
mixture as in training), for each variant. It also counts the floating-point operations of one step and of one
clip's inference with torch.utils.flop_counter (convolutions and matrix products, forward and backward; the
elementwise work is not counted, so the counts are a lower bound of a few per cent).

From those it derives the paper-scale totals: 1,578 weak clips per epoch (198 steps), 30 epochs, 20 seeds, 4
variants, plus the per-epoch validation (288 clips) and the per-seed evaluation (880 + 1,000 + 288 clips), as
  - CPU hours at the step time measured here, and
  - an ESTIMATE of GPU hours at each `--gpu-tflops` sustained rate (TFLOP/s actually achieved on this model,
    not a peak), plus a per-step overhead floor (`--gpu-step-floor-ms`, kernel launches and Python; a small
    model at batch 16 cannot go faster than that whatever the FLOP rate). No GPU step time is measured here:
    the rates are assumptions, stated in the output; measure yours with this script on the GPU (`--device
    cuda`) and the estimate becomes a measurement.

The data stages (sound bank, Scaper synthesis, real-world simulation, features) are CPU work done once for all
variants and seeds, and are not part of this estimate. The last line of the output is JSON.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.common import arguments, emit, loadavg
from ifdsed.devices import pick_precision
from ifdsed.models.config import VARIANTS, ModelConfig
from ifdsed.models.sed_model import SEDModel
from ifdsed.training.execution import Execution
from ifdsed.training.step import optimisation_step

# The paper-scale profile (Makefile PAPER_SCALE) and the training defaults (params.yaml train).
PAPER = {"weak_clips": 1578, "validation_clips": 288, "real_test_clips": 880, "synthetic_test_clips": 1000,
         "epochs": 30, "seeds": 20, "batch_size": 16, "synthetic_fraction": 0.5, "frames": 500, "n_mels": 64,
         "channels": (160, 160, 160), "classes": 10}


def make_batch(batch: int, n_real: int, frames: int, n_mels: int, classes: int, device: torch.device,
               seed: int = 0) -> dict[str, torch.Tensor]:
    """A DCASE-like batch: 1-2 tags per clip, synthetic clips with events as on/off segments."""
    g = torch.Generator().manual_seed(seed)
    tags = torch.zeros(batch, classes)
    frame_labels = torch.zeros(batch, frames, classes)
    for clip in range(batch):
        for c in torch.randperm(classes, generator=g)[:1 + int(torch.randint(2, (1,), generator=g))]:
            tags[clip, c] = 1
            if clip >= n_real:
                length = int(torch.randint(max(1, frames // 20), max(2, frames // 2), (1,), generator=g))
                start = int(torch.randint(frames - length + 1, (1,), generator=g))
                frame_labels[clip, start:start + length, c] = 1
    return {"features": torch.randn(batch, frames, n_mels, generator=g).to(device), "clip_tags": tags.to(device),
            "frame_labels": frame_labels.to(device),
            "is_synthetic": (torch.arange(batch) >= n_real).to(device)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_variant(ifd: bool, sedb: bool, args, device: torch.device) -> dict:
    torch.manual_seed(0)
    config = ModelConfig(n_mels=args.mels, n_classes=PAPER["classes"], channels=tuple(args.channels), ifd=ifd,
                         sedb=sedb)
    model = SEDModel(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.0018)
    n_synthetic = round(args.batch * PAPER["synthetic_fraction"])
    batch = make_batch(args.batch, args.batch - n_synthetic, args.frames, args.mels, PAPER["classes"], device)
    execution = Execution(device, pick_precision(args.precision, device), args.compile)
    net = execution.prepare(model)

    def step() -> float:
        return float(optimisation_step(net, model, optimizer, batch, execution)["total"])

    model.train()
    with FlopCounterMode(display=False) as counter:   # the FLOPs of one eager step: the same in any precision
        losses = model.losses(model(batch["features"]), batch)
        losses["total"].backward()
    optimizer.zero_grad(set_to_none=True)
    step_flops = counter.get_total_flops()
    step()                                             # compilation, when set, happens here
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        sync(device)
        start = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - start)
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(batch["features"][:1])
    return {"parameters": model.num_parameters(), **execution.describe(), "step_flops": step_flops,
            "clip_inference_flops":
            counter.get_total_flops(), "step_s_median": statistics.median(times), "step_s_all": times}


def paper_totals(variants: dict[str, dict], args) -> dict:
    """Steps, FLOPs and time of the whole paper-scale grid (every variant, every seed)."""
    n_real = PAPER["batch_size"] - round(PAPER["batch_size"] * PAPER["synthetic_fraction"])
    steps_per_epoch = math.ceil(PAPER["weak_clips"] / n_real)
    runs = PAPER["seeds"]  # per variant
    steps = steps_per_epoch * PAPER["epochs"] * runs
    inference_clips = runs * (PAPER["epochs"] * PAPER["validation_clips"] + PAPER["real_test_clips"]
                              + PAPER["synthetic_test_clips"] + PAPER["validation_clips"])
    per_variant, cpu_hours, flops_total = {}, 0.0, 0.0
    for name, measured in variants.items():
        flops = steps * measured["step_flops"] + inference_clips * measured["clip_inference_flops"]
        # CPU: the measured step time; inference at the step's FLOP rate (forward only, no backward)
        cpu_rate = measured["step_flops"] / measured["step_s_median"]
        cpu_s = steps * measured["step_s_median"] + inference_clips * measured["clip_inference_flops"] / cpu_rate
        per_variant[name] = {"train_steps": steps, "inference_clips": inference_clips, "flops": flops,
                             "hours_at_measured_rate": cpu_s / 3600,
                             "measured_gflops_per_s": cpu_rate / 1e9}
        cpu_hours += cpu_s / 3600
        flops_total += flops
    gpu = {}
    for tflops in args.gpu_tflops:
        hours = 0.0
        for name, measured in variants.items():
            step_s = max(measured["step_flops"] / (tflops * 1e12), args.gpu_step_floor_ms / 1e3)
            inference_s = per_variant[name]["inference_clips"] * measured["clip_inference_flops"] / (tflops * 1e12)
            hours += (steps * step_s + inference_s) / 3600
        gpu[f"{tflops:g}_tflops"] = {"assumed_sustained_tflops": tflops, "gpu_hours_all_variants": hours,
                                     "gpu_hours_per_variant_mean": hours / len(variants)}
    return {"steps_per_epoch": steps_per_epoch, "per_variant": per_variant, "flops_all_variants": flops_total,
            "hours_all_variants_at_measured_rate": cpu_hours, "gpu_estimate": gpu}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--channels", type=int, nargs="+", default=list(PAPER["channels"]))
    parser.add_argument("--frames", type=int, default=PAPER["frames"])
    parser.add_argument("--mels", type=int, default=PAPER["n_mels"])
    parser.add_argument("--batch", type=int, default=PAPER["batch_size"])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant (median)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    parser.add_argument("--compile", default=True, action=argparse.BooleanOptionalAction,
                        help="torch.compile the forward, as train.compile (default: on)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--gpu-tflops", type=float, nargs="+", default=[25.0, 100.0],
                        help="ASSUMED sustained TFLOP/s of a GPU on this model (not measured here)")
    parser.add_argument("--gpu-step-floor-ms", type=float, default=5.0,
                        help="ASSUMED least time of one training step on a GPU (launch and Python overhead)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load_before = loadavg()
    variants = {}
    for name in args.variants:
        variants[name] = measure_variant(*VARIANTS[name], args, device)
        m = variants[name]
        print(f"{name:9s} {m['parameters']:,} parameters; step {m['step_flops'] / 1e9:.1f} GFLOP, "
              f"{m['step_s_median']:.2f} s on {device} ({m['step_flops'] / m['step_s_median'] / 1e9:.1f} GFLOP/s); "
              f"inference {m['clip_inference_flops'] / 1e9:.2f} GFLOP per clip", flush=True)
    result = {"device": str(device), "threads": args.threads, "cpu_count": os.cpu_count(),
              "load_average_1min": [load_before, loadavg()], "torch": torch.__version__,
              "shape": {"batch": args.batch, "frames": args.frames, "n_mels": args.mels,
                        "channels": args.channels}, "variants": variants}
    if (args.frames, args.mels, args.batch, tuple(args.channels)) == (PAPER["frames"], PAPER["n_mels"],
                                                                     PAPER["batch_size"], PAPER["channels"]):
        totals = paper_totals(variants, args)
        result["paper_scale"] = totals
        print(f"paper scale, {len(variants)} variant(s) x {PAPER['seeds']} seeds x {PAPER['epochs']} epochs x "
              f"{totals['steps_per_epoch']} steps: {totals['flops_all_variants'] / 1e15:.0f} PFLOP; "
              f"{totals['hours_all_variants_at_measured_rate']:.0f} h on this {device} at the measured step time")
        for estimate in totals["gpu_estimate"].values():
            print(f"  ESTIMATE on one GPU sustaining {estimate['assumed_sustained_tflops']:g} TFLOP/s "
                  f"(step floor {args.gpu_step_floor_ms:g} ms): {estimate['gpu_hours_all_variants']:.1f} GPU hours "
                  f"for all variants ({estimate['gpu_hours_per_variant_mean']:.1f} per variant)")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    emit(result)


if __name__ == "__main__":
    main()
