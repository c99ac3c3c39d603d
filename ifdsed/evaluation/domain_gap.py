"""The domain-gap probe: how well a linear classifier tells synthetic from real-world frame embeddings.

`domain_gap_metrics` runs it on all frames of the two test sets (`domain_gap_accuracy`), on their event frames
only (`domain_gap_accuracy_events`: frames where the strong labels have any event) and on the frames of each
class (`domain_gap_accuracy_events/<class>`; None when a domain has fewer than `MIN_FRAMES` such frames in a
half). The IFD loss pairs event frames only, while most frames are background: the event-frame probes ask whether
synthetic and real frames of an event are harder to tell apart, which is what the paper argues IFD does.

`domain_gap_report` runs the three of them on each embedding it is given, under the key prefix `PREFIXES` names:
the encoder's output x (`domain_gap_accuracy`, ...: every variant) and, where the IFD branch exists, its projection
v, the embedding the IFD loss shapes (`domain_gap_v_accuracy`, `domain_gap_v_accuracy_events`,
`domain_gap_v_accuracy_events/<class>`). Both probes of a model see the same clips and frames (the same seed).
"""
from __future__ import annotations

import numpy as np
import torch


MIN_FRAMES = 50   # per domain and half: fewer frames of a kind and its probe is not run
# The key prefix of the probe on each embedding: x, the encoder's output; v, the IFD branch's projection.
PREFIXES = {"x": "domain_gap", "v": "domain_gap_v"}


def domain_gap_report(synthetic: dict[str, np.ndarray], real: dict[str, np.ndarray], synthetic_labels: np.ndarray,
                      real_labels: np.ndarray, classes: list[str], seed: int) -> dict:
    """`domain_gap_metrics` of each embedding in synthetic and real ({"x": [N, T, E]} and, with the IFD branch,
    {"v": [N, T, D]}; `ifdsed.inference.detector.Detector.feature_outputs_and_embeddings`), keyed by its `PREFIXES` prefix."""
    metrics = {}
    for name, prefix in PREFIXES.items():
        if name in synthetic:
            metrics.update(domain_gap_metrics(synthetic[name], real[name], synthetic_labels, real_labels, classes,
                                              seed, prefix))
    return metrics


def domain_gap_metrics(synthetic: np.ndarray, real: np.ndarray, synthetic_labels: np.ndarray,
                       real_labels: np.ndarray, classes: list[str], seed: int, prefix: str = "domain_gap") -> dict:
    """The probe on all frames, on event frames and per class: {<prefix>_accuracy, <prefix>_accuracy_events,
    <prefix>_accuracy_events/<class>}. synthetic, real: embeddings [N, T, E]; *_labels: strong frame labels
    [N, T, C] of the same clips."""
    key = f"{prefix}_accuracy"
    metrics = {key: domain_gap(synthetic, real, seed)["domain_gap_accuracy"]}
    metrics[f"{key}_events"] = domain_gap_on(synthetic, real, synthetic_labels.any(-1), real_labels.any(-1), seed)
    for c, name in enumerate(classes):
        metrics[f"{key}_events/{name}"] = domain_gap_on(
            synthetic, real, synthetic_labels[..., c] > 0, real_labels[..., c] > 0, seed)
    return metrics


def domain_gap_on(synthetic: np.ndarray, real: np.ndarray, synthetic_frames: np.ndarray, real_frames: np.ndarray,
                  seed: int) -> float | None:
    """The probe on the frames that the masks [N, T] select; None when too few are selected."""
    try:
        return domain_gap(synthetic, real, seed, synthetic_frames=synthetic_frames,
                          real_frames=real_frames)["domain_gap_accuracy"]
    except TooFewFrames:
        return None


class TooFewFrames(ValueError):
    """A domain has fewer than MIN_FRAMES selected frames in one half of its clips."""


def domain_gap(synthetic: np.ndarray, real: np.ndarray, seed: int, frames_per_domain: int = 20000,
               steps: int = 200, synthetic_frames: np.ndarray | None = None,
               real_frames: np.ndarray | None = None) -> dict:
    """How well a linear classifier tells synthetic from real-world frame embeddings [N, T, E].

    Clips are split in halves (train/test) so no clip is in both; equal numbers of frames are drawn per domain
    (from the frames the masks [N, T] select, when given); a logistic regression on standardised embeddings is
    fitted with L-BFGS. Returns the balanced test accuracy (0.5: the domains are indistinguishable to a linear
    probe; 1.0: fully separable). Raises TooFewFrames when masks leave a half with fewer than MIN_FRAMES."""
    rng = np.random.default_rng(seed)

    def split(embeddings: np.ndarray, selected: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        order = rng.permutation(len(embeddings))
        halves = order[: len(order) // 2], order[len(order) // 2:]
        out = []
        for half in halves:
            frames = embeddings[np.sort(half)].reshape(-1, embeddings.shape[-1])         # [n * T, E]
            if selected is not None:
                frames = frames[selected[np.sort(half)].reshape(-1)]                      # [n_selected, E]
                if len(frames) < MIN_FRAMES:
                    raise TooFewFrames(f"{len(frames)} selected frames in a half (fewer than {MIN_FRAMES})")
            pick = rng.choice(len(frames), size=min(frames_per_domain // 2, len(frames)), replace=False)
            out.append(frames[np.sort(pick)])
        return out[0], out[1]

    (syn_train, syn_test), (real_train, real_test) = split(synthetic, synthetic_frames), split(real, real_frames)
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
