"""DVC stage `diagnose@<seed>` (a matrix over train.seeds): the quality of one training's IFD pseudo labels,
epoch by epoch, against hidden truth that training never reads (except the oracle diagnostic arm).

Reads  data/train/seed_<seed>/pseudo_labels/epoch_<NNN>.npz (the real weak clips' pseudo strong labels of each
       epoch, written by training), results/train/seed_<seed>/metrics.json (the best epoch), the feature store's
       weak set index (clip order, frames) and, for the embedded default, the simulated weak set's timestamps
       data/realworld/weak_frame_labels/oracle/weak_events.tsv. A real DCASE weak set has none: only the share
       is reported then.
Writes results/diagnostics/seed_<seed>/pseudo_labels.tsv (one row per epoch: share, truth_share, precision,
       recall, f1; a DVC plot) and results/diagnostics/seed_<seed>/metrics.json (the same at the best epoch, as
       pseudo_label_<column>; tracked by git, as DVC metrics are).
"""
import argparse
import json

import pandas as pd

from ifdsed import paths
from ifdsed.config import load_params
from ifdsed.errors import InputError, run_stage
from ifdsed.evaluation.pseudo_labels import QUALITY_COLUMNS, pseudo_label_quality, read_epoch
from ifdsed.features.labels import frame_labels
from ifdsed.features.store import load_feature_set, store_config
from ifdsed.io import atomic
from ifdsed.io.tables import read_events

WEAK_EVENTS = paths.HIDDEN / "weak_events.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    params = load_params()
    epochs = sorted(paths.pseudo_labels(args.seed).glob("epoch_*.npz"))
    if not epochs:
        raise InputError(f"{paths.pseudo_labels(args.seed)}: no epoch_<NNN>.npz; run the train@{args.seed} stage")
    weak = load_feature_set(paths.FEATURES, paths.REAL_TRAIN_SET)
    truth = None
    if WEAK_EVENTS.is_file():  # measurement only: hidden from training
        truth = frame_labels(read_events(WEAK_EVENTS), list(weak.index["filename"]), params.classes,
                             weak.features.shape[1], store_config(paths.FEATURES).frame_hop)   # [N, T, C]
    rows = [{"epoch": int(path.stem.split("_")[1]), **pseudo_label_quality(*read_epoch(path), truth)}
            for path in epochs]
    table = pd.DataFrame(rows, columns=["epoch", *QUALITY_COLUMNS])
    out = paths.diagnostics(args.seed)
    with atomic.atomic_path(out / "pseudo_labels.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4f", na_rep="", lineterminator="\n")
    best_epoch = json.loads((paths.train_logs(args.seed) / "metrics.json").read_text())["best_epoch"]
    at_best = next((row for row in rows if row["epoch"] == best_epoch), dict.fromkeys(QUALITY_COLUMNS))
    metrics = {"best_epoch": best_epoch, **{f"pseudo_label_{column}": at_best[column] for column in QUALITY_COLUMNS}}
    atomic.write_json(out / "metrics.json", metrics)
    print(f"seed {args.seed}: pseudo labels at the best epoch {best_epoch}: "
          + ", ".join(f"{key.removeprefix('pseudo_label_')} {value:.3f}" for key, value in metrics.items()
                      if key != "best_epoch" and value is not None) + f" -> {out}")


if __name__ == "__main__":
    run_stage("diagnose", main)
