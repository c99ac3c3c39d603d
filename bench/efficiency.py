"""Benchmark: the encoder's achieved FLOP rate in a training step, as a fraction of this machine's matmul peak,
in eager float32 and on the training path itself (params.yaml's execution: bfloat16 autocast + torch.compile).

    .venv/bin/python -m bench.efficiency [--rounds 15] [--warmup 2] [--threads N] [--batch-size N] [--no-compile]

FLOPs are counted analytically, for the convolutions only (BatchNorm, pooling and ReLU are a few per element
and not counted): a Conv2d with 'same' padding on a [B, Cin, T, F] input costs 2 * Cin * Cout * kh * kw * T * F
per clip forward, the same again for the weight gradient, and the same again for the input gradient, except for
the first convolution, whose input (the normalised log-mel) needs no gradient. So a forward+backward costs 3x
the forward FLOPs of every block but the first, 2x for the first (the brief's plain "x3" over-counts by the
first block's share, ~3 % at the defaults; `flops_x3` gives that figure too). The same count is used for every
run, whatever its precision, and for the whole training step (whose heads, losses and Adam step are not counted:
its rate is a lower bound).

Timed (each run once per round, `bench.common.interleaved`: `--warmup` rounds, then `--rounds` rounds in an order
rotated every round, so a busy spell hits all alike; each run's median counts):
- the peaks: torch.mm of 2048 x 2048 x 2048 tensors (2 * 2048^3 FLOPs) in float32 (`matmul`, and on one thread,
  `matmul_1thread`) and in bfloat16 (`matmul_bf16`, oneDNN; AMX where the CPU has it), on the same threads;
- the encoder's forward and backward as in training (`SEDModel(...).encoder` of params.yaml's model, train mode,
  a batch of train.batch_size clips x 250 frames x 64 mels, a fixed upstream gradient on its output cast to
  float32 as the training step does, parameter gradients reset each step), in eager float32 (`default`) and in
  the variants tried to raise its rate: channels_last memory format; oneDNN (mkldnn) off; one thread (against the
  one-thread peak); `compiled` (torch.compile, float32; skipped with --no-compile); and `amax`, FrequencyMaxPool as
  it was before (`amax(dim=-1)` instead of today's `max(dim=-1).values`: same values, but amax's backward builds
  an equality mask and divides; the check `amax_identical` compares the two encoders' outputs and gradients
  bitwise);
- the training path (`training_path` in the JSON): the execution params.yaml gives on this CPU
  (`Execution.from_params(params.train, cpu)`: train.precision auto = bfloat16 where the CPU has it natively,
  train.compile, train.channels_last), (a) the same encoder forward+backward, prepared (`execution.prepare`) and
  run under `execution.autocast()` (`encoder_step_ms`), and (b) the whole training step,
  `ifdsed.training.step.optimisation_step` of the full SEDModel (params.yaml's model, Adam, the losses) on a
  bench/train_step.py batch (`full_step_ms`). Their compilation (first call) is timed apart (`compile_s`).

fraction_of_peak = (encoder FLOPs per step / median encoder step) / (matmul FLOPs / median float32 matmul time),
for the eager float32 encoder (`default`), as before the training path changed: the target >= 0.5 and `met` are
that figure's. Each variant's fraction is against the float32 peak (one_thread: the one-thread peak). The
training path's figures are against both peaks: fraction_of_fp32_peak (how much faster than float32 matmul could
go) and fraction_of_bf16_peak (how close to what bfloat16 matmul reaches on this machine);
fraction_of_precision_peak is the one of its own precision.
A profile of the eager float32 step, and one of the training path's encoder step, give the share of CPU time in
convolution kernels, batch norm, pooling and the rest (inductor's fused kernels count as "other").
The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import warnings

import torch

import ifdsed.models.encoder as encoder_module
from bench.common import add_step_options, arguments, emit, interleaved, loadavg, step_setup
from bench.train_step import first_call_s, make_model, make_step, training_batch
from ifdsed.config import model_config
from ifdsed.models.sed_model import SEDModel
from ifdsed.training.execution import Execution

MATMUL_N = 2048
CPU = torch.device("cpu")
warnings.filterwarnings("ignore", message=".*TF32.*")   # torch.backends.mkldnn.flags() warns about Intel GPUs


def conv_flops(config, frames: int, batch: int) -> tuple[float, float]:
    """(forward+backward FLOPs of the encoder's convolutions per step, the same with a plain x3)."""
    exact, plain = 0.0, 0.0
    bins, c_in = config.n_mels, 1
    for block, (c_out, (kh, kw), (_, pool)) in enumerate(zip(config.channels, config.kernels, config.freq_pool)):
        forward = 2.0 * c_in * c_out * kh * kw * frames * bins * batch
        exact += forward * (2 if block == 0 else 3)
        plain += forward * 3
        bins, c_in = bins // pool, c_out
    return exact, plain


def amax_forward(self, x: torch.Tensor) -> torch.Tensor:
    """FrequencyMaxPool.forward as it was: amax instead of max(dim=-1).values (same values)."""
    bins = x.shape[-1] // self.size
    return x[..., :bins * self.size].unflatten(-1, (bins, self.size)).amax(dim=-1)


def encoder_step(config, batch: int, frames: int, channels_last=False, compiled=False,
                 execution: Execution | None = None):
    """One call = the encoder's forward and backward, eager float32 (channels-last, compiled as asked) or, with
    `execution`, prepared and autocast as the training step runs the model."""
    torch.manual_seed(0)
    encoder = SEDModel(config).encoder.train()
    if channels_last:
        encoder = encoder.to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(batch, frames, config.n_mels, generator=gen)
    grad = torch.randn(batch, frames, config.emb_dim, generator=gen)
    if execution is not None:
        run, autocast = execution.prepare(encoder), execution.autocast
    else:
        run, autocast = torch.compile(encoder) if compiled else encoder, contextlib.nullcontext

    def step():
        for p in encoder.parameters():
            p.grad = None
        with autocast():
            out = run(features)
        out.float().backward(grad)                 # as optimisation_step: the outputs cast back to float32
    return step


def training_step(params, batch_size: int, frames: int, n_mels: int, execution: Execution):
    """One call = `optimisation_step` of params.yaml's full SEDModel under `execution` (bench/train_step.py's batch,
    model and step)."""
    n_synthetic = round(batch_size * params.train.synthetic_fraction)
    batch = training_batch(batch_size, n_synthetic, frames, n_mels, len(params.classes))
    model = make_model(params, n_mels, params.model.ifd, params.model.sedb)
    return make_step(model, batch, params.train.lr, execution)


@contextlib.contextmanager
def setting(threads: int | None = None, mkldnn: bool = True, amax: bool = False):
    old_threads, old_forward = torch.get_num_threads(), encoder_module.FrequencyMaxPool.forward
    if threads:
        torch.set_num_threads(threads)
    if amax:
        encoder_module.FrequencyMaxPool.forward = amax_forward
    try:
        with torch.backends.mkldnn.flags(enabled=mkldnn):
            yield
    finally:
        torch.set_num_threads(old_threads)
        encoder_module.FrequencyMaxPool.forward = old_forward


def amax_identical(config, frames: int) -> bool:
    """Outputs and parameter gradients of the encoder with the amax pooling equal the current ones, bitwise,
    on a random input (no tied maxima)."""
    torch.manual_seed(0)
    encoder = SEDModel(config).encoder.train()
    gen = torch.Generator().manual_seed(3)
    features = torch.randn(4, frames, config.n_mels, generator=gen)
    grad = torch.randn(4, frames, config.emb_dim, generator=gen)
    found = []
    for amax in (False, True):
        with setting(amax=amax):
            for p in encoder.parameters():
                p.grad = None
            out = encoder(features)
            out.backward(grad)
            found.append([out.detach()] + [p.grad.clone() for p in encoder.parameters()])
    return all(torch.equal(a, b) for a, b in zip(*found))


def profile_share(step) -> dict:
    """Share of the step's CPU time in convolution kernels (forward and backward), batch norm, pooling, other."""
    from torch.profiler import ProfilerActivity, profile
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    rows = {row.key: row.self_cpu_time_total for row in prof.key_averages()}
    total = sum(rows.values())
    conv = sum(t for key, t in rows.items() if "convolution" in key)
    groups = {"convolution": conv,
              "batch_norm": sum(t for key, t in rows.items() if "batch_norm" in key),
              "pool (amax/max and backward)": sum(t for key, t in rows.items() if key in (
                  "aten::amax", "aten::max", "aten::eq", "aten::div", "aten::mul", "aten::_to_copy",
                  "aten::copy_", "aten::sum", "aten::fill_", "aten::index_put_", "aten::scatter",
                  "aten::gather", "aten::zeros_like", "aten::max_pool2d_with_indices",
                  "aten::max_pool2d_with_indices_backward", "aten::value_selecting_reduction_backward"))}
    groups["other"] = total - sum(groups.values())
    # Profiler times are CPU time summed over threads' self time as seen by the calling thread: shares only.
    return {key: round(value / total, 3) for key, value in groups.items()}


def main() -> None:
    parser = arguments(__doc__)
    add_step_options(parser, rounds=15, warmup=2)
    parser.add_argument("--compile", default=True, action=argparse.BooleanOptionalAction,
                        help="the compiled float32 encoder variant (default: on; the training path is compiled "
                             "whenever params.yaml's train.compile is, either way)")
    args = parser.parse_args()
    params, threads, batch, features = step_setup(args)
    config = model_config(params, features.n_mels)
    frames = features.frames
    flops, flops_x3 = conv_flops(config, frames, batch)
    matmul_flops = 2.0 * MATMUL_N ** 3
    a = torch.randn(MATMUL_N, MATMUL_N, generator=torch.Generator().manual_seed(1))
    b = torch.randn(MATMUL_N, MATMUL_N, generator=torch.Generator().manual_seed(2))
    a16, b16 = a.bfloat16(), b.bfloat16()
    execution = Execution.from_params(params.train, CPU)

    # name: (flops of one call, callable, settings)
    runs = {"matmul": (matmul_flops, lambda: torch.mm(a, b), {}),
            "matmul_bf16": (matmul_flops, lambda: torch.mm(a16, b16), {}),
            "matmul_1thread": (matmul_flops, lambda: torch.mm(a, b), {"threads": 1}),
            "default": (flops, encoder_step(config, batch, frames), {}),
            "channels_last": (flops, encoder_step(config, batch, frames, channels_last=True), {}),
            "mkldnn_off": (flops, encoder_step(config, batch, frames), {"mkldnn": False}),
            "one_thread": (flops, encoder_step(config, batch, frames), {"threads": 1}),
            "amax": (flops, encoder_step(config, batch, frames), {"amax": True})}
    compiled = {"training_encoder": encoder_step(config, batch, frames, execution=execution),
                "training_step": training_step(params, batch, frames, config.n_mels, execution)}
    if args.compile:
        compiled["compiled"] = encoder_step(config, batch, frames, compiled=True)
    compile_s = {}
    for name, step in compiled.items():   # the training path must compile: an error there fails the benchmark
        if name == "compiled":
            try:
                compile_s[name] = first_call_s(step)
            except Exception as error:  # noqa: BLE001 - report, do not fail the benchmark
                print(f"torch.compile failed: {type(error).__name__}: {str(error)[:200]}")
                continue
        else:
            compile_s[name] = first_call_s(step)
        runs[name] = (flops, step, {})
    print(f"bench efficiency: encoder channels {list(config.channels)}, batch {batch} x {frames} frames x "
          f"{config.n_mels} mels, {flops / 1e9:.1f} GFLOP per forward+backward, {threads} threads, "
          f"{os.cpu_count()} cpus, torch {torch.__version__}; training path {execution.describe()}, first calls "
          + ", ".join(f"{name} {value:.1f} s" for name, value in compile_s.items()))

    load_before = loadavg()
    times, _ = interleaved({name: fn for name, (_, fn, _) in runs.items()}, args.rounds, args.warmup,
                           context=lambda name: setting(**runs[name][2]))
    load_after = loadavg()
    median = {name: statistics.median(values) for name, values in times.items()}
    rate = {name: runs[name][0] / median[name] / 1e9 for name in runs}        # GFLOP/s
    peak, peak_bf16, peak_1 = rate["matmul"], rate["matmul_bf16"], rate["matmul_1thread"]
    fraction = {name: rate[name] / (peak_1 if name == "one_thread" else peak)
                for name in runs if not name.startswith(("matmul", "training_"))}
    with setting():
        share = profile_share(runs["default"][1])
        training_share = profile_share(runs["training_encoder"][1])
    print(f"matmul {MATMUL_N}^3: float32 {peak:.1f} GFLOP/s ({threads} threads), {peak_1:.1f} GFLOP/s (1 thread); "
          f"bfloat16 {peak_bf16:.1f} GFLOP/s ({threads} threads)")
    for name in fraction:
        print(f"encoder {name:16s} {1000 * median[name]:7.1f} ms/step  {rate[name]:6.1f} GFLOP/s  "
              f"{fraction[name]:.3f} of the float32 peak")
    own_peak = peak_bf16 if execution.dtype == torch.bfloat16 else peak
    for name, label in (("training_encoder", "encoder"), ("training_step", "whole step")):
        print(f"training path {label:10s} {1000 * median[name]:7.1f} ms/step  {rate[name]:6.1f} GFLOP/s  "
              f"{rate[name] / peak:.3f} of the float32 peak, {rate[name] / peak_bf16:.3f} of the bfloat16 peak")
    print(f"profile of the eager float32 step (share of CPU time): {share}")
    print(f"profile of the training path's encoder step: {training_share}")
    identical = amax_identical(config, frames)
    print(f"amax variant: outputs and gradients bitwise equal to the current encoder's: {identical}")
    best = max(fraction, key=fraction.get)
    training_path = {
        **execution.describe(),
        "encoder_step_ms": round(1000 * median["training_encoder"], 1),
        "gflops": round(rate["training_encoder"], 1),
        "fraction_of_fp32_peak": round(rate["training_encoder"] / peak, 3),
        "fraction_of_bf16_peak": round(rate["training_encoder"] / peak_bf16, 3),
        "fraction_of_precision_peak": round(rate["training_encoder"] / own_peak, 3),
        "full_step_ms": round(1000 * median["training_step"], 1),
        "full_step_gflops": round(rate["training_step"], 1),
        "full_step_fraction_of_fp32_peak": round(rate["training_step"] / peak, 3),
        "full_step_fraction_of_bf16_peak": round(rate["training_step"] / peak_bf16, 3),
        "full_step_fraction_of_precision_peak": round(rate["training_step"] / own_peak, 3),
        "encoder_speedup_over_eager_fp32": round(median["default"] / median["training_encoder"], 2),
        "compile_s": {name: round(compile_s[name], 1) for name in ("training_encoder", "training_step")},
        "model": {"ifd": params.model.ifd, "sedb": params.model.sedb},
        "profile_share": training_share}
    result = {"fraction_of_peak": round(fraction["default"], 3), "target": 0.5,
              "met": fraction["default"] >= 0.5,
              "encoder_gflops": round(rate["default"], 1), "peak_gflops": round(peak, 1),
              "peak_gflops_1thread": round(peak_1, 1), "peak_gflops_bf16": round(peak_bf16, 1),
              "encoder_step_ms": round(1000 * median["default"], 1),
              "gflop_per_step": round(flops / 1e9, 3), "gflop_per_step_x3": round(flops_x3 / 1e9, 3),
              "fraction_of_peak_x3": round(flops_x3 / median["default"] / 1e9 / peak, 3),
              "training_path": training_path,
              "variants": {name: {"step_ms": round(1000 * median[name], 1), "gflops": round(rate[name], 1),
                                  "fraction_of_peak": round(fraction[name], 3)} for name in fraction},
              "best_variant": best, "amax_identical": identical,
              "compile_s": round(compile_s["compiled"], 1) if "compiled" in compile_s else None,
              "profile_share": share,
              "batch_size": batch, "frames": frames, "n_mels": config.n_mels, "channels": list(config.channels),
              "threads": threads, "rounds": args.rounds, "warmup": args.warmup, "cpus": os.cpu_count(),
              "loadavg": [load_before, load_after]}
    emit(result)


if __name__ == "__main__":
    main()
