"""Benchmark: the training step at several encoder widths (model.channels) and frames per clip, on the default
execution.

    .venv/bin/python -m bench.step_size [--rounds 10] [--warmup 2] [--widths 16,32,64 32,64,64]
                                        [--frames 250 156]

The step is the training loop's own (`ifdsed.training.step.optimisation_step`, built as bench/train_step.py
builds it: params.yaml's model with the given channels, its batch size and synthetic fraction, 64 mels, the given
frames per clip; default: the frames of the features section), on `Execution.from_params(params.train)`
(bfloat16 autocast where the CPU has it, float32 elsewhere; compiled as train.compile says). Every (width,
frames) pair is timed interleaved with the others (`bench.common.interleaved`), compilation outside the clock.
Figures, keyed "<width> x <frames>": median step ms, and the median ratio to the first pair's step of the same
round.
"""
from __future__ import annotations

import torch

from bench.common import arguments, emit, interleaved, loadavg, project_params
from bench.train_step import CPU, first_call_s, make_model, make_step, ratio, training_batch
from ifdsed.training.execution import Execution


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--widths", nargs="+", default=["16,32,64"],
                        help="encoder widths, each as comma-separated channels (the first is the reference)")
    parser.add_argument("--frames", nargs="+", type=int, default=None,
                        help="frames per clip (the first is the reference); default: the features section's")
    args = parser.parse_args()
    params = project_params()
    torch.set_num_threads(params.train.threads)
    features = params.features
    frame_counts = args.frames or [round(params.data.clip_duration / features.hop)]
    n_synthetic = round(params.train.batch_size * params.train.synthetic_fraction)
    execution = Execution.from_params(params.train, CPU)
    steps, compile_s = {}, {}
    for width in args.widths:
        channels = [int(c) for c in width.split(",")]
        for frames in frame_counts:
            key = f"{width} x {frames}"
            batch = training_batch(params.train.batch_size, n_synthetic, frames, features.n_mels,
                                   len(params.classes))
            model = make_model(params, features.n_mels, params.model.ifd, params.model.sedb, channels)
            steps[key] = make_step(model, batch, params.train.lr, execution)
            compile_s[key] = round(first_call_s(steps[key]), 1)
    times, _ = interleaved(steps, args.rounds, args.warmup)
    reference = next(iter(steps))
    emit({"execution": execution.describe(), "batch_size": params.train.batch_size,
          "step_ms": {key: round(1000 * sorted(t)[len(t) // 2], 1) for key, t in times.items()},
          "ratio_to_first": {key: round(ratio(t, times[reference]), 2) for key, t in times.items()},
          "compile_s": compile_s, "rounds": args.rounds, "loadavg": loadavg()})


if __name__ == "__main__":
    main()
