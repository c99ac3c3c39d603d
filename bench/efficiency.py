"""Benchmark: the encoder's achieved FLOP rate in a training step, as a fraction of this machine's matmul peak.

    .venv/bin/python -m bench.efficiency [--rounds 15] [--threads N] [--batch-size N] [--compile]

FLOPs are counted analytically, for the convolutions only (BatchNorm, pooling and ReLU are a few per element
and not counted): a Conv2d with 'same' padding on a [B, Cin, T, F] input costs 2 * Cin * Cout * kh * kw * T * F
per clip forward, the same again for the weight gradient, and the same again for the input gradient, except for
the first convolution, whose input (the normalised log-mel) needs no gradient. So a forward+backward costs 3x
the forward FLOPs of every block but the first, 2x for the first (the brief's plain "x3" over-counts by the
first block's share, ~3 % at the defaults; `flops_x3` gives that figure too).

The step timed is the encoder's forward and backward as in training (`SEDModel(...).encoder` of params.yaml's
model, train mode, a batch of train.batch_size clips x 250 frames x 64 mels, a fixed upstream gradient on its
output, parameter gradients reset each step). The peak is a float32 2048 x 2048 x 2048 torch matmul
(2 * 2048^3 FLOPs) on the same threads, measured in the same run: the matmul and every encoder variant run in
turn, `--rounds` times after a warm-up, and each one's median counts (so a busy spell hits all alike).

fraction_of_peak = (encoder FLOPs per step / median encoder step) / (matmul FLOPs / median matmul time), for
the model as it is trained. The other variants are what was tried to raise it (same numbers, other execution):
channels_last memory format; oneDNN (mkldnn) off; one thread (against a one-thread peak); with --compile,
torch.compile (inductor); and `amax`, FrequencyMaxPool as it was before (`amax(dim=-1)` instead of today's
`max(dim=-1).values`: same values, but amax's backward builds an equality mask and divides; the check
`amax_identical` compares the two encoders' outputs and gradients bitwise).
A profile of the default step gives the share of time in convolution kernels and their own FLOP rate.
The last line is one JSON object.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import time
import warnings

import torch

import models.encoder as encoder_module
from bench.common import add_step_options, arguments, emit, interleaved, loadavg, step_setup
from ifdsed.config import model_config
from models.sed_model import SEDModel

MATMUL_N = 2048
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


def encoder_step(config, batch: int, frames: int, channels_last=False, compiled=False):
    torch.manual_seed(0)
    encoder = SEDModel(config).encoder.train()
    if channels_last:
        encoder = encoder.to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(batch, frames, config.n_mels, generator=gen)
    grad = torch.randn(batch, frames, config.emb_dim, generator=gen)
    run = torch.compile(encoder) if compiled else encoder

    def step():
        for p in encoder.parameters():
            p.grad = None
        run(features).backward(grad)
    return step


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


def profile_default(step, flops_forward_backward: float) -> dict:
    """Share of the step's CPU time in convolution kernels (forward and backward), and their FLOP rate."""
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
    return {"share": {key: round(value / total, 3) for key, value in groups.items()}}


def main() -> None:
    parser = arguments(__doc__)
    add_step_options(parser, rounds=15, warmup=2)
    parser.add_argument("--compile", action="store_true", help="also try torch.compile (about a minute)")
    args = parser.parse_args()
    params, threads, batch, features = step_setup(args)
    config = model_config(params, features.n_mels)
    frames = features.frames
    flops, flops_x3 = conv_flops(config, frames, batch)
    a = torch.randn(MATMUL_N, MATMUL_N, generator=torch.Generator().manual_seed(1))
    b = torch.randn(MATMUL_N, MATMUL_N, generator=torch.Generator().manual_seed(2))
    matmul_flops = 2.0 * MATMUL_N ** 3

    # name: (flops of one call, callable, settings)
    runs = {"matmul": (matmul_flops, lambda: torch.mm(a, b), {}),
            "matmul_1thread": (matmul_flops, lambda: torch.mm(a, b), {"threads": 1}),
            "default": (flops, encoder_step(config, batch, frames), {}),
            "channels_last": (flops, encoder_step(config, batch, frames, channels_last=True), {}),
            "mkldnn_off": (flops, encoder_step(config, batch, frames), {"mkldnn": False}),
            "one_thread": (flops, encoder_step(config, batch, frames), {"threads": 1}),
            "amax": (flops, encoder_step(config, batch, frames), {"amax": True})}
    compile_s = None
    if args.compile:
        step = encoder_step(config, batch, frames, compiled=True)
        started = time.perf_counter()
        try:
            step()
            compile_s = time.perf_counter() - started
            runs["compiled"] = (flops, step, {})
        except Exception as error:  # noqa: BLE001 - report, do not fail the benchmark
            print(f"torch.compile failed: {type(error).__name__}: {str(error)[:200]}")
    print(f"bench efficiency: encoder channels {list(config.channels)}, batch {batch} x {frames} frames x "
          f"{config.n_mels} mels, {flops / 1e9:.1f} GFLOP per forward+backward, {threads} threads, "
          f"{os.cpu_count()} cpus, torch {torch.__version__}")

    load_before = loadavg()
    times, _ = interleaved({name: fn for name, (_, fn, _) in runs.items()}, args.rounds, args.warmup,
                           context=lambda name: setting(**runs[name][2]))
    load_after = loadavg()
    median = {name: statistics.median(values) for name, values in times.items()}
    rate = {name: runs[name][0] / median[name] / 1e9 for name in runs}        # GFLOP/s
    peak, peak_1 = rate["matmul"], rate["matmul_1thread"]
    fraction = {name: rate[name] / (peak_1 if name == "one_thread" else peak)
                for name in runs if not name.startswith("matmul")}
    with setting():
        profile = profile_default(runs["default"][1], flops)
    print(f"matmul {MATMUL_N}^3 float32: {peak:.1f} GFLOP/s ({threads} threads), {peak_1:.1f} GFLOP/s (1 thread)")
    for name in fraction:
        print(f"encoder {name:14s} {1000 * median[name]:7.1f} ms/step  {rate[name]:6.1f} GFLOP/s  "
              f"{fraction[name]:.3f} of peak")
    print(f"profile of the default step (share of CPU time): {profile['share']}")
    identical = amax_identical(config, frames)
    print(f"amax variant: outputs and gradients bitwise equal to the current encoder's: {identical}")
    best = max(fraction, key=fraction.get)
    result = {"fraction_of_peak": round(fraction["default"], 3), "target": 0.5,
              "met": fraction["default"] >= 0.5,
              "encoder_gflops": round(rate["default"], 1), "peak_gflops": round(peak, 1),
              "peak_gflops_1thread": round(peak_1, 1),
              "encoder_step_ms": round(1000 * median["default"], 1),
              "gflop_per_step": round(flops / 1e9, 3), "gflop_per_step_x3": round(flops_x3 / 1e9, 3),
              "fraction_of_peak_x3": round(flops_x3 / median["default"] / 1e9 / peak, 3),
              "variants": {name: {"step_ms": round(1000 * median[name], 1), "gflops": round(rate[name], 1),
                                  "fraction_of_peak": round(fraction[name], 3)} for name in fraction},
              "best_variant": best, "amax_identical": identical, "compile_s": None if compile_s is None else round(compile_s, 1),
              "profile_share": profile["share"],
              "batch_size": batch, "frames": frames, "n_mels": config.n_mels, "channels": list(config.channels),
              "threads": threads, "rounds": args.rounds, "cpus": os.cpu_count(),
              "loadavg": [load_before, load_after]}
    emit(result)


if __name__ == "__main__":
    main()
