"""The domain-gap probe: how well a linear classifier tells synthetic from real-world frame embeddings."""
from __future__ import annotations

import numpy as np
import torch


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
