"""The IFD study's final comparison (issue #15): the four variants at their settings selected on validation
(study.sweep.select, from the committed docs/ifd-study/sweep.csv), SEEDS seeds each, the whole pipeline, both
test sets.

    python -m study.final queue               # one DVC experiment per variant: final-<variant>
                                              # (--variant V: only V; a variant whose search is not complete
                                              # cannot be queued)
    python -m study.final queue --reference   # final-baseline-start: the baseline at the search's starting
                                              # values, so that each variant can also be set against a baseline
                                              # that differs from it by its branches alone
    dvc queue start -j 1                      # run them (about 2 hours on the 2-core VM)
    python -m study.final collect             # -> docs/ifd-study/final.csv (against the selected baseline)
                                              # and final-vs-start.csv (against the reference), as Markdown too
    python -m study.final queue --epochs 80   # the same experiments with another epoch cap: final-<variant>-e80
    python -m study.final collect --epochs 80 # -> docs/ifd-study/final-e80.csv and final-e80-vs-start.csv
    python -m study.final queue --epochs 80 --per-seed   # one experiment per seed, final-<variant>-e80-s<seed>:
                                              # a session's end loses one seed at most; collect merges them

final.csv has the columns variant, seeds, test_set, metric, mean, std, p_vs_baseline (Welch's t-test from the
summaries over seeds, `ifdsed.evaluation.summary.welch_p`). Metrics per test set (real_test: the DCASE 2018
column's stand-in; syn_test: the DCASE 2019 synthetic column's): event_f1_macro, tagging_f1_macro, psds1; the
validation set's event_f1_macro (real_validation: the measure the search selected on, over all the seeds); over both
test sets (test_set "both"): domain_gap_accuracy and domain_gap_accuracy_events; on the weak training set
(test_set "weak_train", hidden timestamps): pseudo_label_precision and pseudo_label_recall at the best epoch.
The paper's own figures (`PAPER`, its Tables 1 and 2) are printed beside the event and tagging F1.
final-vs-start.csv has the same columns, with REFERENCE's run in the baseline's rows and p against it.
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import pandas as pd

from ifdsed.evaluation.experiments import experiment_revisions, live_experiments, machines, summary_of
from ifdsed.evaluation.summary import stat_cell, welch_p
from study.sweep import VARIANTS, queue_experiment, read_table, select   # one recipe for the search and the final

SEEDS = tuple(range(1, 9))
SET_METRICS = {"real_test": ("event_f1_macro", "tagging_f1_macro", "psds1"),
               "syn_test": ("event_f1_macro", "tagging_f1_macro", "psds1"),
               "real_validation": ("event_f1_macro",)}   # the selection's measure, over all 8 seeds
SEED_METRICS = {"both": ("domain_gap_accuracy", "domain_gap_accuracy_events"),
                "weak_train": ("pseudo_label_precision", "pseudo_label_recall")}
# The paper's Tables 1 and 2 (real DCASE data, 20 runs): (variant, test set, metric) -> (mean, std)
PAPER = {
    ("baseline", "real_test", "event_f1_macro"): (0.315, 0.020), ("baseline", "syn_test", "event_f1_macro"): (0.320, 0.0191),
    ("IFD", "real_test", "event_f1_macro"): (0.331, 0.0218), ("IFD", "syn_test", "event_f1_macro"): (0.361, 0.0162),
    ("SEDB", "real_test", "event_f1_macro"): (0.336, 0.0169), ("SEDB", "syn_test", "event_f1_macro"): (0.377, 0.0237),
    ("SEDB&IFD", "real_test", "event_f1_macro"): (0.347, 0.0132), ("SEDB&IFD", "syn_test", "event_f1_macro"): (0.390, 0.0186),
    ("baseline", "real_test", "tagging_f1_macro"): (0.625, 0.0141), ("baseline", "syn_test", "tagging_f1_macro"): (0.630, 0.0328),
    ("IFD", "real_test", "tagging_f1_macro"): (0.629, 0.0199), ("IFD", "syn_test", "tagging_f1_macro"): (0.609, 0.0338),
    ("SEDB", "real_test", "tagging_f1_macro"): (0.635, 0.0133), ("SEDB", "syn_test", "tagging_f1_macro"): (0.663, 0.034),
    ("SEDB&IFD", "real_test", "tagging_f1_macro"): (0.645, 0.0118), ("SEDB&IFD", "syn_test", "tagging_f1_macro"): (0.638, 0.0323),
}
OUT = Path("docs/ifd-study/final.csv")
COLUMNS = ["variant", "seeds", "test_set", "metric", "mean", "std", "p_vs_baseline"]


REFERENCE = "final-baseline-start"   # the baseline at the search's starting values (study.sweep.BASE)


def final_name(variant: str, epochs: int | None = None) -> str:
    """final-<variant>, or final-<variant>-e<epochs> for a run with another epoch cap; REFERENCE for "reference"."""
    name = REFERENCE if variant == "reference" else "final-" + variant.lower().replace("&", "-")
    return name + (f"-e{epochs}" if epochs else "")


def seed_name(name: str, seed: int) -> str:
    """The experiment of one seed of experiment `name`, when it is queued seed by seed."""
    return f"{name}-s{seed}"


def queue(variants: list[str], reference: bool = False, epochs: int | None = None, per_seed: bool = False,
          precision: str | None = None) -> None:
    """Queue final-<variant> for each variant, at the setting the selection rule picks from the search; with
    `reference`, also REFERENCE: the baseline at the search's starting values (BASE), against which every
    variant differs by its branches and their own settings only. `epochs`: another epoch cap than SCHEDULE's
    (the same for every experiment; names get -e<epochs>). `per_seed`: one experiment per seed (seed_name), so
    that a session that ends loses one seed's training at most; every reader merges them
    (`ifdsed.evaluation.experiments.merge_seed_runs`). A one-seed run that
    has finished (live or archived) is not queued again, so the same command continues a comparison.
    `precision`: train.precision for every run (the default, auto, depends on the CPU: bfloat16 where it has
    native bfloat16, float32 elsewhere; a comparison that may run on several machines pins it)."""
    cap = ({"train.epochs": epochs} if epochs else {}) | ({"train.precision": precision} if precision else {})
    runs = [("reference", "baseline", cap)] if reference else []
    if variants:
        selected = select(read_table())
        missing = [variant for variant in variants if variant not in selected]
        if missing:
            raise SystemExit(f"study.final: the search of {', '.join(missing)} is not complete in "
                             "docs/ifd-study/sweep.csv (python -m study.sweep collect)")
        runs += [(variant, variant, {**selected[variant], **cap}) for variant in variants]
    done = finished_names() if per_seed else set()
    for name, variant, setting in runs:
        name = final_name(name, epochs)
        if not per_seed:
            queue_experiment(name, variant, SEEDS, setting)
        for seed in SEEDS if per_seed else ():
            if seed_name(name, seed) in done:
                print(f"study.final: {seed_name(name, seed)} has run or is queued: not queued again")
            else:
                queue_experiment(seed_name(name, seed), variant, [seed], setting)


def finished_names() -> set[str]:
    """The experiments, live or archived, that have a summary, and those queued or running in this clone (each
    one-seed run by its own name): what queuing again would repeat."""
    return ({revision["name"] for revision in experiment_revisions(merge=False) if summary_of(revision)}
            | {revision.get("name") for revision in live_experiments(pending=True)})


def final_runs(epochs: int | None = None) -> dict[str, dict]:
    """{experiment name: revision} of the newest finished run of each final experiment (the four final-<variant>
    and REFERENCE, at the epoch cap `epochs` if given; one-seed runs merged)."""
    wanted = {final_name(variant, epochs) for variant in [*VARIANTS, "reference"]}
    found: dict[str, dict] = {}
    for revision in experiment_revisions():
        name, timestamp = revision.get("name"), (revision.get("data") or {}).get("timestamp") or ""
        if name in wanted and summary_of(revision) and (name not in found or
                                                      timestamp > (found[name]["data"].get("timestamp") or "")):
            found[name] = revision
    return found


def summaries(runs: dict[str, dict]) -> dict[str, dict]:
    """{experiment name: results/metrics.json} of final_runs' experiments, with "machines": the CPU of each run."""
    return {name: {**summary_of(revision), "machines": machines(revision)} for name, revision in runs.items()}


def _cap_binds(best_epoch: int | None, cap: int, patience: int | None) -> bool | None:
    """Whether the cap stopped a training that early stopping would have let go on (None: cannot say)."""
    if best_epoch is None:
        return None
    return best_epoch > cap - patience if patience is not None else None


def convergence(runs: dict[str, dict]) -> pd.DataFrame:
    """One row per experiment and seed: the best epoch, the epochs run, whether early stopping ended the training,
    the precision it trained in, and whether the epoch cap bound (the best epoch within `train.patience` epochs
    of the cap: the training was still improving when the cap stopped it)."""
    rows = []
    for name, revision in sorted(runs.items()):
        train = revision["data"]["params"]["params.yaml"]["data"]["train"]
        metrics = revision["data"]["metrics"]
        for seed in train["seeds"]:
            run = (metrics.get(f"results/train/seed_{seed}/metrics.json") or {}).get("data") or {}
            rows.append({"experiment": name, "seed": seed, "cap": train["epochs"], "best_epoch": run.get("best_epoch"),
                         "epochs_run": run.get("epochs_run"), "stopped_early": run.get("stopped_early"),
                         "precision": run.get("precision"),
                         "cap_binds": _cap_binds(run.get("best_epoch"), train["epochs"], train.get("patience"))})
    return pd.DataFrame(rows)


def tables(by_name: dict[str, dict], epochs: int | None = None) -> dict[str, pd.DataFrame]:
    """{"final": the variants against the selected baseline; "vs-start": the same with the reference run as the
    baseline (when it has run)}, each a final_table."""
    names = {variant: final_name(variant, epochs) for variant in VARIANTS}
    by_variant = {variant: by_name[name] for variant, name in names.items() if name in by_name}
    out = {"final": final_table(by_variant)}
    if final_name("reference", epochs) in by_name:
        out["vs-start"] = final_table({**by_variant, "baseline": by_name[final_name("reference", epochs)]})
    return out


def final_table(by_variant: dict[str, dict]) -> pd.DataFrame:
    """One row per variant, test set and metric (COLUMNS), from each variant's summary over seeds."""
    rows = []
    base = by_variant.get("baseline")
    keys = [(test_set, metric, f"{test_set}/{metric}") for test_set, metrics in SET_METRICS.items() for metric in metrics]
    keys += [(test_set, metric, metric) for test_set, metrics in SEED_METRICS.items() for metric in metrics]
    for variant in [v for v in VARIANTS if v in by_variant]:
        summary = by_variant[variant]
        for test_set, metric, key in keys:
            mean, std, n = summary.get(f"{key}_mean"), summary.get(f"{key}_std"), summary["n_seeds"]
            p = None
            if base is not None and variant != "baseline" and mean is not None and base.get(f"{key}_mean") is not None:
                p = welch_p(mean, std, n, base[f"{key}_mean"], base[f"{key}_std"], base["n_seeds"])
            rows.append({"variant": variant, "seeds": n, "test_set": test_set, "metric": metric, "mean": mean,
                         "std": std, "p_vs_baseline": p})
    return pd.DataFrame(rows, columns=COLUMNS)


def markdown(table: pd.DataFrame) -> str:
    """Event and tagging F1 per test set, ours beside the paper's."""
    lines = ["| variant | seeds | test set | metric | this project (mean +- std) | p vs baseline | paper (20 runs) |",
             "|---|---|---|---|---|---|---|"]
    for row in table.to_dict("records"):
        ours = "n/a" if pd.isna(row["mean"]) else f"{row['mean']:.3f} +- {row['std']:.3f}"
        p = "" if pd.isna(row["p_vs_baseline"]) else f"{row['p_vs_baseline']:.3f}"
        paper = PAPER.get((row["variant"], row["test_set"], row["metric"]))
        lines.append(f"| {row['variant']} | {row['seeds']} | {row['test_set']} | {row['metric']} | {ours} | {p} | "
                     + (f"{paper[0]:.3f} +- {paper[1]:.3f}" if paper else "") + " |")
    return "\n".join(lines) + "\n"


# The columns of the compact table: (test set, metric, heading)
COMPACT = [("real_test", "event_f1_macro", "event F1, real-world test"),
           ("syn_test", "event_f1_macro", "event F1, synthetic test"),
           ("real_test", "tagging_f1_macro", "tagging F1, real-world test"),
           ("syn_test", "tagging_f1_macro", "tagging F1, synthetic test"),
           ("real_test", "psds1", "PSDS1, real-world test"),
           ("both", "domain_gap_accuracy_events", "domain gap, event frames")]


def compact_markdown(table: pd.DataFrame) -> str:
    """One row per variant, one column per COMPACT metric: mean +- std (p against the table's baseline)."""
    lines = ["| variant | seeds | " + " | ".join(heading for _, _, heading in COMPACT) + " |",
             "|---|---|" + "---|" * len(COMPACT)]
    cells = table.set_index(["variant", "test_set", "metric"])
    for variant in dict.fromkeys(table["variant"]):
        row = [variant, str(table.loc[table.variant == variant, "seeds"].iloc[0])]
        for test_set, metric, _ in COMPACT:
            key = (variant, test_set, metric)
            row.append(stat_cell(*cells.loc[key, ["mean", "std", "p_vs_baseline"]]) if key in cells.index else "n/a")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    queuing = commands.add_parser("queue")
    queuing.add_argument("--variant", choices=list(VARIANTS), action="append",
                         help="only this variant (repeatable; default: all four, or none with --reference)")
    queuing.add_argument("--reference", action="store_true",
                         help=f"also {REFERENCE}: the baseline at the search's starting values")
    queuing.add_argument("--epochs", type=int, help="another epoch cap for every experiment (names: -e<N>)")
    queuing.add_argument("--precision", choices=["float32", "bfloat16"],
                         help="train.precision for every run (default: params.yaml's, auto)")
    queuing.add_argument("--per-seed", action="store_true",
                         help="one experiment per seed (names: -s<seed>); collect merges them")
    collecting = commands.add_parser("collect")
    collecting.add_argument("--epochs", type=int, help="collect the runs queued with this --epochs")
    collecting.add_argument("--out", type=Path, help=f"default {OUT} (with --epochs N: final-eN.csv beside it)")
    args = parser.parse_args()
    if args.command == "queue":
        queue(args.variant or ([] if args.reference else list(VARIANTS)), args.reference, args.epochs,
              args.per_seed, args.precision)
        return
    out = args.out or (OUT.with_name(f"final-e{args.epochs}.csv") if args.epochs else OUT)
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = final_runs(args.epochs)
    if not runs:
        raise SystemExit("study.final: no finished final experiment" + (f" at --epochs {args.epochs}" if args.epochs
                                                                          else ""))
    found = summaries(runs)
    convergence_table = convergence(runs)
    convergence_table.to_csv(out.with_name(f"{out.stem}-convergence.csv"), index=False)
    print(convergence_table.groupby("experiment").agg(
        seeds=("seed", "size"), cap_binds=("cap_binds", lambda binds: binds.eq(True).sum()),
        best_epoch_median=("best_epoch", "median")).to_string())
    for name, summary in sorted(found.items()):
        ran_on = ", ".join(f"{cpu} ({count} runs)" for cpu, count in Counter(summary["machines"]).items())
        print(f"{name}: {summary['n_seeds']} of {len(SEEDS)} seeds; trained on {ran_on}")
    for name, table in tables(found, args.epochs).items():
        path = out if name == "final" else out.with_name(f"{out.stem}-{name}.csv")
        table.to_csv(path, index=False, float_format="%.4f")
        print(markdown(table))
        print(compact_markdown(table))
        print(f"-> {path}")


if __name__ == "__main__":
    main()
