"""The statistics of a contrast between two arms of seeds, for claims bounded by intervals.

An *arm* is one experiment's runs over seeds (a variant, or the baseline it is set against) and a *contrast* the
difference variant - base of one metric's mean over seeds. An arm's metric is described by its mean, its sample
standard deviation (ddof 1) and its seed count n, and, where they survive, by its per-seed values. Every function
takes the variant first and the base second, accepts scalars or numpy arrays (or pandas Series) of one shape, one
entry per contrast, and returns that shape, NaN where a statistic is undefined: fewer than 2 seeds in an arm, or no
spread at all.

- `welch`: Welch's unequal-variance t-test from summary statistics, with the difference of means and its
  confidence interval (default 95 %): t = diff / se, se = sqrt(std^2/n + base_std^2/base_n), the
  Welch-Satterthwaite degrees of freedom; p two-sided. `welch_p` is its p for one contrast, None when undefined.
- `paired_p`: the paired t-test over the seeds both arms ran (scipy.stats.ttest_rel on the per-seed
  differences). Two runs of one seed share their data and initialisation, so when their scores go together the
  paired test is the stronger one; when they do not (seeds are not paired in practice on this data) it is not.
- `holm`: Holm's step-down adjustment of a family of p-values, which holds the family-wise error rate (the
  chance of one false rejection or more in the family) at alpha without assuming independence.
- `mde`: the minimal detectable effect, the smallest true difference that a two-sided two-sample t-test at
  `alpha` (Student's, equal variances: the arms' pooled std, n + base_n - 2 degrees of freedom) detects with
  probability `power`. Exact power from the noncentral t distribution (scipy.stats.nct), no normal
  approximation; for 8 seeds against 8 at a std of 0.03 it is 0.045.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import optimize, stats


class Welch(NamedTuple):
    """Welch's test of each contrast: diff = mean - base_mean, its confidence interval [low, high], the two-sided
    p-value and the degrees of freedom; arrays of the arguments' broadcast shape."""
    diff: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p: np.ndarray
    df: np.ndarray


def _floats(*arrays) -> list[np.ndarray]:
    """The arguments as float arrays of one broadcast shape (None -> NaN)."""
    return np.broadcast_arrays(*(np.asarray(array, dtype=float) for array in arrays))


def welch(mean, std, n, base_mean, base_std, base_n, level: float = 0.95) -> Welch:
    """Welch's t-test and `level` confidence interval of mean - base_mean from each arm's mean, sample std and seed
    count. Undefined (NaN; the difference itself stays) where an arm has fewer than 2 seeds or neither has spread."""
    mean, std, n, base_mean, base_std, base_n = _floats(mean, std, n, base_mean, base_std, base_n)
    var, base_var = std ** 2 / n, base_std ** 2 / base_n
    se = np.sqrt(var + base_var)
    defined = (np.minimum(n, base_n) >= 2) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(defined, (var + base_var) ** 2 / (var ** 2 / (n - 1) + base_var ** 2 / (base_n - 1)), np.nan)
        diff = mean - base_mean
        p = 2 * stats.t.sf(np.abs(diff / np.where(defined, se, np.nan)), df)
        half = stats.t.ppf(0.5 + level / 2, df) * se
    return Welch(diff, diff - half, diff + half, p, df)


def welch_p(mean: float, std: float, n: int, base_mean: float, base_std: float, base_n: int) -> float | None:
    """Two-sided Welch's t-test p-value of one contrast from summary statistics (`welch`); None when undefined."""
    p = float(welch(mean, std, n, base_mean, base_std, base_n).p)
    return None if np.isnan(p) else p


def paired_p(values, base_values) -> np.ndarray:
    """Two-sided paired t-test p-value over the seeds both arms ran.

    values, base_values: shape (..., seeds), the per-seed values of each contrast's variant and base aligned by
    seed along the last axis, NaN where an arm has no value for that seed (did not run it, or has no figure).
    Returns shape (...): NaN where fewer than 2 seeds have both values or their differences do not vary."""
    values, base_values = _floats(values, base_values)
    differences = values - base_values
    pairs = np.isfinite(differences).sum(axis=-1)
    with np.errstate(invalid="ignore"):
        spread = np.nanstd(np.where(pairs[..., None] > 0, differences, 0.0), axis=-1)
    defined = (pairs >= 2) & (spread > 0)
    p = np.full(defined.shape, np.nan)
    if defined.any():
        p[defined] = stats.ttest_rel(values[defined], base_values[defined], axis=-1, nan_policy="omit").pvalue
    return p


def holm(p) -> np.ndarray:
    """Holm-adjusted p-values of one family: the i-th smallest of its m p-values times (m - i + 1), made
    non-decreasing in that order, at most 1. p: shape (m,); NaN entries are no member of the family (not counted
    in m) and stay NaN. A contrast is rejected at family-wise level alpha where its adjusted p <= alpha."""
    p = np.asarray(p, dtype=float)
    members = np.flatnonzero(np.isfinite(p))
    order = members[np.argsort(p[members], kind="stable")]
    adjusted = np.full(p.shape, np.nan)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((len(order) - np.arange(len(order))) * p[order]))
    return adjusted


def _power(noncentrality: float, df: float, critical: float) -> float:
    """Power of a two-sided t-test with critical value `critical` when t follows nct(df, noncentrality); the
    lower tail P(t < -critical) as P(t > critical) at -noncentrality, which scipy's nct evaluates without NaN."""
    return stats.nct.sf(critical, df, noncentrality) + stats.nct.sf(critical, df, -noncentrality)


def _noncentrality(df: float, alpha: float, power: float) -> float:
    """The noncentrality at which a two-sided t-test on `df` degrees of freedom at `alpha` has `power`."""
    if not df >= 1:
        return np.nan
    critical = stats.t.ppf(1 - alpha / 2, df)
    high = critical + stats.norm.ppf(power)   # the normal approximation's answer, below the t-test's
    while _power(high, df, critical) < power:
        high *= 2
    return optimize.brentq(lambda delta: _power(delta, df, critical) - power, 0.0, high, xtol=1e-10)


def mde(std, n, base_std, base_n, alpha: float = 0.05, power: float = 0.8) -> np.ndarray:
    """The smallest true difference of means that a two-sided two-sample t-test at `alpha` detects with
    probability `power`, given each arm's sample std and seed count: noncentrality * pooled std *
    sqrt(1/n + 1/base_n). NaN where an arm has fewer than 2 seeds or a std is missing."""
    std, n, base_std, base_n = _floats(std, n, base_std, base_n)
    df = n + base_n - 2
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.sqrt(((n - 1) * std ** 2 + (base_n - 1) * base_std ** 2) / df)
        noncentrality = np.vectorize(_noncentrality, otypes=[float])(np.where(np.minimum(n, base_n) >= 2, df, np.nan),
                                                                     alpha, power)
    return noncentrality * pooled * np.sqrt(1 / n + 1 / base_n)
