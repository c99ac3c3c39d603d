"""Scoring of one trained model on the evaluation sets, with the paper's settings.

For each set: the ATP branch's frame and clip probabilities, post-processed with the settings stored in the
checkpoint (tags at 0.5, gated frames, median windows from training labels), are scored against the set's
events.tsv with sed_eval (event-based: t_collar 0.2 s, 20 % of length; segment-based: 1 s), audio tagging F1,
and PSDS scenarios 1 and 2 from the frame scores p_t,c * P_c (sed_scores_eval).

Sets, with the paper's names: real_test (DCASE 2018 test column), syn_test (DCASE 2019 synthetic column) and
real_validation (used for model selection; reported, not tuned on).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ifdsed.config import EvalParams
from ifdsed.inference.settings import DetectorSettings
from ifdsed.features.store import FeatureSet
from ifdsed.inference.postprocess import detect_events
from ifdsed.evaluation.metrics import event_based, psds, sed_scores_from_probs, segment_based, tagging_f1
from ifdsed.io.tables import read_clips, read_events
from ifdsed.training.loop import Normalizer, predict
from models.sed_model import SEDModel


@dataclass(frozen=True)
class EvalSet:
    key: str          # prefix of the metric names
    store_name: str   # set in the feature store
    folder: Path      # clip set folder (events.tsv, clips.tsv)
    title: str        # for tables and plots


EVAL_SETS = (
    EvalSet("real_test", "realworld_test", Path("data/realworld/test"), "real-world test (DCASE 2018 test)"),
    EvalSet("syn_test", "synthetic_test", Path("data/synthetic/test"), "synthetic test (DCASE 2019 syn)"),
    EvalSet("real_validation", "realworld_validation", Path("data/realworld/validation"), "real-world validation"),
)


@dataclass
class SetResult:
    metrics: dict            # flat, without the set prefix
    predictions: pd.DataFrame
    frame_probs: np.ndarray  # [N, T, C]
    curves: dict             # PSD-ROC curves per scenario


def score_set(model: SEDModel, features: FeatureSet, folder: Path, settings: DetectorSettings,
              evaluation: EvalParams, device: torch.device) -> SetResult:
    """Predict, post-process and score one set."""
    classes = list(settings.classes)
    filenames = list(features.index["filename"])
    frame_probs, clip_probs = predict(model, features.features, Normalizer(settings.mean, settings.std), device)
    predictions = detect_events(frame_probs, clip_probs, filenames, classes, settings.frame_hop,
                                settings.median_windows, settings.frame_threshold, settings.tag_threshold)
    truth = read_events(folder / "events.tsv")
    durations = read_clips(folder / "clips.tsv")[["filename", "duration"]]
    metrics = event_based(truth, predictions, classes, filenames=filenames, t_collar=evaluation.t_collar,
                          percentage_of_length=evaluation.percentage_of_length)
    metrics.update(segment_based(truth, predictions, classes, filenames=filenames, durations=durations,
                                 time_resolution=evaluation.segment_resolution))
    metrics.update(tagging_f1(np.asarray(features.tags), clip_probs > settings.tag_threshold, classes))
    # PSDS scores: frame probabilities softly gated by the clip probabilities, p_t,c * P_c (ATP frame outputs
    # alone saturate in untagged clips; the hard post-processing gates them by the tags in the same way)
    gated = frame_probs * clip_probs[:, None, :]                                          # [N, T, C]
    psds_metrics, curves = psds(sed_scores_from_probs(gated, filenames, settings.frame_hop, classes),
                                truth, durations, classes)
    metrics.update(psds_metrics)
    return SetResult(metrics, predictions, frame_probs, curves)


@torch.no_grad()
def frame_embeddings(model: SEDModel, features: np.ndarray, normalize: Normalizer, device: torch.device,
                     batch_size: int = 64) -> np.ndarray:
    """Encoder outputs x_t of a set: [N, T, emb_dim] float32."""
    model.eval()
    chunks = [model.encoder(normalize(features[start:start + batch_size]).to(device)).float().cpu().numpy()
              for start in range(0, len(features), batch_size)]
    return np.concatenate(chunks)


def domain_gap(synthetic: np.ndarray, real: np.ndarray, seed: int, frames_per_domain: int = 20000,
               steps: int = 200) -> dict:
    """How well a linear classifier tells synthetic from real-world frame embeddings [N, T, E].

    Clips are split in halves (train/test) so no clip is in both; equal numbers of frames are drawn per domain;
    a logistic regression on standardised embeddings is fitted with L-BFGS. Returns the balanced test accuracy
    (0.5: the domains are indistinguishable to a linear probe; 1.0: fully separable)."""
    rng = np.random.default_rng(seed)

    def split(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = rng.permutation(len(embeddings))
        halves = order[: len(order) // 2], order[len(order) // 2:]
        out = []
        for half in halves:
            frames = embeddings[np.sort(half)].reshape(-1, embeddings.shape[-1])         # [n * T, E]
            pick = rng.choice(len(frames), size=min(frames_per_domain // 2, len(frames)), replace=False)
            out.append(frames[np.sort(pick)])
        return out[0], out[1]

    (syn_train, syn_test), (real_train, real_test) = split(synthetic), split(real)
    x_train = np.concatenate([syn_train, real_train])
    y_train = np.r_[np.zeros(len(syn_train)), np.ones(len(real_train))]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    x = torch.from_numpy((x_train - mean) / std).float()                                  # [n, E]
    y = torch.from_numpy(y_train).float()                                                 # [n]
    weights = torch.zeros(x.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ weights + bias, y)
        loss = loss + 1e-3 * weights.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        def accuracy(frames: np.ndarray, label: int) -> float:
            logits = torch.from_numpy((frames - mean) / std).float() @ weights + bias
            return float(((logits > 0).float() == label).float().mean())
        balanced = 0.5 * (accuracy(syn_test, 0) + accuracy(real_test, 1))
    return {"domain_gap_accuracy": balanced}
