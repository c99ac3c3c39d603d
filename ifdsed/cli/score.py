"""Score DCASE-format detections against a reference table: event-based and segment-based F1 (sed_eval).

    ifdsed score --truth T.tsv --predictions P.tsv [--durations D.tsv] [--classes A,B,...] --out metrics.json

Tables are tab- or comma-separated, with or without pandas' index column (see ifdsed.evaluation.metrics.read_table).
The class list is fixed: --classes, else params.yaml `classes` (in the working directory), else the DCASE list.
Writes a flat JSON of fractions (event_f1_macro, event_f1_micro, event_error_rate, segment_f1_macro,
segment_f1_micro, segment_error_rate, per-class event_f1/<class> and segment_f1/<class>, ...; an undefined
figure is null) and prints a per-class table. A table or params.yaml that cannot be read is named in one line on
stderr (exit status 1).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Sequence

from ifdsed.io import atomic
from ifdsed.config import DCASE_CLASSES, PARAMS_FILE, load_params
from ifdsed.errors import InputError
from ifdsed.evaluation.metrics import DURATION_COLUMNS, read_table, score_tables


def default_classes(params_file: Path = PARAMS_FILE) -> list[str]:
    """params.yaml `classes` when the file exists, the DCASE 2018-2021 list otherwise."""
    if Path(params_file).is_file():
        return list(load_params(params_file).classes)
    return list(DCASE_CLASSES)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--truth", required=True, type=Path, help="reference events (filename onset offset "
                        "event_label; an empty label marks a clip with no event)")
    parser.add_argument("--predictions", required=True, type=Path, help="detected events, same columns")
    parser.add_argument("--durations", type=Path, help="filename duration: evaluate each file over its whole "
                        "length (segment-based), and include listed files that have no reference row")
    parser.add_argument("--classes", help="comma-separated class list (default: params.yaml classes)")
    parser.add_argument("--out", required=True, type=Path, help="metrics JSON to write")


def _percent(value: float | None) -> str:
    return "   n/a" if value is None or math.isnan(value) else f"{100 * value:6.2f}"


def format_report(metrics: dict, classes: Sequence[str]) -> str:
    """A readable table: per-class event and segment F1, then the overall figures (in %, ER as a ratio)."""
    width = max(len("error rate"), *(len(name) for name in classes))
    lines = [f"{'class':<{width}}  event F1 %  segment F1 %", "-" * (width + 26)]
    for name in classes:
        lines.append(f"{name:<{width}}  {_percent(metrics.get(f'event_f1/{name}')):>10}  "
                     f"{_percent(metrics.get(f'segment_f1/{name}')):>12}")
    lines.append("-" * (width + 26))
    lines.append(f"{'macro F1':<{width}}  {_percent(metrics['event_f1_macro']):>10}  "
                 f"{_percent(metrics['segment_f1_macro']):>12}")
    lines.append(f"{'micro F1':<{width}}  {_percent(metrics['event_f1_micro']):>10}  "
                 f"{_percent(metrics['segment_f1_micro']):>12}")
    event_er, segment_er = metrics["event_error_rate"], metrics["segment_error_rate"]
    lines.append(f"{'error rate':<{width}}  {'n/a' if event_er is None else f'{event_er:.3f}':>10}  "
                 f"{'n/a' if segment_er is None else f'{segment_er:.3f}':>12}")
    lines.append(f"({metrics['event_files']} files; event-based: collar 0.2 s, 20 % of length; "
                 f"segment-based: 1 s)")
    return "\n".join(lines)


def write_json(metrics: dict, path: Path) -> Path:
    """Atomic write of the flat metrics (NaN as null)."""
    clean = {key: (None if isinstance(value, float) and math.isnan(value) else value)
             for key, value in metrics.items()}
    return atomic.write_json(path, clean, indent=2, sort_keys=False)


def run(args: argparse.Namespace) -> int:
    try:
        if args.classes:
            classes = [name.strip() for name in args.classes.split(",") if name.strip()]
        else:
            classes = default_classes()
        truth = read_table(args.truth)
        predictions = read_table(args.predictions)
        shared = set(truth["filename"]) & set(predictions["filename"])
        if len(truth) and len(predictions) and not shared:   # other files, or names written another way
            raise ValueError(f"{args.predictions}: none of its files is in {args.truth} (e.g. "
                             f"{sorted(set(predictions['filename']))[0]!r} against "
                             f"{sorted(set(truth['filename']))[0]!r}): nothing to score")
        durations = read_table(args.durations, DURATION_COLUMNS) if args.durations else None
        metrics = score_tables(truth, predictions, classes, durations=durations)
        write_json(metrics, args.out)
    except (ValueError, FileNotFoundError) as error:     # a bad table or params.yaml: one clear line
        raise InputError(str(error)) from error
    print(format_report(metrics, classes))
    print(f"metrics -> {args.out}")
    return 0
