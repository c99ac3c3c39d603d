"""Scoring of one trained model on the evaluation sets, with the paper's settings.

For each set: the ATP branch's frame and clip probabilities, post-processed with the settings stored in the
checkpoint (tags at 0.5, gated frames, median windows from training labels), are scored against the set's
events.tsv with sed_eval (event-based: t_collar 0.2 s, 20 % of length; segment-based: 1 s), audio tagging F1,
and PSDS scenarios 1 and 2 from the frame scores p_t,c * P_c (sed_scores_eval); with eval.bootstrap_iterations,
90 % intervals of the event-based macro F1 (and with eval.bootstrap_psds of PSDS1) over resampled clips
(ifdsed/evaluation/bootstrap.py). `predict_set` runs the detector, `score_predictions` the scoring, which
needs no model, so the evaluate stage scores sets in other processes while the detector predicts the next one;
`score_set` does both in this process.

Sets, by metric prefix: real_test (standing in for the paper's "DCASE 2018" column), syn_test (for its "DCASE 2019
(syn)" column) and real_validation (used for model selection; reported, not tuned on); what each is called, which
params decide (generated or imported), comes from `ifdsed.evaluation.set_titles.set_title`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ifdsed import paths
from ifdsed.config import EvalParams
from ifdsed.evaluation.bootstrap import event_f1_interval, psds1_interval
from ifdsed.evaluation.metrics import event_based, psds, sed_scores_from_probs, segment_based, tagging_f1
from ifdsed.features.store import FeatureSet
from ifdsed.inference.detector import Detector
from ifdsed.io.tables import read_clips, read_events


@dataclass(frozen=True)
class EvalSet:
    key: str          # prefix of the metric names
    store_name: str   # set in the feature store
    folder: Path      # clip set folder (events.tsv, clips.tsv)
    imported_as: str | None = None   # its name in the import reports (`import_reports`) when imported


EVAL_SETS = (
    EvalSet("real_test", "realworld_test", paths.CLIP_SETS["realworld_test"], "test"),
    EvalSet("syn_test", "synthetic_test", paths.CLIP_SETS["synthetic_test"], "syn_test"),
    EvalSet("real_validation", "realworld_validation", paths.CLIP_SETS["realworld_validation"], "validation"),
)


@dataclass
class SetResult:
    metrics: dict            # flat, without the set prefix
    predictions: pd.DataFrame
    frame_probs: np.ndarray  # [N, T, C]
    curves: dict             # PSD-ROC curves per scenario


@dataclass
class SetPredictions:
    """One set's detector outputs and what scoring needs besides the set's folder: plain arrays and tables, so
    that a scoring process can take them (`score_predictions`) while the detector goes on with the next set."""
    filenames: list[str]
    frame_probs: np.ndarray      # [N, T, C] ATP frame probabilities
    clip_probs: np.ndarray       # [N, C]
    predictions: pd.DataFrame    # post-processed events (DESED columns)
    tags: np.ndarray             # [N, C] the clips' true tags
    classes: list[str]
    frame_hop: float             # s
    tag_threshold: float


def predict_set(detector: Detector, features: FeatureSet) -> SetPredictions:
    """Predict (through the one `Detector`) and post-process one set."""
    return set_predictions(detector, features, *detector.feature_outputs(features.features))


def predict_and_embed_set(detector: Detector, features: FeatureSet) -> tuple[SetPredictions, dict[str, np.ndarray]]:
    """`predict_set` and the set's frame embeddings ({"x"} and, with the IFD branch, {"v"}: what the domain-gap
    probes read) from one forward pass."""
    frame_probs, clip_probs, embeddings = detector.feature_outputs_and_embeddings(features.features)
    return set_predictions(detector, features, frame_probs, clip_probs), embeddings


def set_predictions(detector: Detector, features: FeatureSet, frame_probs: np.ndarray,
                    clip_probs: np.ndarray) -> SetPredictions:
    """A set's detector outputs (frame_probs [N, T, C], clip_probs [N, C]), post-processed, with what scoring
    needs."""
    settings = detector.settings
    filenames = list(features.index["filename"])
    return SetPredictions(filenames, frame_probs, clip_probs, detector.clip_events(frame_probs, clip_probs, filenames),
                          np.asarray(features.tags), list(settings.classes), settings.frame_hop,
                          settings.tag_threshold)


def score_predictions(predicted: SetPredictions, folder: Path, evaluation: EvalParams) -> SetResult:
    """Score one set's predictions against its events.tsv and clips.tsv (in `folder`) with the paper's settings."""
    classes, filenames = predicted.classes, predicted.filenames
    frame_probs, clip_probs, predictions = predicted.frame_probs, predicted.clip_probs, predicted.predictions
    truth = read_events(folder / "events.tsv")
    durations = read_clips(folder / "clips.tsv")[["filename", "duration"]]
    counts: dict = {}
    metrics = event_based(truth, predictions, classes, filenames=filenames, t_collar=evaluation.t_collar,
                          percentage_of_length=evaluation.percentage_of_length, per_file_counts=counts)
    metrics.update(segment_based(truth, predictions, classes, filenames=filenames, durations=durations,
                                 time_resolution=evaluation.segment_resolution))
    metrics.update(tagging_f1(predicted.tags, clip_probs > predicted.tag_threshold, classes))
    # PSDS scores: frame probabilities softly gated by the clip probabilities, p_t,c * P_c (ATP frame outputs
    # alone saturate in untagged clips; the hard post-processing gates them by the tags in the same way)
    gated = frame_probs * clip_probs[:, None, :]                                          # [N, T, C]
    scores = sed_scores_from_probs(gated, filenames, predicted.frame_hop, classes)
    psds_metrics, curves = psds(scores, truth, durations, classes)
    metrics.update(psds_metrics)
    if evaluation.bootstrap_iterations:   # 90 % intervals over resampled clips (ifdsed.evaluation.bootstrap)
        iterations = evaluation.bootstrap_iterations
        metrics["event_f1_macro_ci_low"], metrics["event_f1_macro_ci_high"] = event_f1_interval(
            counts, iterations=iterations)
        if evaluation.bootstrap_psds:   # every resample is a whole PSD-ROC: the slow part of evaluation
            metrics["psds1_ci_low"], metrics["psds1_ci_high"] = psds1_interval(
                scores, truth, dict(zip(durations["filename"], durations["duration"])), classes,
                iterations=iterations)
    return SetResult(metrics, predictions, frame_probs, curves)


def score_set(detector: Detector, features: FeatureSet, folder: Path, evaluation: EvalParams) -> SetResult:
    """Predict, post-process and score one set, in this process."""
    return score_predictions(predict_set(detector, features), folder, evaluation)


def evaluation_sets() -> tuple[EvalSet, ...]:
    """EVAL_SETS, then the extra test sets the extra_sets stage imported (metric prefix: the set's name)."""
    extra = tuple(EvalSet(store_name.removeprefix("extra_"), store_name, folder, store_name.removeprefix("extra_"))
                  for store_name, folder in paths.extra_clip_sets().items())
    return EVAL_SETS + extra


def import_reports() -> dict:
    """{set: its import report} of the imported sets (real DCASE data; an imported synthetic test set; the extra
    test sets, by name)."""
    from ifdsed.evaluation.provenance import read_import_report
    reports = dict(read_import_report(paths.IMPORT_REPORT) or {})            # weak, validation, test
    single = {"syn_test": paths.SYNTHETIC_TEST_IMPORT_REPORT,
              **{name.removeprefix("extra_"): folder / paths.IMPORT_REPORT.name
                 for name, folder in paths.extra_clip_sets().items()}}
    for name, path in single.items():
        report = read_import_report(path)
        if report is not None:
            reports[name] = report
    return reports
