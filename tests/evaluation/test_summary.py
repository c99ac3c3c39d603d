"""ifdsed.evaluation.summary: mean and std over seeds, and Welch's t-test of each variant against the baseline."""
import math

import pandas as pd
import pytest

from ifdsed.evaluation.summary import paper_tables, summarize_seeds, welch_p


def runs(variant: str, values: list[float]) -> list[dict]:
    return [{"variant": variant, "real_test/event_f1_macro": v, "syn_test/event_f1_macro": None} for v in values]


def test_mean_and_sample_std_over_seeds_skip_missing_values():
    summary = summarize_seeds(runs("IFD", [0.2, 0.3, 0.4]))
    assert summary["variant"] == "IFD" and summary["n_seeds"] == 3
    assert summary["real_test/event_f1_macro_mean"] == pytest.approx(0.3)
    assert summary["real_test/event_f1_macro_std"] == pytest.approx(0.1)          # ddof=1
    assert summary["syn_test/event_f1_macro_mean"] is None


def test_welch_p_matches_the_textbook_value_and_is_none_when_undefined():
    # t = (0.5 - 0.3) / sqrt(0.1^2/3 + 0.1^2/3) = 2.449, df = 4: two-sided p = 0.0704
    assert welch_p(0.5, 0.1, 3, 0.3, 0.1, 3) == pytest.approx(0.0704, abs=1e-4)
    assert welch_p(0.5, 0.1, 1, 0.3, 0.1, 3) is None and welch_p(0.5, 0.0, 3, 0.3, 0.0, 3) is None


def test_paper_tables_give_p_against_the_baseline_only():
    summaries = {"baseline": summarize_seeds(runs("baseline", [0.3, 0.32, 0.31])),
                 "SEDB": summarize_seeds(runs("SEDB", [0.4, 0.42, 0.41]))}
    table = paper_tables(summaries)["table1"]
    assert table["model"].tolist() == ["baseline", "SEDB"]
    assert pd.isna(table.loc[0, "real_test_p"]) and 0 < table.loc[1, "real_test_p"] < 0.01
    assert math.isclose(table.loc[1, "real_test_mean"], 0.41)
