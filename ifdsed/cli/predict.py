"""Detect sound events in audio files with a trained checkpoint; write one DCASE-format table.

    ifdsed predict PATH... --model data/train/seed_1/checkpoints/best.pt --out events.tsv \
        [--plots DIR] [--workers N] [--batch-size N] [--device auto|cpu|cuda]
        [--precision float32|auto|bfloat16|float16]

PATH is an audio file or a folder (searched recursively for .wav, .flac and .ogg, any case). Files of any
sample rate, channel count and length are read; onsets and offsets are seconds of the original file. The
features and post-processing are the checkpoint's own (see ifdsed/inference/detector.py); params.yaml is not read.
A .onnx model (from `ifdsed export`) runs in ONNX Runtime on the CPU, with the same windowing and
post-processing; --device and --precision do not apply to it.

A model trained on the embedded generated data (its training-data record, `ifdsed.models.training_data`, says
data.source embedded), or one that records no training data, gets one warning line on stderr before any file is
read: such models do not work on real recordings (the measured figure and how to train on real data are in
the line). A model trained with data.source real gets none.

Writes OUT (tab-separated, atomically): ``filename onset offset event_label``, one row per event, sorted,
times to the millisecond; filenames relative to the PATH folder they were found in (the file name for a file
argument). With --plots, DIR/<filename>.png per file: the log-mel, the predicted events as a piano roll and each
class's frame probability as a heat map, on one time axis.

A file that cannot be read (empty, not audio, corrupt or truncated, NaN or Inf samples) is named on stderr with
the reason and skipped; the others are processed. A file that is processed but suspicious (silent, clipped, no
samples) is named on stderr with a note. Exit status: 0 when every file was processed, 2 when something was
skipped (1 for a bad checkpoint, refused or unreadable, or no audio file at all).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
from tqdm import tqdm

from ifdsed.cli import warn_training_data
from ifdsed.devices import DeviceError, pick_precision
from ifdsed.errors import named
from ifdsed.inference.detector import Detector
from ifdsed.inference.files import find_audio, predict_files, Prediction
from ifdsed.io.tables import EVENT_COLUMNS, write_events

EXIT_SKIPPED = 2


class AtLeastOne(argparse.Action):
    """An int option that must be at least 1 (a usage error otherwise)."""

    def __call__(self, parser, namespace, value, option_string=None):
        if value < 1:
            parser.error(f"{self.option_strings[0]} must be at least 1")
        setattr(namespace, self.dest, value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="audio files or folders")
    parser.add_argument("--model", required=True, type=Path,
                        help="checkpoint written by training (best.pt), or its export by `ifdsed export` (.onnx)")
    parser.add_argument("--out", required=True, type=Path, help="event table to write (TSV)")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="also draw one PNG per file into DIR")
    parser.add_argument("--workers", type=int, default=None, action=AtLeastOne,
                        help="threads (default: CPU count, at most 8)")
    parser.add_argument("--batch-size", type=int, default=None, action=AtLeastOne,
                        help="windows per model call (default: 8 on a CPU, 64 on a GPU)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--precision", choices=["float32", "auto", "bfloat16", "float16"], default="float32",
                        help="the model's autocast precision (default float32: the same bytes as evaluation; auto: "
                             "bfloat16 where the hardware has it; float16 needs a GPU)")


def collect(paths: Sequence[Path]) -> tuple[list[tuple[Path, str]], list[str]]:
    """(file, name) pairs for every PATH, and one message per PATH that does not exist."""
    items, problems = [], []
    for path in paths:
        try:
            items.extend(find_audio(path))
        except FileNotFoundError as error:
            problems.append(str(error))
    return items, problems


def warn(message: str) -> None:
    """One line on stderr that does not break the progress bar."""
    tqdm.write(f"predict: {message}", file=sys.stderr)


def detect(items: list[tuple[Path, str]], detector: Detector, args: argparse.Namespace) -> tuple[pd.DataFrame, int]:
    """Predict every file with a progress bar; returns the events of all files and the number skipped."""
    tables, skipped = [], 0
    predictions = predict_files(items, detector, workers=args.workers, batch_size=args.batch_size,
                                keep_features=args.plots is not None)
    with tqdm(total=len(items), unit="file", desc="predict") as bar:
        for result in predictions:
            bar.update()
            if result.error is not None:
                skipped += 1
                warn(f"skipped {result.path}: {result.error}")
                continue
            for note in result.notes or ():
                warn(f"note: {result.path} {note}")
            if len(result.events):
                tables.append(result.events)
            if args.plots is not None:
                draw(result, detector, args.plots)
    events = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=EVENT_COLUMNS)
    return events, skipped


def draw(result: Prediction, detector: Detector, folder: Path) -> None:
    from ifdsed.evaluation.plots import plot_prediction  # matplotlib only when plots are asked for
    plot_prediction(result, detector.classes, detector.settings.frame_hop, folder / f"{result.filename}.png")


def run(args: argparse.Namespace) -> int:
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    try:
        precision = pick_precision(args.precision, device, "--precision")
    except DeviceError as error:
        print(f"predict: {error}", file=sys.stderr)
        return 2
    try:
        if args.model.suffix == ".onnx":   # exported by `ifdsed export`: ONNX Runtime on the CPU
            from ifdsed.inference.onnx_detector import OnnxDetector
            detector, device = OnnxDetector(args.model), torch.device("cpu")
        else:
            detector = Detector.from_checkpoint(args.model, device, precision)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        print(f"predict: cannot use the model: {named(error, args.model)}", file=sys.stderr)
        return 1
    warn_training_data("predict", detector.training_data, args.model)
    items, missing = collect(args.paths)
    for problem in missing:
        warn(f"skipped {problem}")
    if not items:
        print("predict: no audio file (.wav, .flac, .ogg) found", file=sys.stderr)
        return 1
    names = pd.Series([name for _, name in items])
    if names.duplicated().any():
        warn(f"{names.duplicated().sum()} file names occur twice in the table (same name under two PATHs), "
             f"e.g. {names[names.duplicated()].iloc[0]}")
    features = detector.settings.features
    print(f"predict: {len(items)} files, {len(detector.classes)} classes, {features.sample_rate} Hz, "
          f"{features.clip_duration:g} s windows, on {device}")
    started = time.perf_counter()
    events, skipped = detect(items, detector, args)
    write_events(events, args.out)
    elapsed = time.perf_counter() - started
    done = len(items) - skipped
    print(f"predict: {len(events)} events in {done} files -> {args.out}"
          + (f", plots -> {args.plots}/" if args.plots is not None else "") + f" ({elapsed:.1f} s)")
    if skipped or missing:
        print(f"predict: skipped {skipped + len(missing)} (see the messages above)", file=sys.stderr)
        return EXIT_SKIPPED
    return 0
