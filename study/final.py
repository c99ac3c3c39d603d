"""The IFD study's final comparison: the four variants at their settings selected on validation
(study.sweep.select, from the committed docs/ifd-study/sweep.csv), SEEDS seeds each, the whole pipeline, both
test sets.

    python -m study.final queue               # one DVC experiment per variant: final-<variant>
                                              # (--variant V: only V; a variant whose search is not complete
                                              # cannot be queued)
    python -m study.final queue --reference   # final-baseline-start: the baseline at the search's starting
                                              # values, so that each variant can also be set against a baseline
                                              # that differs from it by its branches alone
    dvc queue start -j 1                      # run them (about 2 hours on the 2-core VM)
    python -m study.final collect             # -> docs/ifd-study/final.csv (against the selected baseline),
                                              # final-vs-start.csv (against the reference) and
                                              # final-sedb-ifd-vs-sedb.csv (SEDB&IFD against SEDB), as Markdown too
    python -m study.final queue --epochs 80   # the same experiments with another epoch cap: final-<variant>-e80
    python -m study.final collect --epochs 80 # -> docs/ifd-study/final-e80.csv, final-e80-vs-start.csv and
                                              # final-e80-sedb-ifd-vs-sedb.csv (live or archived experiments)
    python -m study.final queue --epochs 80 --per-seed   # one experiment per seed, final-<variant>-e80-s<seed>:
                                              # a session's end loses one seed at most; collect merges them
    python -m study.final collect --from-tables   # the statistics of final.csv and final-vs-start.csv made again
                                              # from their own means, stds and seed counts: for runs whose
                                              # experiments are gone (the 40-epoch comparison's); no paired test

final.csv has one row per variant, test set and metric, with the columns variant, seeds, test_set, metric, mean,
std (over the seeds), and, for every variant but the table's base (the baseline; final-sedb-ifd-vs-sedb.csv: SEDB),
its contrast with the base (`ifdsed.evaluation.statistics`; `with_statistics` says how each is computed):
p_vs_baseline (Welch's t-test from the summaries over seeds), diff (mean - base mean) with ci_low and ci_high (its
95 % Welch interval), p_paired (the paired t-test over the seeds both ran; empty where the per-seed values are
gone), p_holm (p_vs_baseline Holm-adjusted; the family is every contrast of one table, e.g. final.csv's 33: 3
variants x 11 measures) and mde (the smallest difference a two-sided t-test at 0.05 detects with 80 % power with
these seeds and the two arms' pooled std). Metrics per test set (real_test: the DCASE 2018
column's stand-in; syn_test: the DCASE 2019 synthetic column's): event_f1_macro, tagging_f1_macro, psds1; the
validation set's event_f1_macro (real_validation: the measure the search selected on, over all the seeds); over both
test sets (test_set "both"): domain_gap_accuracy and domain_gap_accuracy_events; on the weak training set
(test_set "weak_train", hidden timestamps): pseudo_label_precision and pseudo_label_recall at the best epoch.
The paper's own figures (`PAPER`, its Tables 1 and 2) are printed beside the event and tagging F1.
final-vs-start.csv has the same columns, with REFERENCE's run in the baseline's rows and every contrast against it.
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from ifdsed import paths
from ifdsed.evaluation.experiments import experiment_revisions, live_experiments, machines, result, summary_of
from ifdsed.evaluation.statistics import holm, mde, paired_p, welch
from ifdsed.evaluation.summary import stat_cell
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
SUMMARY = ["variant", "seeds", "test_set", "metric", "mean", "std"]      # each arm over its seeds
STATISTICS = ["diff", "ci_low", "ci_high", "p_paired", "p_holm", "mde"]  # each contrast with the table's base
COLUMNS = [*SUMMARY, "p_vs_baseline", *STATISTICS]
# Every (test set, metric) of a table and its key in a summary (<key>_mean) and in a seed's metrics
KEYS = ([(test_set, metric, f"{test_set}/{metric}") for test_set, metrics in SET_METRICS.items() for metric in metrics]
        + [(test_set, metric, metric) for test_set, metrics in SEED_METRICS.items() for metric in metrics])


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
    """{experiment name: results/summary.json} of final_runs' experiments, with "machines": the CPU of each run."""
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
        for seed in train["seeds"]:
            run = result(revision, paths.train_logs(seed) / "metrics.json") or {}
            rows.append({"experiment": name, "seed": seed, "cap": train["epochs"], "best_epoch": run.get("best_epoch"),
                         "epochs_run": run.get("epochs_run"), "stopped_early": run.get("stopped_early"),
                         "precision": run.get("precision"),
                         "cap_binds": _cap_binds(run.get("best_epoch"), train["epochs"], train.get("patience"))})
    return pd.DataFrame(rows)


IFD_ON_SEDB = ("SEDB", "SEDB&IFD")   # IFD added to SEDB: SEDB&IFD against SEDB
BASES = {"final": "baseline", "vs-start": "baseline", "sedb-ifd-vs-sedb": "SEDB"}   # table -> its base variant


def table_arms(found: set[str], epochs: int | None = None) -> dict[str, dict[str, str]]:
    """{table: {variant: experiment}} of every table the experiments `found` make: "final", the variants against
    the selected baseline; "vs-start", the same with REFERENCE in the baseline's place (when it has run);
    "sedb-ifd-vs-sedb", SEDB&IFD against SEDB (when both have run)."""
    names = {variant: final_name(variant, epochs) for variant in VARIANTS if final_name(variant, epochs) in found}
    arms = {"final": names}
    if final_name("reference", epochs) in found:
        arms["vs-start"] = {**names, "baseline": final_name("reference", epochs)}
    if set(IFD_ON_SEDB) <= set(names):
        arms["sedb-ifd-vs-sedb"] = {variant: names[variant] for variant in IFD_ON_SEDB}
    return arms


def tables(by_name: dict[str, dict], epochs: int | None = None,
           seeds_by_name: dict[str, dict[int, dict]] | None = None) -> dict[str, pd.DataFrame]:
    """{table: final_table} for each of table_arms, from {experiment: summary} and, where given, {experiment:
    seed_metrics} (for the paired test)."""
    return {table: final_table({variant: by_name[name] for variant, name in arms.items()},
                               None if seeds_by_name is None else
                               {variant: seeds_by_name[name] for variant, name in arms.items()}, BASES[table])
            for table, arms in table_arms(set(by_name), epochs).items()}


def seed_metrics(revision: dict) -> dict[int, dict]:
    """{seed: what the summarize stage reads of that seed, its evaluate and diagnose metrics} of a finished
    experiment (live, archived or merged); a seed without them is left out."""
    seeds = revision["data"]["params"]["params.yaml"]["data"]["train"]["seeds"]

    def read(path: Path) -> dict:
        return result(revision, path) or {}
    found = {seed: {**read(paths.diagnostics(seed) / "metrics.json"), **read(paths.eval_metrics(seed))}
             for seed in seeds}
    return {seed: values for seed, values in found.items() if values}


def seed_table(seeds: dict[str, dict[int, dict]]) -> pd.DataFrame:
    """{variant: seed_metrics} -> one row per variant, test set and metric (index), one column per seed, NaN
    where a seed has no figure."""
    records = [(variant, test_set, metric, seed, run.get(key)) for variant, runs in seeds.items()
               for seed, run in runs.items() for test_set, metric, key in KEYS]
    long = pd.DataFrame(records, columns=["variant", "test_set", "metric", "seed", "value"]).astype({"value": float})
    return long.set_index(["variant", "test_set", "metric", "seed"])["value"].unstack("seed")


def final_table(by_variant: dict[str, dict], seeds: dict[str, dict[int, dict]] | None = None,
                base: str = "baseline") -> pd.DataFrame:
    """One row per variant, test set and metric (COLUMNS), from each variant's summary over seeds, every variant
    set against `base` (with_statistics); `seeds`: {variant: seed_metrics}, for the paired test."""
    rows = [{"variant": variant, "seeds": summary["n_seeds"], "test_set": test_set, "metric": metric,
             "mean": summary.get(f"{key}_mean"), "std": summary.get(f"{key}_std")}
            for variant in VARIANTS if (summary := by_variant.get(variant)) is not None
            for test_set, metric, key in KEYS]
    return with_statistics(pd.DataFrame(rows, columns=SUMMARY), None if seeds is None else seed_table(seeds), base)


def with_statistics(table: pd.DataFrame, values: pd.DataFrame | None = None, base: str = "baseline") -> pd.DataFrame:
    """`table` (the SUMMARY columns, p_vs_baseline optional) with COLUMNS: every row of another variant set against
    the `base` row of its test set and metric (`ifdsed.evaluation.statistics`):

    - p_vs_baseline: Welch's p; a p the table has already is kept (a stored table's p came from the unrounded
      summaries, which its 4-decimal means and stds no longer are);
    - diff, ci_low, ci_high: mean - base mean and its 95 % Welch interval;
    - p_paired: the paired t-test over the seeds both ran, from `values` (seed_table: index variant, test_set,
      metric; one column per seed); NaN without them;
    - p_holm: p_vs_baseline Holm-adjusted over the family of every contrast in `table` (all its rows but the
      base's: 3 variants x 11 measures = 33 in final.csv, 11 in final-sedb-ifd-vs-sedb.csv);
    - mde: the difference a two-sided t-test at 0.05 detects with 80 % power, from the two arms' pooled std and
      seed counts.

    The base's rows, and rows whose mean or base mean is missing, have none of them."""
    key = ["test_set", "metric"]
    arms = table.reset_index(drop=True)
    both = arms.join(arms.loc[arms.variant == base, [*key, "mean", "std", "seeds"]].set_index(key), on=key,
                     rsuffix="_base")
    contrast = ((both.variant != base) & both["mean"].notna() & both["mean_base"].notna()).to_numpy()
    test = welch(both["mean"], both["std"], both["seeds"], both["mean_base"], both["std_base"], both["seeds_base"])
    stored = arms.get("p_vs_baseline", pd.Series(np.nan, index=arms.index)).astype(float).to_numpy()
    p = np.where(contrast, np.where(np.isnan(stored), test.p, stored), np.nan)
    out = arms[SUMMARY].assign(p_vs_baseline=p, diff=test.diff, ci_low=test.low, ci_high=test.high,
                               p_paired=_paired(both, values, base), p_holm=holm(p),
                               mde=mde(both["std"], both["seeds"], both["std_base"], both["seeds_base"]))
    out.loc[~contrast, STATISTICS] = np.nan
    return out[COLUMNS]


def _paired(both: pd.DataFrame, values: pd.DataFrame | None, base: str) -> np.ndarray:
    """paired_p of each row of `both` against the base's row of its test set and metric, from `values`."""
    if values is None:
        return np.full(len(both), np.nan)
    rows = pd.MultiIndex.from_frame(both[["variant", "test_set", "metric"]])
    base_rows = pd.MultiIndex.from_arrays([[base] * len(both), both["test_set"], both["metric"]])
    return paired_p(values.reindex(rows).to_numpy(), values.reindex(base_rows).to_numpy())


def table_path(out: Path, table: str) -> Path:
    """Where collect writes a table: `out` for "final", else <out's stem>-<table>.csv beside it."""
    return out if table == "final" else out.with_name(f"{out.stem}-{table}.csv")


def stored_tables(out: Path) -> dict[str, pd.DataFrame]:
    """The "final" and "vs-start" tables an earlier collect wrote at `out` (and beside it)."""
    if not out.exists():
        raise SystemExit(f"study.final: no {out} to recompute (--from-tables reads the tables collect wrote)")
    return {table: pd.read_csv(path) for table in ("final", "vs-start") if (path := table_path(out, table)).exists()}


def restate(stored: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Tables an earlier collect wrote, their statistics made again from their means, stds and seed counts alone
    (p_vs_baseline as stored; no per-seed values, so no p_paired), and SEDB&IFD against SEDB from the "final"
    table's rows (its p from those rounded figures): for runs whose experiments are gone."""
    arms = {table: rows[[*SUMMARY, "p_vs_baseline"]] for table, rows in stored.items()}
    final = stored["final"]
    if set(IFD_ON_SEDB) <= set(final.variant):
        arms["sedb-ifd-vs-sedb"] = final.loc[final.variant.isin(IFD_ON_SEDB), SUMMARY]
    return {table: with_statistics(rows, base=BASES[table]) for table, rows in arms.items()}


def _number(value, form: str = ".3f") -> str:
    return "" if pd.isna(value) else format(value, form)


def _p(value: float) -> str:
    """"= 0.123", or "< 0.001" for a p that rounds to zero."""
    return "< 0.001" if value < 0.0005 else f"= {value:.3f}"


def contrast_cell(row: dict) -> str:
    """"+0.049 [+0.018, +0.080] (Holm p = 0.123, paired p < 0.001; MDE 0.046)": diff, its 95 % interval, the
    Holm-adjusted and the paired p and the mde; "" where the row is no contrast."""
    if pd.isna(row["diff"]) or pd.isna(row["ci_low"]):
        return ""
    paired = "" if pd.isna(row["p_paired"]) else f", paired p {_p(row['p_paired'])}"
    return (f"{row['diff']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}] (Holm p {_p(row['p_holm'])}"
            f"{paired}; MDE {row['mde']:.3f})")


def markdown(table: pd.DataFrame) -> str:
    """Every row: mean +- std, Welch's p, the contrast with the table's base (contrast_cell) and the paper's
    figure for the event and tagging F1."""
    lines = ["| variant | seeds | test set | metric | this project (mean +- std) | p vs baseline | "
             "difference [95 % CI] (Holm p, paired p; MDE) | paper (20 runs) |", "|---|---|---|---|---|---|---|---|"]
    for row in table.to_dict("records"):
        ours = "n/a" if pd.isna(row["mean"]) else f"{row['mean']:.3f} +- {row['std']:.3f}"
        paper = PAPER.get((row["variant"], row["test_set"], row["metric"]))
        lines.append(f"| {row['variant']} | {row['seeds']} | {row['test_set']} | {row['metric']} | {ours} | "
                     f"{_number(row['p_vs_baseline'])} | {contrast_cell(row)} | "
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


def contrast_markdown(table: pd.DataFrame) -> str:
    """One row per variant set against the table's base, one column per COMPACT metric: the difference with its
    95 % interval, Holm's p, the paired p where there is one, and the mde (contrast_cell)."""
    lines = ["| variant | " + " | ".join(heading for _, _, heading in COMPACT) + " |", "|---|" + "---|" * len(COMPACT)]
    cells = table.set_index(["variant", "test_set", "metric"])
    for variant in dict.fromkeys(table.loc[table["diff"].notna(), "variant"]):
        row = [(contrast_cell(cells.loc[(variant, test_set, metric)]) if (variant, test_set, metric) in cells.index
                else "") or "n/a" for test_set, metric, _ in COMPACT]
        lines.append(f"| {variant} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def from_runs(epochs: int | None, out: Path) -> dict[str, pd.DataFrame]:
    """The tables of the final experiments at cap `epochs`, live or archived, with the paired test from each
    seed's metrics; writes the convergence table beside `out` and prints where each run trained."""
    runs = final_runs(epochs)
    if not runs:
        raise SystemExit("study.final: no finished final experiment" + (f" at --epochs {epochs}" if epochs else "")
                         + " (runs whose experiments are gone: --from-tables)")
    found = summaries(runs)
    convergence_table = convergence(runs)
    convergence_table.to_csv(out.with_name(f"{out.stem}-convergence.csv"), index=False)
    print(convergence_table.groupby("experiment").agg(
        seeds=("seed", "size"), cap_binds=("cap_binds", lambda binds: binds.eq(True).sum()),
        best_epoch_median=("best_epoch", "median")).to_string())
    for name, summary in sorted(found.items()):
        ran_on = ", ".join(f"{cpu} ({count} runs)" for cpu, count in Counter(summary["machines"]).items())
        print(f"{name}: {summary['n_seeds']} of {len(SEEDS)} seeds; trained on {ran_on}")
    return tables(found, epochs, {name: seed_metrics(revision) for name, revision in runs.items()})


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
    collecting.add_argument("--from-tables", action="store_true",
                            help="recompute the statistics of the tables collect wrote before, from their means, "
                                 "stds and seed counts (no paired test): for runs whose experiments are gone")
    args = parser.parse_args()
    if args.command == "queue":
        queue(args.variant or ([] if args.reference else list(VARIANTS)), args.reference, args.epochs,
              args.per_seed, args.precision)
        return
    out = args.out or (OUT.with_name(f"final-e{args.epochs}.csv") if args.epochs else OUT)
    out.parent.mkdir(parents=True, exist_ok=True)
    made = restate(stored_tables(out)) if args.from_tables else from_runs(args.epochs, out)
    for name, table in made.items():
        path = table_path(out, name)
        table.to_csv(path, index=False, float_format="%.4f")
        print(markdown(table))
        print(compact_markdown(table))
        print(contrast_markdown(table))
        print(f"-> {path}")


if __name__ == "__main__":
    main()
