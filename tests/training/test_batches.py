"""Training batches that mix real weak clips and synthetic strong clips (ifdsed.training.batches), on the toy
feature store of tests/helpers.py."""
import numpy as np
import torch

from ifdsed.features.normalize import Normalizer
from ifdsed.features.store import load_feature_set
from ifdsed.training.batches import MixedBatches
from tests.helpers import FRAMES, MELS


def test_mixed_batches_hold_the_ratio_and_hide_weak_frame_labels(store):
    real, synthetic = load_feature_set(store, "realworld_weak"), load_feature_set(store, "synthetic_train")
    batches = MixedBatches(real, synthetic, Normalizer(np.zeros(MELS), np.ones(MELS)), 8, 0.25, seed=3)
    assert batches.steps == 4  # 24 weak clips, 6 per batch
    seen = []
    for batch in batches.epoch(0):
        assert batch["features"].shape == (8, FRAMES, MELS) and batch["features"].dtype == torch.float32
        assert batch["is_synthetic"].tolist() == [False] * 6 + [True] * 2
        assert batch["frame_labels"][:6].sum() == 0 and batch["frame_labels"][6:].sum() > 0
        seen.append(batch["features"][:6])
    # every weak clip once per epoch
    assert torch.unique(torch.cat(seen).flatten(1), dim=0).shape[0] == 24
    first = [b["features"] for b in batches.epoch(1)]
    again = [b["features"] for b in batches.epoch(1)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
