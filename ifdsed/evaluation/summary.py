"""Mean and standard deviation over seeds, and the paper's tables across DVC experiments.

`summarize_seeds` turns the per-seed metrics of one experiment into flat keys `<metric>_mean`, `<metric>_std`
(sample standard deviation, ddof 1) and `n_seeds`, the form `dvc exp show` displays. `paper_tables` takes one
such summary per variant and builds Table 1 (event-based macro F1) and Table 2 (audio tagging macro F1) on the
two test sets, mean +- std, with Welch's t-test p-value of each variant against the baseline (computed from the
means, standard deviations and seed counts: scipy.stats.ttest_ind_from_stats with equal_var=False).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

SUMMARY_METRICS = ("event_f1_macro", "event_f1_micro", "event_error_rate", "segment_f1_macro", "segment_f1_micro",
                   "tagging_f1_macro", "psds1", "psds2")
SUMMARY_SETS = ("real_test", "syn_test", "real_validation")
VARIANTS = ("baseline", "IFD", "SEDB", "SEDB&IFD")
TABLES = {  # table -> (title, metric)
    "table1": ("Event-based macro F1", "event_f1_macro"),
    "table2": ("Audio tagging macro F1", "tagging_f1_macro"),
}
COLUMNS = {"real_test": "real-world test (DCASE 2018 column)", "syn_test": "synthetic test (DCASE 2019 syn column)"}


def summarize_seeds(per_seed: list[dict]) -> dict:
    """Per-seed metric dicts -> {"<set>/<metric>_mean": ..., "_std": ..., "n_seeds": n, "variant": ...}."""
    keys = [f"{name}/{metric}" for name in SUMMARY_SETS for metric in SUMMARY_METRICS] + ["domain_gap_accuracy", "domain_gap_accuracy_events"]
    summary: dict = {"variant": per_seed[0]["variant"], "n_seeds": len(per_seed)}
    for key in keys:
        values = np.array([np.nan if run.get(key) is None else float(run[key]) for run in per_seed])
        values = values[np.isfinite(values)]
        summary[f"{key}_mean"] = float(values.mean()) if len(values) else None
        summary[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else (0.0 if len(values) else None)
    return summary


def welch_p(mean: float, std: float, n: int, base_mean: float, base_std: float, base_n: int) -> float | None:
    """Two-sided Welch's t-test p-value from summary statistics (None when undefined)."""
    if min(n, base_n) < 2 or (std == 0 and base_std == 0):
        return None
    result = stats.ttest_ind_from_stats(mean, std, n, base_mean, base_std, base_n, equal_var=False)
    return None if math.isnan(result.pvalue) else float(result.pvalue)


def paper_tables(summaries: dict[str, dict]) -> dict[str, pd.DataFrame]:
    """{variant: summary} -> {table name: DataFrame with one row per variant present}."""
    tables = {}
    base = summaries.get("baseline")
    for table, (_, metric) in TABLES.items():
        rows = []
        for variant in [v for v in VARIANTS if v in summaries]:
            summary, row = summaries[variant], {"model": variant, "n_seeds": summaries[variant]["n_seeds"]}
            for key in COLUMNS:
                mean, std = summary.get(f"{key}/{metric}_mean"), summary.get(f"{key}/{metric}_std")
                row[f"{key}_mean"], row[f"{key}_std"] = mean, std
                row[f"{key}_p"] = None
                if base is not None and variant != "baseline" and mean is not None:
                    row[f"{key}_p"] = welch_p(mean, std, summary["n_seeds"], base[f"{key}/{metric}_mean"],
                                              base[f"{key}/{metric}_std"], base["n_seeds"])
            rows.append(row)
        tables[table] = pd.DataFrame(rows)
    return tables


def to_markdown(table: pd.DataFrame, title: str) -> str:
    """A Markdown table: mean +- std per column, and the p-value against the baseline."""
    lines = [f"**{title}** (mean +- std over seeds; p: Welch's t-test against the baseline)", "",
             "| model | seeds | " + " | ".join(COLUMNS.values()) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for row in table.to_dict("records"):
        cells = []
        for key in COLUMNS:
            if pd.isna(row[f"{key}_mean"]):
                cells.append("n/a")
                continue
            cell = f"{row[f'{key}_mean']:.3f} +- {row[f'{key}_std']:.3f}"
            if not pd.isna(row[f"{key}_p"]):
                cell += f" (p = {row[f'{key}_p']:.3f})"
            cells.append(cell)
        lines.append(f"| {row['model']} | {row['n_seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
