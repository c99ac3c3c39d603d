"""Export a trained checkpoint to one ONNX file, from raw audio to probabilities, with the front end inside.

    ifdsed export --model data/train/seed_1/checkpoints/best.pt --out detector.onnx

The graph (`ifdsed.inference.onnx_detector.AudioDetector`) takes `audio` [W, samples]: W windows of mono audio at
the checkpoint's sample rate, each `features.clip_duration` long (W dynamic; shorter windows are zero-padded),
and gives `frame_probs` [W, T, C], `clip_probs` [W, C] and `log_mel` [W, T, n_mels]. The detector settings
(classes, features, normalisation, thresholds, median windows) are in the model's metadata as JSON
(`ifdsed.detector`), so `ifdsed predict --model detector.onnx` post-processes exactly as with the checkpoint;
so is the checkpoint's training-data record (`ifdsed.training_data`: data.source and the training sets' sizes).
Checks the file with ONNX Runtime on one window of noise against the checkpoint before it returns.

A checkpoint trained on the embedded generated data, or one that records no training data, gets one warning
line on stderr (`ifdsed.models.training_data.warning`): such models do not work on real recordings.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="checkpoint written by training (best.pt)")
    parser.add_argument("--out", required=True, type=Path, help="ONNX file to write")


def run(args: argparse.Namespace) -> int:
    from ifdsed.cli import warn_training_data
    from ifdsed.errors import named
    from ifdsed.inference.detector import Detector
    from ifdsed.inference.onnx_detector import OnnxDetector, export_onnx

    try:
        reference = Detector.from_checkpoint(args.model, "cpu")
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        print(f"export: cannot use the model: {named(error, args.model)}", file=sys.stderr)
        return 1
    warn_training_data("export", reference.training_data, args.model)
    export_onnx(args.model, args.out)
    exported = OnnxDetector(args.out)
    noise = np.random.default_rng(0).normal(0, 0.1, (1, reference.settings.features.clip_samples)).astype(np.float32)
    expected, got = reference.audio_outputs(noise)[1], exported.audio_outputs(noise)[1]
    difference = float(np.abs(expected - got).max())
    print(f"export: {args.out} ({args.out.stat().st_size / 1e6:.1f} MB); ONNX Runtime's clip probabilities on a "
          f"window of noise differ from the checkpoint's by at most {difference:.1e}")
    return 0 if difference < 1e-3 else 1
