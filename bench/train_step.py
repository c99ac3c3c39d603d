"""Benchmark: the training step of the paper's four variants, and what the IFD and SEDB branches add to it.

    .venv/bin/python -m bench.train_step [--rounds 30] [--warmup 3] [--threads N] [--batch-size N]

The real model and loss (`models.SEDModel`, `SEDModel.losses`) with params.yaml's defaults (model section,
train.batch_size, train.synthetic_fraction, train.threads; 64 mels, 250 frames from the features section), and
the real training step of `ifdsed.training.loop.train_seed`: forward, losses, zero_grad, backward, Adam step, and the
per-batch float() of every loss term. One seeded DCASE-like batch (bench/ifd_loss.py's `make_batch`: 1-2 tags
per clip out of 10 classes, events as random on/off segments), half real weak clips (tags only: their frame
labels are zeros, as `MixedBatches` gives them) and half synthetic clips (tags and frame labels). The ATP
frame weights are drawn N(0, 0.3) instead of zero, so that the weak clips have pseudo strong labels and the IFD
branch the pairs it has once training has moved those weights (at zero, every p = 0.5 and no weak frame is
active).

Timing (`bench.common.interleaved`): `--warmup` rounds, then `--rounds` rounds, each running one step of every
variant, in an order rotated every round (so drift and a busy spell of another process hit all four alike). The
figures are the median step time of each variant and, for each branch, `overhead` = median over rounds of
(variant step / baseline step of the same round) - 1; targets: IFD <= 0.10, SEDB <= 0.05.

It also compares the batched IFD loss (`models.ifd.ifd_loss`) with bench/ifd_loss.py's straightforward loop
reference on a batch of the training batch size: same value (|diff|), and the speed ratio.
The last line of the output is one JSON object.
"""
from __future__ import annotations

import os
import statistics

import torch

from bench.common import add_step_options, arguments, emit, interleaved, loadavg, step_setup, time_ms
from bench.ifd_loss import loop_ifd, make_batch
from ifdsed.config import model_config
from models.ifd import ifd_loss
from models.sed_model import SEDModel

VARIANTS = {"baseline": (False, False), "IFD": (True, False), "SEDB": (False, True), "SEDB&IFD": (True, True)}
TARGETS = {"IFD": 0.10, "SEDB": 0.05}


def training_batch(batch_size: int, n_synthetic: int, frames: int, n_mels: int, n_classes: int, seed: int = 0):
    """A batch as MixedBatches yields it: real weak clips first (frame labels zero), then synthetic clips."""
    _, labels, tags = make_batch(batch_size, frames, 8, n_classes=n_classes, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    bands = (torch.arange(n_mels)[None, :] * n_classes // n_mels == torch.arange(n_classes)[:, None]).float()
    features = torch.randn(batch_size, frames, n_mels, generator=gen) + 2.0 * labels @ bands  # events light bands
    is_synthetic = torch.arange(batch_size) >= batch_size - n_synthetic
    labels[~is_synthetic] = 0                                               # weak clips: tags only
    return {"features": features, "clip_tags": tags, "frame_labels": labels, "is_synthetic": is_synthetic}


def make_step(model: SEDModel, batch: dict, lr: float):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def step() -> dict:
        losses = model.losses(model(batch["features"]), batch)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        optimizer.step()
        return {key: float(value.detach()) for key, value in losses.items()}
    return step


def main() -> None:
    parser = arguments(__doc__)
    add_step_options(parser, rounds=30, warmup=3)
    parser.add_argument("--ifd-repeats", type=int, default=3, help="timed runs of the loop IFD reference")
    args = parser.parse_args()
    params, threads, batch_size, features = step_setup(args)
    n_synthetic = round(batch_size * params.train.synthetic_fraction)
    batch = training_batch(batch_size, n_synthetic, features.frames, features.n_mels, len(params.classes))

    steps, models = {}, {}
    for name, (ifd, sedb) in VARIANTS.items():
        variant = params.model_copy(update={"model": params.model.model_copy(update={"ifd": ifd, "sedb": sedb})})
        config = model_config(variant, features.n_mels)
        torch.manual_seed(0)
        model = SEDModel(config)
        with torch.no_grad():
            model.atp.w.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(0))
        model.train()
        models[name], steps[name] = model, make_step(model, batch, params.train.lr)
    print(f"bench train_step: batch {batch_size} ({n_synthetic} synthetic), {features.frames} frames x "
          f"{features.n_mels} mels, channels {list(config.channels)}, {threads} threads, {os.cpu_count()} cpus, "
          f"torch {torch.__version__}, {models['baseline'].num_parameters()} parameters (baseline)")

    load_before = loadavg()
    times, last = interleaved(steps, args.rounds, args.warmup)
    load_after = loadavg()
    names = list(steps)

    median_ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    overhead = {name: statistics.median(t / b for t, b in zip(times[name], times["baseline"])) - 1
                for name in names if name != "baseline"}
    for name in names:
        extra = "" if name == "baseline" else f", overhead {100 * overhead[name]:+.1f} %"
        target = f" (target <= {100 * TARGETS[name]:.0f} %)" if name in TARGETS else ""
        print(f"{name:9s} median step {median_ms[name]:7.1f} ms (min {1000 * min(times[name]):.1f}){extra}{target}")
    ifd_stats = {key: int(last["IFD"][key]) for key in ("ifd_n_pos", "ifd_n_neg", "ifd_n_triplets")}
    print(f"IFD pairs in the batch: {ifd_stats}")

    # The batched IFD loss against the loop reference, at the training batch size and embedding size.
    dim = models["IFD"].config.ifd_out_dim
    v, labels, tags = make_batch(batch_size, features.frames, dim)
    batched_value = ifd_loss(v, labels, tags, pairing=params.model.ifd_pairing)[0].item()
    loop_value = loop_ifd(v, labels, tags, pairing=params.model.ifd_pairing)
    loop_ms = time_ms(lambda: loop_ifd(v, labels, tags, pairing=params.model.ifd_pairing), args.ifd_repeats)
    batched_ms = time_ms(lambda: ifd_loss(v, labels, tags, pairing=params.model.ifd_pairing), 30)
    diff = abs(batched_value - loop_value)
    print(f"IFD loss, B={batch_size} T={features.frames} D={dim}: batched {batched_value:.6f} in {batched_ms:.2f} ms, "
          f"loop {loop_value:.6f} in {loop_ms:.0f} ms: |diff| {diff:.2e}, {loop_ms / batched_ms:.0f}x faster")

    result = {
        "baseline_ms": round(median_ms["baseline"], 1),
        "ifd_ms": round(median_ms["IFD"], 1), "sedb_ms": round(median_ms["SEDB"], 1),
        "sedb_ifd_ms": round(median_ms["SEDB&IFD"], 1),
        "ifd_overhead": round(overhead["IFD"], 4), "sedb_overhead": round(overhead["SEDB"], 4),
        "sedb_ifd_overhead": round(overhead["SEDB&IFD"], 4),
        "ifd_target": TARGETS["IFD"], "sedb_target": TARGETS["SEDB"],
        "ifd_met": overhead["IFD"] <= TARGETS["IFD"], "sedb_met": overhead["SEDB"] <= TARGETS["SEDB"],
        "ifd_loss": {"batch": batch_size, "frames": features.frames, "dim": dim,
                     "pairing": params.model.ifd_pairing, "batched_ms": round(batched_ms, 3),
                     "loop_ms": round(loop_ms, 1), "speedup": round(loop_ms / batched_ms, 1),
                     "batched_value": round(batched_value, 6), "loop_value": round(loop_value, 6),
                     "max_abs_diff": float(f"{diff:.3g}")},
        "ifd_pairs": ifd_stats, "batch_size": batch_size, "synthetic_clips": n_synthetic,
        "frames": features.frames, "n_mels": features.n_mels, "channels": list(config.channels),
        "threads": threads, "rounds": args.rounds, "warmup": args.warmup, "cpus": os.cpu_count(),
        "loadavg": [load_before, load_after],
    }
    emit(result)


if __name__ == "__main__":
    main()
