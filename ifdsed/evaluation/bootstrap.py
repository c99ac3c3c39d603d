"""Confidence intervals of one trained model's scores on one set, beside the spread over seeds.

Resampling is sed_scores_eval's (`sed_scores_eval.base_modules.bootstrap`): `iterations` shuffles of the sorted
clip list, each by `numpy.random.RandomState(i)` (so the same clips always give the same intervals), split into
`folds` folds, every fold left out once: folds x iterations scores, each on (folds - 1) / folds of the clips.
The interval is its `confidence_interval`: the 5th and 95th percentiles (90 %).

- PSDS1: `sed_scores_eval.intersection_based.bootstrapped_psds` with scenario 1's settings.
- Event-based macro F1: the same resampling of sed_eval's own per-file counts (each file's Nref, Nsys and Ntp per
  class, `ifdsed.evaluation.metrics.event_based(per_file_counts=...)`), summed and turned into the macro F1 by
  sed_eval's own precision, recall and F-measure functions, so the interval is that of exactly the reported
  `event_f1_macro`. sed_scores_eval's own bootstrapped F-score works on scores, not on post-processed events,
  which is why this part is written here (a few lines around the library's resampling).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ifdsed.evaluation.metrics import PSDS_SCENARIOS, psds_ground_truth

CONFIDENCE = 0.9


def event_f1_macro(deltas: Mapping[str, np.ndarray]) -> tuple[float]:
    """sed_eval's event-based macro F1 from per-file counts {filename: [classes, (Nref, Nsys, Ntp)]}, as a
    1-tuple (the form sed_scores_eval's resampling expects); classes without reference and output are left out,
    as sed_eval's nanmean leaves them."""
    from sed_eval import metric

    totals = np.sum(list(deltas.values()), axis=0)                                  # [C, 3]
    per_class = []
    for n_ref, n_sys, n_tp in totals:
        precision = 0 if n_sys == 0 else metric.precision(Ntp=n_tp, Nsys=n_sys)       # empty output: zero score
        per_class.append(metric.f_measure(precision=precision, recall=metric.recall(Ntp=n_tp, Nref=n_ref)))
    return (float(np.nanmean(per_class)),)


def event_f1_interval(per_file_counts: Mapping[str, np.ndarray], folds: int = 5,
                      iterations: int = 20) -> tuple[float, float]:
    """(low, high) of the event-based macro F1 over the resampled clip sets."""
    from sed_scores_eval.base_modules.bootstrap import bootstrap_from_deltas, confidence_interval

    (scores,) = bootstrap_from_deltas(event_f1_macro, dict(per_file_counts), n_folds=folds, n_iterations=iterations)
    _, low, high = confidence_interval(list(scores), confidence=CONFIDENCE)
    return low, high


def psds1_interval(scores: Mapping[str, pd.DataFrame], truth: pd.DataFrame, durations: Mapping[str, float],
                   classes: list[str], folds: int = 5, iterations: int = 20) -> tuple[float | None, float | None]:
    """(low, high) of PSDS1 over the resampled clip sets; (None, None) where PSDS itself is undefined (fewer
    than two classes with reference events)."""
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules.bootstrap import confidence_interval

    files = sorted(scores)
    ground_truth = psds_ground_truth(truth, files, classes)
    present = sorted({event[2] for events in ground_truth.values() for event in events}, key=classes.index)
    if len(present) < 2:
        return None, None
    kept = {name: scores[name][["onset", "offset", *present]] for name in files}
    values = intersection_based.bootstrapped_psds(
        kept, ground_truth, {name: durations[name] for name in files}, n_folds=folds, n_iterations=iterations,
        **PSDS_SCENARIOS["psds1"])[0]
    _, low, high = confidence_interval(list(values), confidence=CONFIDENCE)
    return low, high
