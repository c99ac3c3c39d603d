"""Mean and standard deviation over seeds, and the paper's tables across DVC experiments.

`summarize_seeds` turns the per-seed metrics of one experiment into flat keys `<metric>_mean`, `<metric>_std`
(sample standard deviation, ddof 1) and `n_seeds` (results/summary.json); `headline` picks the few of them that
`dvc exp show` lists (results/metrics.json). `paper_tables` takes one such summary per variant and builds
Table 1 (event-based macro F1) and Table 2 (audio tagging macro F1) on the two test sets, mean +- std, with
Welch's t-test p-value of each variant against the baseline (computed from the means, standard deviations and
seed counts: `ifdsed.evaluation.statistics.welch_p`).
`diagnostic_tables` does the same for the domain-gap probe (all frames, event frames, each class's event frames)
and the pseudo labels' quality.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ifdsed.evaluation.provenance import agreed
from ifdsed.evaluation.statistics import welch_p
from ifdsed.models.config import RUN_VARIANTS

SUMMARY_METRICS = ("event_f1_macro", "event_f1_micro", "event_error_rate", "segment_f1_macro", "segment_f1_micro",
                   "tagging_f1_macro", "psds1", "psds2")
SUMMARY_SETS = ("real_test", "syn_test", "real_validation")
# Per-seed figures outside the sets: the domain-gap probe (evaluate) on the encoder output x and, for models with
# the IFD branch, on its projection v (null otherwise), and the pseudo labels at the best epoch (diagnose; null
# without hidden timestamps).
SEED_METRICS = ("domain_gap_accuracy", "domain_gap_accuracy_events", "domain_gap_v_accuracy",
                "domain_gap_v_accuracy_events", "pseudo_label_share", "pseudo_label_precision", "pseudo_label_recall")
PER_CLASS_GAP = "domain_gap_accuracy_events/"   # + class name: the probe on one class's event frames
TABLES = {  # table -> (title, metric)
    "table1": ("Event-based macro F1", "event_f1_macro"),
    "table2": ("Audio tagging macro F1", "tagging_f1_macro"),
}
# The test sets of the paper's tables, by metric prefix, with the headers used when the runs' params cannot name
# them (`ifdsed.evaluation.set_titles` names them for what they are: simulated or imported, generated or not).
COLUMNS = {"real_test": "real-world test", "syn_test": "synthetic test"}


def summarize_seeds(per_seed: list[dict]) -> dict:
    """Per-seed metric dicts -> {"<set>/<metric>_mean": ..., "_std": ..., "n_seeds": n, "variant": ...}."""
    per_class_gap = sorted({key for run in per_seed for key in run if key.startswith(PER_CLASS_GAP)})
    sets = list(SUMMARY_SETS) + extra_sets(per_seed[0])
    keys = [f"{name}/{metric}" for name in sets for metric in SUMMARY_METRICS] + list(SEED_METRICS) + per_class_gap
    summary: dict = {"variant": per_seed[0]["variant"], "n_seeds": len(per_seed)}
    for key in keys:
        values = np.array([np.nan if run.get(key) is None else float(run[key]) for run in per_seed])
        values = values[np.isfinite(values)]
        summary[f"{key}_mean"] = float(values.mean()) if len(values) else None
        summary[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else (0.0 if len(values) else None)
    return summary


def summarize_run(per_seed: list[dict]) -> dict:
    """A run's results/summary.json from its seeds' metrics: summarize_seeds, and the provenance and cost keys
    the seeds share (`agreed`: "differs" where they do not)."""
    return {**summarize_seeds(per_seed), **agreed(per_seed)}


HEADLINE_SETS = ("real_test", "syn_test")                 # and any extra test sets
HEADLINE_METRICS = {"event_f1": "event_f1_macro", "tagging_f1": "tagging_f1_macro", "psds1": "psds1"}
HEADLINE_PROBES = {"probe_x": "domain_gap_accuracy", "probe_v": "domain_gap_v_accuracy"}   # v: IFD only


def headline(summary: dict) -> dict:
    """The figures `dvc exp show` lists (results/metrics.json), under short names so that a table of them fits a
    terminal: per test set `<set>/event_f1`, `<set>/tagging_f1` and `<set>/psds1` (macro F1s and PSDS1, the mean
    over seeds) with `<set>/<name>_std` (their std), the domain-gap probe on the encoder output x and on the IFD
    projection v (`probe_x`, `probe_v`, with `_std`), `seeds` and `variant`. Each is the summary's
    `<key>_mean` / `<key>_std` of the same figure; figures a run has not got (the probe on v without IFD) are
    left out rather than written as null."""
    sets = list(HEADLINE_SETS) + extra_sets({key.removesuffix("_mean"): value for key, value in summary.items()})
    names = {f"{name}/{short}": f"{name}/{metric}" for name in sets for short, metric in HEADLINE_METRICS.items()}
    names |= HEADLINE_PROBES
    figures = {}
    for short, key in names.items():
        figures[short], figures[f"{short}_std"] = summary.get(f"{key}_mean"), summary.get(f"{key}_std")
    return {"variant": summary["variant"], "seeds": summary["n_seeds"],
            **{name: value for name, value in figures.items() if value is not None}}


def extra_sets(metrics: dict) -> list[str]:
    """The extra test sets (params real.extra_test_sets) scored in a metrics dict, by the keys they left."""
    suffix = "/event_f1_macro"
    return sorted(key[:-len(suffix)] for key in metrics if key.endswith(suffix)
                  and key.count("/") == 1 and key[:-len(suffix)] not in SUMMARY_SETS)


def extra_table(summaries: dict[str, dict]) -> pd.DataFrame:
    """Event-based macro F1 and PSDS1 of every variant on the extra test sets, mean, std and Welch's p."""
    sets = sorted({name for summary in summaries.values()
                   for name in extra_sets({key.removesuffix("_mean"): value for key, value in summary.items()})})
    return _stat_rows(summaries, {f"{name} {label}": f"{name}/{metric}" for name in sets
                                  for label, metric in (("event F1", "event_f1_macro"), ("PSDS1", "psds1"))})


def paper_tables(summaries: dict[str, dict]) -> dict[str, pd.DataFrame]:
    """{variant: summary} -> {table name: DataFrame with one row per variant present: <set>_mean, <set>_std and
    <set>_p (Welch's p against the baseline) for each test set}."""
    return {table: _stat_rows(summaries, {key: f"{key}/{metric}" for key in COLUMNS})
            for table, (_, metric) in TABLES.items()}


def to_markdown(table: pd.DataFrame, title: str, headers: dict[str, str] | None = None) -> str:
    """A paper table in Markdown: mean +- std per test set (`headers`: their names; default COLUMNS), and the
    p-value against the baseline."""
    return columns_markdown(table, title, headers or COLUMNS)



DIAGNOSTICS = {  # column -> summary key (without _mean / _std)
    "domain gap, all frames": "domain_gap_accuracy",
    "domain gap, event frames": "domain_gap_accuracy_events",
    "domain gap on v, all frames": "domain_gap_v_accuracy",
    "domain gap on v, event frames": "domain_gap_v_accuracy_events",
    "pseudo labels: share of frames": "pseudo_label_share",
    "pseudo labels: precision": "pseudo_label_precision",
    "pseudo labels: recall": "pseudo_label_recall",
}


def _stat_rows(summaries: dict[str, dict], columns: dict[str, str]) -> pd.DataFrame:
    """One row per variant present: per column its mean, std and Welch's p against the baseline."""
    base, rows = summaries.get("baseline"), []
    for variant in [v for v in RUN_VARIANTS if v in summaries]:
        summary, row = summaries[variant], {"model": variant, "n_seeds": summaries[variant]["n_seeds"]}
        for column, key in columns.items():
            mean, std = summary.get(f"{key}_mean"), summary.get(f"{key}_std")
            row[f"{column}_mean"], row[f"{column}_std"], row[f"{column}_p"] = mean, std, None
            if base is not None and variant != "baseline" and mean is not None \
                    and base.get(f"{key}_mean") is not None:
                row[f"{column}_p"] = welch_p(mean, std, summary["n_seeds"], base[f"{key}_mean"], base[f"{key}_std"],
                                             base["n_seeds"])
        rows.append(row)
    return pd.DataFrame(rows)


def diagnostic_tables(summaries: dict[str, dict]) -> dict[str, pd.DataFrame]:
    """{variant: summary} -> {"diagnostics": domain gap and pseudo labels, "domain_gap_per_class": the probe on
    each class's event frames}, mean, std and Welch's p against the baseline per column."""
    classes = sorted({key[len(PER_CLASS_GAP):-len("_mean")] for summary in summaries.values() for key in summary
                      if key.startswith(PER_CLASS_GAP) and key.endswith("_mean")})
    return {"diagnostics": _stat_rows(summaries, DIAGNOSTICS),
            "domain_gap_per_class": _stat_rows(summaries, {name: PER_CLASS_GAP + name for name in classes})}


def columns_markdown(table: pd.DataFrame, title: str, headers: dict[str, str] | None = None) -> str:
    """A Markdown table of `_stat_rows` output: mean +- std (and p) per column, n/a where undefined; `headers`
    renames columns."""
    columns = [key[:-len("_mean")] for key in table.columns if key.endswith("_mean")]
    names = [(headers or {}).get(column, column) for column in columns]
    lines = [f"**{title}** (mean +- std over seeds; p: Welch's t-test against the baseline)", "",
             "| model | seeds | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(columns)]
    for row in table.to_dict("records"):
        cells = [stat_cell(row[f"{column}_mean"], row[f"{column}_std"], row[f"{column}_p"]) for column in columns]
        lines.append(f"| {row['model']} | {row['n_seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def stat_cell(mean, std, p=None) -> str:
    """One table cell: "mean +- std", with " (p = ...)" when there is a p-value; "n/a" without a mean."""
    if mean is None or pd.isna(mean):
        return "n/a"
    return f"{mean:.3f} +- {std:.3f}" + ("" if p is None or pd.isna(p) else f" (p = {p:.3f})")
