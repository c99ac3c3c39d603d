"""The IFD study's hyper-parameter search on validation only, as DVC queue experiments.

    python -m study.sweep queue --round 1     # queue the round's settings (dvc exp run --queue ... train diagnose;
                                              # --variant V: only V's)
    dvc queue start -j 1                      # run them; `dvc queue status` / `dvc queue logs <name>` to follow
    python -m study.sweep collect             # every finished sweep experiment -> docs/ifd-study/sweep.csv
    python -m study.sweep table               # that file as docs/ifd-study.md's Markdown table
    python -m study.sweep select              # each variant's setting by the selection rule (study/final.py runs it)

Every setting is one experiment named sweep-r<round>-<variant>-<setting>: the variant's branches, the search's
starting values (BASE), PINNED (pseudo labels for IFD: the oracle labels are a diagnostic arm, which every recipe
here refuses), the setting's overrides, and the study's schedule (SCHEDULE: at most 40 epochs, patience
10, the learning rate x0.8 every 10 epochs, selection on validation event F1) on the seeds SEEDS. Only the train and diagnose stages run, so no test set is scored. A setting's score is the
mean over its seeds of the best validation event-based macro F1 (`best_validation_score` in
results/train/seed_<seed>/metrics.json). Round 0 is every variant at params.yaml's values; each later round gives
every variant the same number of settings. The pseudo-label quality (diagnose: hidden timestamps) is reported
beside the score and plays no part in the choice.

The selection rule (`select`), fixed before the search ran: for each variant, the setting with the highest score
replaces params.yaml's values if it is more than MARGIN above the variant's round-0 score; otherwise the variant
keeps params.yaml's values. A variant is selected only once all its settings of every round are in the table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from ifdsed import paths
from ifdsed.evaluation.experiments import experiment_revisions, result
from ifdsed.models.config import VARIANTS

# The study's schedule, pinned whatever params.yaml's (shorter, sized for `make repro`) says: at most 40 epochs,
# patience 10, the learning rate x0.8 every 10 epochs, selection on validation event F1.
SCHEDULE = {"train.epochs": 40, "train.patience": 10, "train.lr_decay": 0.8, "train.lr_decay_every": 10,
            "train.selection": "event_f1"}
# The values the search started from (params.yaml's when it ran) of every key a setting changes: passed explicitly
# with every experiment, so that a later default (a selected setting moved into params.yaml) changes no recipe.
BASE = {"train.synthetic_fraction": 0.5, "train.batch_size": 16, "train.lr": 0.0018, "train.ifd_warmup": 0,
        "model.lambda_ifd": 1.0, "model.lambda_sedb": 1.0, "model.ifd_theta": 0.5}
# Pinned in every search and final experiment whatever params.yaml says (a queued experiment inherits the
# workspace's params.yaml): the IFD branch learns from pseudo labels. model.ifd_labels: oracle (the simulated weak
# clips' hidden timestamps) is a diagnostic upper bound, never a variant, and these recipes refuse it.
PINNED = {"model.ifd_labels": "pseudo"}
SEEDS = (1, 2)
# round -> variant -> settings (each a dict of params overrides); the same number of settings for every variant
ROUNDS: dict[int, dict[str, list[dict]]] = {
    0: {variant: [{}] for variant in VARIANTS},
    1: {"baseline": [{"train.synthetic_fraction": 0.25}, {"train.synthetic_fraction": 0.75}],
        "IFD": [{"model.lambda_ifd": 0.3}, {"model.lambda_ifd": 3.0}],
        "SEDB": [{"model.lambda_sedb": 0.3}, {"model.lambda_sedb": 3.0}],
        "SEDB&IFD": [{"model.lambda_ifd": 0.3}, {"model.lambda_ifd": 3.0}]},
    2: {"baseline": [{"train.batch_size": 32}, {"train.lr": 0.0009}, {"train.lr": 0.0036}],
        "IFD": [{"train.ifd_warmup": 5}, {"model.ifd_theta": 0.3}, {"model.ifd_theta": 0.7}],
        "SEDB": [{"train.batch_size": 32}, {"train.lr": 0.0009}, {"train.lr": 0.0036}],
        "SEDB&IFD": [{"train.ifd_warmup": 5}, {"model.ifd_theta": 0.3}, {"model.ifd_theta": 0.7}]},
}
OUT = Path("docs/ifd-study/sweep.csv")
MARGIN = 0.01   # two seeds cannot tell smaller differences apart (their std is 0.02-0.04)


def experiment_name(round_: int, variant: str, setting: dict) -> str:
    """sweep-r1-sedb-ifd-lambda_ifd-3.0: a valid git ref name."""
    parts = [f"{key.split('.')[-1]}-{value}" for key, value in sorted(setting.items())] or ["default"]
    return "-".join(["sweep", f"r{round_}", variant.lower().replace("&", "-")] + parts)


def queue_experiment(name: str, variant: str, seeds, setting: dict, stages: tuple[str, ...] = ()) -> None:
    """`dvc exp run --queue`: the variant's branches, the seeds, SCHEDULE, BASE, PINNED, then the setting on top;
    a setting that moves a PINNED key (model.ifd_labels: oracle) is refused (SystemExit), nothing queued."""
    ifd, sedb = VARIANTS[variant]
    overrides = {"model.ifd": ifd, "model.sedb": sedb, "train.seeds": list(seeds), **SCHEDULE, **BASE, **PINNED,
                 **setting}
    moved = [f"{key}={overrides[key]}" for key, value in PINNED.items() if overrides[key] != value]
    if moved:
        raise SystemExit(f"study: {name}: {', '.join(moved)} is a diagnostic arm, never a variant: the search and "
                         f"the final comparison train on {', '.join(f'{k}={v}' for k, v in PINNED.items())} only")
    command = ["dvc", "exp", "run", "--queue", "--name", name]
    for key, value in overrides.items():
        command += ["-S", f"{key}={json.dumps(value)}"]
    subprocess.run(command + list(stages), check=True)


def queue(round_: int, variants: list[str]) -> None:
    for variant in variants:
        for setting in ROUNDS[round_][variant]:
            queue_experiment(experiment_name(round_, variant, setting), variant, SEEDS, setting, ("train", "diagnose"))


def collect() -> pd.DataFrame:
    """One row per finished sweep experiment, its validation score and diagnostics, sorted by round and variant."""
    names = {experiment_name(r, v, s): (r, v, s) for r, variants in ROUNDS.items() for v, settings in variants.items()
             for s in settings}
    rows = []
    for revision in experiment_revisions():
        if revision.get("name") not in names or not revision.get("data"):
            continue
        round_, variant, setting = names[revision["name"]]
        per_seed = [result(revision, paths.train_logs(seed) / "metrics.json") or {} for seed in SEEDS]
        diagnostics = [result(revision, paths.diagnostics(seed) / "metrics.json") or {} for seed in SEEDS]
        if not all("best_validation_score" in run for run in per_seed):
            continue
        scores = pd.Series([run["best_validation_score"] for run in per_seed])
        precision = pd.Series([run.get("pseudo_label_precision") for run in diagnostics], dtype=float)
        recall = pd.Series([run.get("pseudo_label_recall") for run in diagnostics], dtype=float)
        rows.append({"round": round_, "variant": variant,
                     "setting": " ".join(f"{k}={v}" for k, v in sorted(setting.items())) or "params.yaml",
                     "seeds": " ".join(map(str, SEEDS)), "validation_event_f1_mean": scores.mean(),
                     "validation_event_f1_std": scores.std(ddof=1),
                     "validation_event_f1_per_seed": " ".join(f"{s:.4f}" for s in scores),
                     "best_epochs": " ".join(str(run["best_epoch"]) for run in per_seed),
                     "epochs_run": " ".join(str(run["epochs_run"]) for run in per_seed),
                     "pseudo_label_precision_mean": precision.mean(), "pseudo_label_recall_mean": recall.mean(),
                     "experiment": revision["name"]})
    columns = ["round", "variant", "setting", "seeds", "validation_event_f1_mean", "validation_event_f1_std",
               "validation_event_f1_per_seed", "best_epochs", "epochs_run", "pseudo_label_precision_mean",
               "pseudo_label_recall_mean", "experiment"]
    table = pd.DataFrame(rows, columns=columns)
    order = {variant: i for i, variant in enumerate(VARIANTS)}
    return table.sort_values(["round", "variant", "setting"], key=lambda c: c.map(order) if c.name == "variant" else c)


def read_table(path: Path = OUT) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"validation_event_f1_per_seed": str, "best_epochs": str, "epochs_run": str})


def select(table: pd.DataFrame) -> dict[str, dict]:
    """{variant: the params overrides the selection rule picks} for every variant whose settings have all run
    ({}: params.yaml's values)."""
    scores = dict(zip(table["experiment"], table["validation_event_f1_mean"]))
    chosen = {}
    for variant in VARIANTS:
        settings = [(experiment_name(r, variant, s), s) for r in sorted(ROUNDS) for s in ROUNDS[r][variant]]
        if not all(name in scores for name, _ in settings):
            continue
        default = scores[experiment_name(0, variant, {})]
        name, setting = max(settings[1:], key=lambda item: scores[item[0]])
        chosen[variant] = dict(setting) if scores[name] - default > MARGIN else {}
    return chosen


def markdown(table: pd.DataFrame) -> str:
    """The collected search as the Markdown table of docs/ifd-study.md, with each setting's gain over its
    variant's round-0 score (params.yaml's values)."""
    defaults = table[table["round"] == 0].set_index("variant")["validation_event_f1_mean"]
    lines = ["| round | variant | setting | validation event F1 | vs params.yaml | per seed | best epochs | "
             "epochs run | pseudo-label precision |", "|---|---|---|---|---|---|---|---|---|"]
    for row in table.itertuples():
        gain = (f"{row.validation_event_f1_mean - defaults[row.variant]:+.3f}"
                if row.round and row.variant in defaults else "")
        precision = "" if pd.isna(row.pseudo_label_precision_mean) else f"{row.pseudo_label_precision_mean:.2f}"
        per_seed, best, run = (text.replace(" ", ", ") for text in
                               (row.validation_event_f1_per_seed, row.best_epochs, row.epochs_run))
        lines.append(f"| {row.round} | {row.variant} | {row.setting} | {row.validation_event_f1_mean:.3f} +- "
                     f"{row.validation_event_f1_std:.3f} | {gain} | {per_seed} | {best} | {run} | {precision} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    queuing = commands.add_parser("queue")
    queuing.add_argument("--round", type=int, choices=sorted(ROUNDS), required=True)
    queuing.add_argument("--variant", choices=list(VARIANTS), action="append",
                         help="only this variant's settings (repeatable; default: all four)")
    commands.add_parser("collect").add_argument("--out", type=Path, default=OUT)
    commands.add_parser("table").add_argument("--csv", type=Path, default=OUT)
    commands.add_parser("select").add_argument("--csv", type=Path, default=OUT)
    args = parser.parse_args()
    if args.command == "queue":
        queue(args.round, args.variant or list(VARIANTS))
        return
    if args.command == "table":
        print(markdown(read_table(args.csv)))
        return
    if args.command == "select":
        chosen = select(read_table(args.csv))
        for variant in VARIANTS:
            print(f"{variant}: " + (json.dumps(chosen[variant]) if variant in chosen else "not all settings have run"))
        return
    table = collect()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4f")
    print(table.drop(columns=["experiment"]).to_string(index=False))
    print(f"{len(table)} sweep experiments -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
