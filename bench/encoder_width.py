"""Benchmark: the training step at several encoder widths (model.channels), on the default execution.

    .venv/bin/python -m bench.encoder_width [--rounds 10] [--warmup 2] [--widths 16,32,64 32,64,64]

The step is the training loop's own (`ifdsed.training.step.optimisation_step`, built as bench/train_step.py
builds it: params.yaml's model with the given channels, its batch size and synthetic fraction, 64 mels, the
frames of the features section), on `Execution.from_params(params.train)` (bfloat16 autocast where the CPU has
it, float32 elsewhere; compiled as train.compile says). The widths are timed interleaved (`bench.common
.interleaved`), compilation outside the clock. Figures: median step ms per width, and each width's median ratio
to the first one's step of the same round.
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
    parser.add_argument("--widths", nargs="+", default=["16,32,64", "32,64,64"],
                        help="encoder widths, each as comma-separated channels (the first is the reference)")
    args = parser.parse_args()
    params = project_params()
    torch.set_num_threads(params.train.threads)
    features = params.features
    frames = round(params.data.clip_duration / features.hop)
    n_synthetic = round(params.train.batch_size * params.train.synthetic_fraction)
    batch = training_batch(params.train.batch_size, n_synthetic, frames, features.n_mels, len(params.classes))
    execution = Execution.from_params(params.train, CPU)
    steps, compile_s = {}, {}
    for width in args.widths:
        channels = [int(c) for c in width.split(",")]
        steps[width] = make_step(make_model(params, features.n_mels, params.model.ifd, params.model.sedb, channels),
                                 batch, params.train.lr, execution)
        compile_s[width] = round(first_call_s(steps[width]), 1)
    times, _ = interleaved(steps, args.rounds, args.warmup)
    reference = args.widths[0]
    emit({"execution": execution.describe(), "batch_size": params.train.batch_size, "frames": frames,
          "step_ms": {width: round(1000 * sorted(t)[len(t) // 2], 1) for width, t in times.items()},
          "ratio_to_first": {width: round(ratio(t, times[reference]), 2) for width, t in times.items()},
          "compile_s": compile_s, "rounds": args.rounds, "loadavg": loadavg()})


if __name__ == "__main__":
    main()
