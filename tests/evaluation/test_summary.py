"""ifdsed.evaluation.summary: mean and std over seeds, and Welch's t-test of each variant against the baseline."""
import math

import pandas as pd
import pytest

from ifdsed.evaluation.summary import (columns_markdown, diagnostic_tables, headline, paper_tables, summarize_run,
                                      summarize_seeds)


def runs(variant: str, values: list[float]) -> list[dict]:
    return [{"variant": variant, "real_test/event_f1_macro": v, "syn_test/event_f1_macro": None} for v in values]


def test_mean_and_sample_std_over_seeds_skip_missing_values():
    summary = summarize_seeds(runs("IFD", [0.2, 0.3, 0.4]))
    assert summary["variant"] == "IFD" and summary["n_seeds"] == 3
    assert summary["real_test/event_f1_macro_mean"] == pytest.approx(0.3)
    assert summary["real_test/event_f1_macro_std"] == pytest.approx(0.1)          # ddof=1
    assert summary["syn_test/event_f1_macro_mean"] is None


def test_paper_tables_give_p_against_the_baseline_only():
    summaries = {"baseline": summarize_seeds(runs("baseline", [0.3, 0.32, 0.31])),
                 "SEDB": summarize_seeds(runs("SEDB", [0.4, 0.42, 0.41]))}
    table = paper_tables(summaries)["table1"]
    assert table["model"].tolist() == ["baseline", "SEDB"]
    assert pd.isna(table.loc[0, "real_test_p"]) and 0 < table.loc[1, "real_test_p"] < 0.01
    assert math.isclose(table.loc[1, "real_test_mean"], 0.41)


def test_diagnostic_tables_carry_the_domain_gap_per_class_and_the_pseudo_label_quality():
    def seeds(variant, gap, dog):
        return [{"variant": variant, "domain_gap_accuracy": g, "domain_gap_accuracy_events": g - 0.1,
                 "domain_gap_accuracy_events/Dog": d, "domain_gap_accuracy_events/Cat": None,
                 "pseudo_label_precision": 0.6, "pseudo_label_recall": 0.5, "pseudo_label_share": 0.2}
                for g, d in zip(gap, dog)]
    summaries = {"baseline": summarize_seeds(seeds("baseline", [0.95, 0.96, 0.94], [0.9, 0.92, 0.91])),
                 "IFD": summarize_seeds(seeds("IFD", [0.85, 0.86, 0.84], [0.7, 0.72, 0.71]))}
    assert summaries["IFD"]["domain_gap_accuracy_events/Dog_mean"] == pytest.approx(0.71)
    tables = diagnostic_tables(summaries)
    overall, per_class = tables["diagnostics"], tables["domain_gap_per_class"]
    assert overall.loc[1, "domain gap, event frames_mean"] == pytest.approx(0.75)
    assert overall.loc[1, "domain gap, all frames_p"] < 0.01 and pd.isna(overall.loc[0, "domain gap, all frames_p"])
    assert per_class.loc[1, "Dog_mean"] == pytest.approx(0.71) and per_class.loc[1, "Cat_mean"] is None
    markdown = columns_markdown(per_class, "per class")
    assert "| IFD | 3 | n/a | 0.710 +- 0.010 (p = " in markdown


def test_the_probe_on_v_is_summarised_where_the_ifd_branch_exists_and_null_elsewhere():
    ifd = summarize_seeds([{"variant": "IFD", "domain_gap_v_accuracy": a, "domain_gap_v_accuracy_events": a - 0.1}
                           for a in (0.8, 0.9)])
    baseline = summarize_seeds([{"variant": "baseline", "domain_gap_accuracy": 0.9}] * 2)
    assert ifd["domain_gap_v_accuracy_mean"] == pytest.approx(0.85)
    assert ifd["domain_gap_v_accuracy_events_mean"] == pytest.approx(0.75)
    assert baseline["domain_gap_v_accuracy_mean"] is None


def test_the_headline_holds_the_test_sets_figures_and_the_probes_under_short_names():
    per_seed = [{"variant": "IFD", "real_test/event_f1_macro": f1, "syn_test/psds1": 0.2, "desed_public/psds1": 0.1,
                 "desed_public/event_f1_macro": 0.2, "real_validation/event_f1_macro": 0.3,
                 "domain_gap_accuracy": 0.9, "domain_gap_v_accuracy": None} for f1 in (0.1, 0.3)]
    shown = headline(summarize_run(per_seed))
    assert shown == {"variant": "IFD", "seeds": 2, "real_test/event_f1": pytest.approx(0.2),
                     "real_test/event_f1_std": pytest.approx(0.1414, abs=1e-4), "syn_test/psds1": 0.2,
                     "syn_test/psds1_std": 0.0, "desed_public/event_f1": 0.2, "desed_public/event_f1_std": 0.0,
                     "desed_public/psds1": 0.1, "desed_public/psds1_std": 0.0, "probe_x": 0.9, "probe_x_std": 0.0}
