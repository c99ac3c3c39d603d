"""The per-epoch model selection scores on the validation set, and the validation labels they are scored against.

`validation_scores` gives both scores of the current weights every epoch (both are logged); `train.selection`
names the one that picks best.pt and drives early stopping:

- ``event_f1`` (default, the paper's measure): the validation clips through the training's `Detector`, post-processed
  by `Detector.clip_events` exactly as evaluation post-processes a test set, scored by evaluation's own
  `ifdsed.evaluation.metrics.event_based` (sed_eval, `eval.t_collar` and `eval.percentage_of_length`) against the
  validation set's events.tsv: the event-based macro F1 that evaluation reports for real_validation.
- ``frame_f1``: a fast stand-in, the frame-level macro F1 of tag-gated decisions, from the feature store's frame
  labels (`frame_f1`).

Training reads the labels of the validation set only (`validation_events`): never a test set's, never the hidden
weak timestamps.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ifdsed.config import EvalParams
from ifdsed.errors import InputError
from ifdsed.evaluation.metrics import event_based
from ifdsed.features.store import FeatureSet
from ifdsed.inference.detector import Detector
from ifdsed.io.tables import read_clips, read_events

SELECTIONS = ("event_f1", "frame_f1")   # train.selection; also the keys of `validation_scores`


def validation_events(folder: Path, validation: FeatureSet) -> pd.DataFrame:
    """The validation set's strong labels, folder/events.tsv as evaluation reads it, after checking that
    folder/clips.tsv lists exactly the clips of the feature store's validation set (so that the events belong
    to the features scored)."""
    events, clips = folder / "events.tsv", folder / "clips.tsv"
    for path in (events, clips):
        if not path.is_file():
            raise InputError(f"{path}: not found; training scores every epoch against the validation set's "
                             f"events ({folder}, written by the realworld stage)")
    listed = set(read_clips(clips)["filename"])
    stored = set(validation.index["filename"])
    if listed != stored:
        raise InputError(f"{clips}: lists other clips than the feature store's {validation.name} set "
                         f"({len(listed - stored)} not in the store, {len(stored - listed)} missing, e.g. "
                         f"{sorted(listed ^ stored)[:3]}): rerun the features stage (dvc repro)")
    return read_events(events)


def validation_scores(detector: Detector, validation: FeatureSet, truth: pd.DataFrame,
                      evaluation: EvalParams) -> dict[str, float]:
    """Both selection scores of the detector's current weights on the validation set: {"event_f1", "frame_f1"}."""
    frame_probs, clip_probs = detector.feature_outputs(validation.features)
    filenames = list(validation.index["filename"])
    return {"event_f1": event_f1(detector, frame_probs, clip_probs, filenames, truth, evaluation),
            "frame_f1": frame_f1(frame_probs, clip_probs, validation.frame_labels)}


def event_f1(detector: Detector, frame_probs: np.ndarray, clip_probs: np.ndarray, filenames: list[str],
             truth: pd.DataFrame, evaluation: EvalParams) -> float:
    """Event-based macro F1 of the post-processed outputs (frame_probs [N, T, C], clip_probs [N, C]) against
    `truth`, as evaluation computes it (0 where sed_eval leaves it undefined: no class with any event)."""
    predictions = detector.clip_events(frame_probs, clip_probs, filenames)
    score = event_based(truth, predictions, detector.classes, filenames=filenames, t_collar=evaluation.t_collar,
                        percentage_of_length=evaluation.percentage_of_length)["event_f1_macro"]
    return 0.0 if score is None else float(score)


def frame_f1(frame_probs: np.ndarray, clip_probs: np.ndarray, frame_labels: np.ndarray,
             threshold: float = 0.5) -> float:
    """Frame-level macro F1 of tag-gated decisions (p_t,c > 0.5 where P_c > 0.5): a fast stand-in for event F1.
    frame_probs, frame_labels [N, T, C]; clip_probs [N, C]."""
    decisions = (frame_probs > threshold) & (clip_probs[:, None, :] > threshold)          # [N, T, C]
    truth = frame_labels.astype(bool)
    true_pos = (decisions & truth).sum(axis=(0, 1))                                        # [C]
    denominator = decisions.sum(axis=(0, 1)) + truth.sum(axis=(0, 1))                      # [C]
    f1 = np.where(denominator > 0, 2 * true_pos / np.maximum(denominator, 1), 0.0)
    return float(f1.mean())
