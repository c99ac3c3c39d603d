"""ifdsed.evaluation.statistics, each statistic against an independent computation: scipy's tests on the raw
values, a Holm adjustment worked by hand, and the power of the minimal detectable effect by simulation."""
import numpy as np
import pytest
from scipy import stats

from ifdsed.evaluation.statistics import holm, mde, paired_p, welch, welch_p

RNG = np.random.default_rng(29)
VARIANT = np.array([0.31, 0.27, 0.35, 0.29, 0.33, 0.30, 0.26, 0.36])
BASE = np.array([0.24, 0.28, 0.22, 0.27, 0.25, 0.21, 0.26])


def test_welch_from_summaries_matches_scipys_test_and_interval_on_the_values():
    result = welch(VARIANT.mean(), VARIANT.std(ddof=1), len(VARIANT), BASE.mean(), BASE.std(ddof=1), len(BASE))
    reference = stats.ttest_ind(VARIANT, BASE, equal_var=False)
    interval = reference.confidence_interval(0.95)
    assert result.diff == pytest.approx(VARIANT.mean() - BASE.mean())
    assert result.p == pytest.approx(reference.pvalue) and result.df == pytest.approx(reference.df)
    assert (result.low, result.high) == pytest.approx((interval.low, interval.high))
    narrow = welch(VARIANT.mean(), VARIANT.std(ddof=1), 8, BASE.mean(), BASE.std(ddof=1), 7, level=0.5)
    assert result.low < narrow.low < narrow.high < result.high


def test_welch_is_vectorised_and_undefined_without_seeds_or_spread():
    result = welch([0.5, 0.5, 0.5, 0.5], [0.1, 0.1, 0.0, None], [3, 1, 3, 3], 0.3, [0.1, 0.1, 0.0, 0.1], 3)
    # t = 0.2 / sqrt(0.1^2/3 + 0.1^2/3) = 2.449 on 4 degrees of freedom: two-sided p = 0.0704
    assert result.p[0] == pytest.approx(0.0704, abs=1e-4)
    assert np.isnan(result.p[1:]).all() and np.isnan(result.low[1:]).all()
    assert result.diff == pytest.approx([0.2] * 4)                       # the difference itself is always there
    assert welch_p(0.5, 0.1, 3, 0.3, 0.1, 3) == pytest.approx(0.0704, abs=1e-4)
    assert welch_p(0.5, 0.1, 1, 0.3, 0.1, 3) is None and welch_p(0.5, 0.0, 3, 0.3, 0.0, 3) is None


def test_the_paired_test_uses_the_seeds_both_arms_ran():
    base = np.append(BASE, np.nan)                       # the base did not run seed 8
    variant = VARIANT.copy()
    variant[2] = np.nan                                  # the variant has no figure for seed 3
    shared = np.isfinite(variant) & np.isfinite(base)
    expected = stats.ttest_rel(variant[shared], base[shared]).pvalue
    p = paired_p(np.stack([variant, VARIANT]), np.stack([base, VARIANT + 0.01]))
    assert p[0] == pytest.approx(expected)
    assert np.isnan(p[1])                                # every difference the same: no spread, undefined
    assert np.isnan(paired_p([0.3, np.nan], [np.nan, 0.2]))   # no seed in common
    assert paired_p(VARIANT, BASE[[0, 1, 2, 3, 4, 5, 6, 0]]).shape == ()


def test_holm_on_a_family_worked_by_hand():
    # sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> 0.06 (never below the last)
    adjusted = holm([0.01, 0.04, np.nan, 0.03, 0.005])
    assert adjusted[[0, 1, 3, 4]] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(adjusted[2])                          # no member of the family: not counted in m
    assert holm([0.4, 0.6]) == pytest.approx([0.8, 0.8]) and holm([0.9, 0.7]) == pytest.approx([1.0, 1.0])
    assert holm([]).shape == (0,)


def test_a_difference_of_the_mde_is_detected_with_80_percent_power():
    """By simulation: two arms of 8 seeds whose means differ by mde, Student's t-test at 0.05, 40,000 times."""
    difference = float(mde(1.0, 8, 1.0, 8))
    variant = RNG.normal(difference, 1.0, size=(40_000, 8))
    base = RNG.normal(0.0, 1.0, size=(40_000, 8))
    detected = stats.ttest_ind(variant, base, axis=1).pvalue < 0.05
    assert detected.mean() == pytest.approx(0.80, abs=0.01)       # standard error of the rate: 0.002


def test_the_mde_against_known_values():
    # many seeds: the normal approximation (z_0.975 + z_0.8) * std * sqrt(2 / n) becomes exact
    normal = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * 0.03 * np.sqrt(2 / 20_000)
    assert float(mde(0.03, 20_000, 0.03, 20_000)) == pytest.approx(normal, rel=1e-3)
    # 8 seeds against 8 at the study's std of about 0.03: about 0.045, above the normal approximation
    assert float(mde(0.03, 8, 0.03, 8)) == pytest.approx(0.045, abs=0.001)
    pooled = np.sqrt((7 * 0.02 ** 2 + 3 * 0.04 ** 2) / 10)            # unequal arms: the pooled std
    assert mde([0.02, 0.02], [8, 1], 0.04, 4) == pytest.approx([float(mde(pooled, 8, pooled, 4)), np.nan],
                                                               nan_ok=True)
