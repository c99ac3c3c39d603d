"""Embedding-level attention pooling (ifdsed.models.attention): the ATP formulas by hand, the default temperature."""
from __future__ import annotations

import itertools

import torch

from ifdsed.models.attention import AttentionPooling
from ifdsed.models.config import ModelConfig


def test_atp_formulas_by_hand():
    """s = w.x + b, p = sigmoid(s), a = softmax_t(s / k_c), h = sum_t a x, P = sigmoid(v.h + d), per class,
    with disentangled dimensions k_c = (1, 2, 3): class c only sees x[:k_c]."""
    torch.manual_seed(0)
    config = ModelConfig(n_mels=64, n_classes=3, channels=(4, 4, 3), k_c=(1, 2, 3))
    head = AttentionPooling(config)
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.normal_()
    x = torch.randn(2, 4, 3)                                         # [B, T, D]
    out = head(x)
    for b, c in itertools.product(range(2), range(3)):
        k = c + 1
        xs = x[b, :, :k]                                             # [T, k]
        s = xs @ head.w[c, :k] + head.b[c]                           # [T]
        a = torch.exp(s / k) / torch.exp(s / k).sum()                # [T]
        h = (a[:, None] * xs).sum(0)                                 # [k]
        P = torch.sigmoid(h @ head.v[c, :k] + head.d[c])
        torch.testing.assert_close(out["frame_logits"][b, :, c], s)
        torch.testing.assert_close(out["frame_probs"][b, :, c], torch.sigmoid(s))
        torch.testing.assert_close(out["attention"][b, :, c], a)
        torch.testing.assert_close(out["clip_probs"][b, c], P)
    torch.testing.assert_close(out["clip_probs"], torch.sigmoid(out["clip_logits"]))


def test_atp_default_temperature_is_embedding_dim():
    config = ModelConfig()
    head = AttentionPooling(config)
    assert torch.all(head.k_c == config.emb_dim) and torch.all(head.dim_mask == 1)
