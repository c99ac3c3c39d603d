"""Per-epoch curves of the IFD study's experiments, as one long table and four figures (docs/ifd-study.md).

    python -m study.curves --prefix final-          # the final comparison's experiments
    python -m study.curves --prefix sweep-r0-       # the search's round 0 (every variant at params.yaml's values)
    python -m study.curves --experiments final-baseline-e80 final-ifd-e80 --out docs/ifd-study/final-e80
                                                    # these experiments only (one-seed runs merged by name)

For every finished DVC experiment whose name starts with the prefix, or is one of --experiments (any commit, or
kept by study.archive), reads each seed's dvclive logs (results/train/seed_<seed>/plots/metrics/) and pseudo-label table
(results/diagnostics/seed_<seed>/) from the experiment's git commit or archive record, and writes <out>/curves.csv
(experiment, variant, seed, epoch, metric, value) and <out>/{validation,pairs,pseudo_labels,gradients}.png:
validation event F1; IFD positive pairs per batch by domain pairing; the pseudo labels' frame precision and recall
against the hidden timestamps; the gradient norm each loss term sends into the encoder. Each figure draws the
mean over seeds per variant (bold while every seed still runs, fainter after the first early stop, where it is
the mean of the runs left), and every seed thinly.
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path

import pandas as pd

from ifdsed.evaluation.experiments import ARCHIVE, experiment_file, experiment_revisions
from ifdsed.models.config import variant_name

TRAIN_LOGS = "results/train/seed_{seed}/plots/metrics/{metric}.tsv"
PSEUDO_LABELS = "results/diagnostics/seed_{seed}/pseudo_labels.tsv"
SEED_METRICS = "results/train/seed_{seed}/metrics.json"
TRAIN_METRICS = ["validation/event_f1_macro", "validation/frame_f1_macro", "validation/student_event_f1_macro",
                 "train/consistency", "train/ifd_n_pos_rr",
                 "train/ifd_n_pos_ss", "train/ifd_n_pos_rs", "train/pseudo_label_share",
                 "train/encoder_grad_norm/atp", "train/encoder_grad_norm/sedb", "train/encoder_grad_norm/ifd_hinge",
                 "train/encoder_grad_norm/ifd_norm"]
FIGURES = {  # file -> (title, y label, {metric: legend suffix})
    "validation": ("Validation event-based macro F1", "F1", {"validation/event_f1_macro": ""}),
    "pairs": ("IFD positive frame pairs per batch, by domain pairing", "pairs",
              {"train/ifd_n_pos_rr": " real-real", "train/ifd_n_pos_ss": " syn-syn", "train/ifd_n_pos_rs": " real-syn"}),
    "pseudo_labels": ("Pseudo labels against the hidden timestamps", "frame precision / recall",
                      {"pseudo_label/precision": " precision", "pseudo_label/recall": " recall"}),
    "gradients": ("Gradient norm each weighted term sends into the encoder (first batch of each epoch)", "L2 norm",
                  {"train/encoder_grad_norm/atp": " ATP", "train/encoder_grad_norm/sedb": " SEDB",
                   "train/encoder_grad_norm/ifd_hinge": " IFD hinge", "train/encoder_grad_norm/ifd_norm": " IFD norm"}),
}


def kept_files(seeds) -> list[str]:
    """The git-tracked result files these curves read, for every seed (what study.archive keeps)."""
    return [path for seed in seeds for path in
            [SEED_METRICS.format(seed=seed), PSEUDO_LABELS.format(seed=seed)]
            + [TRAIN_LOGS.format(seed=seed, metric=metric) for metric in TRAIN_METRICS]]


def experiments(prefix: str, archive: Path | None = ARCHIVE, merge: bool = True,
                names: set[str] | None = None) -> list[tuple[str, dict, str, list[int]]]:
    """(name, revision, variant, seeds) of every finished experiment whose name starts with `prefix` (or, given
    `names`, is one of them): live in this clone (any commit), or kept in `archive` (None: live ones only); with
    `merge`, one-seed runs merged."""
    found = []
    for revision in experiment_revisions(archive, merge):
        name, data = revision.get("name") or "", revision.get("data") or {}
        params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
        wanted = name in names if names is not None else name.startswith(prefix)
        if not wanted or not params or revision.get("error"):
            continue
        seeds = list(params["train"]["seeds"])
        if all(experiment_file(revision, SEED_METRICS.format(seed=seed)) for seed in seeds):
            found.append((name, revision, variant_name(params["model"]["ifd"], params["model"]["sedb"],
                                                           params["model"].get("mean_teacher", False)), seeds))
    return sorted(found, key=lambda item: item[0])


def curves(prefix: str, names: set[str] | None = None) -> pd.DataFrame:
    rows = []
    for name, revision, variant, seeds in experiments(prefix, names=names):
        for seed in seeds:
            for metric in TRAIN_METRICS:
                text = experiment_file(revision, TRAIN_LOGS.format(seed=seed, metric=metric))
                if text:
                    table = pd.read_csv(io.StringIO(text), sep="\t")
                    rows += [(name, variant, seed, int(step) + 1, metric, float(value))
                             for step, value in zip(table["step"], table.iloc[:, -1])]
            text = experiment_file(revision, PSEUDO_LABELS.format(seed=seed))
            if text:
                table = pd.read_csv(io.StringIO(text), sep="\t")
                for column in ("share", "precision", "recall"):
                    rows += [(name, variant, seed, int(epoch), f"pseudo_label/{column}", value)
                             for epoch, value in zip(table["epoch"], table[column]) if pd.notna(value)]
    return pd.DataFrame(rows, columns=["experiment", "variant", "seed", "epoch", "metric", "value"])


def series_labels(table: pd.DataFrame) -> pd.Series:
    """Each row's curve label: its variant, or "variant (experiment)" where several experiments share the variant
    (e.g. the study's reference baseline beside the selected one), so that no curve mixes two experiments."""
    shared = table.groupby("variant")["experiment"].transform("nunique") > 1
    return table["variant"].where(~shared, table["variant"] + " (" + table["experiment"] + ")")


def draw(table: pd.DataFrame, out: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    table = table.assign(series=series_labels(table))
    variants = list(dict.fromkeys(table["series"]))   # a variant, or variant (experiment) where two share one
    colours = dict(zip(variants, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    styles = ["-", "--", ":", "-."]
    for figure_name, (title, ylabel, metrics) in FIGURES.items():
        figure, axes = plt.subplots(figsize=(8, 4.5))
        drawn = False
        for variant in variants:
            for style, (metric, suffix) in zip(styles, metrics.items()):
                part = table[(table["series"] == variant) & (table["metric"] == metric)]
                if part.empty:
                    continue
                for _, seed_curve in part.groupby("seed"):
                    axes.plot(seed_curve["epoch"], seed_curve["value"], style, color=colours[variant], alpha=0.2,
                              linewidth=0.8)
                by_epoch = part.groupby("epoch")["value"]
                mean, every_seed = by_epoch.mean(), by_epoch.size() == part["seed"].nunique()
                # Solid while every seed still runs; fainter on, where the mean is over the runs not yet stopped
                # (the better ones, as a rule: early stopping ends the runs that stall).
                last_full = mean.index[every_seed.values][-1] if every_seed.any() else mean.index[0]
                axes.plot(mean.index[mean.index <= last_full], mean[mean.index <= last_full].values, style,
                          color=colours[variant], linewidth=2,
                          label=f"{variant}{suffix} (mean of {part['seed'].nunique()} seeds)")
                axes.plot(mean.index[mean.index >= last_full], mean[mean.index >= last_full].values, style,
                          color=colours[variant], linewidth=1.2, alpha=0.6)
                drawn = True
        if not drawn:
            plt.close(figure)
            continue
        axes.set(title=title, xlabel="epoch", ylabel=ylabel)
        axes.legend(fontsize=7)
        axes.grid(alpha=0.3)
        path = out / f"{figure_name}.png"
        figure.tight_layout()
        figure.savefig(path, dpi=90, metadata={"Software": None})
        plt.close(figure)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", default="final-")
    parser.add_argument("--experiments", nargs="+", metavar="NAME",
                        help="draw these experiments (one-seed runs merged) instead of every one with the prefix")
    parser.add_argument("--out", type=Path, default=Path("docs/ifd-study"))
    args = parser.parse_args()
    names = set(args.experiments) if args.experiments else None
    table = curves(args.prefix, names)
    missing = sorted((names or set()) - set(table["experiment"]))
    if missing or table.empty:
        raise SystemExit(f"curves: no finished experiment named {', '.join(missing) or args.prefix + '*'}")
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "curves.csv", index=False, float_format="%.5g")
    figures = draw(table, args.out)
    print(f"{table['experiment'].nunique()} experiments, {len(table)} rows -> {args.out / 'curves.csv'}; "
          + ", ".join(str(path) for path in figures))


if __name__ == "__main__":
    main()
