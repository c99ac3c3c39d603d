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


def test_at_the_sets_own_ratio_an_epoch_is_one_pass_over_each_set(store):
    """The toy store's sets (24 weak, and synthetic) drawn at their own ratio: every synthetic clip once an epoch."""
    real, synthetic = load_feature_set(store, "realworld_weak"), load_feature_set(store, "synthetic_train")
    n_real, n_synthetic = len(real.tags), len(synthetic.tags)
    per_step_real = 2
    per_step_synthetic = per_step_real * n_synthetic // n_real
    assert per_step_synthetic * n_real == per_step_real * n_synthetic, "the toy store's sizes must divide"
    batch = per_step_real + per_step_synthetic
    batches = MixedBatches(real, synthetic, Normalizer(np.zeros(MELS), np.ones(MELS)), batch,
                           per_step_synthetic / batch, seed=3)
    assert batches.synthetic_passes == 1.0
    indices = torch.cat([b["clip_index"][b["is_synthetic"]] for b in batches.epoch(0)])
    assert sorted(indices.tolist()) == list(range(n_synthetic))
    assert "the weak set 1.00 times, the synthetic set 1.00 times" in batches.describe()
