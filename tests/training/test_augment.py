"""The robust-training options (ifdsed.training.augment) on hand-built and tiny data: what each changes, what
it must never change (a weak clip's missing strong labels, 0/1 labels), reproducibility, and a tiny training."""
import json
import math

import numpy as np
import pytest
import torch

from ifdsed.training.augment import (FREQ_MASK_BANDS, GAIN_DB, TILT_DB, TIME_MASK_FRACTION, Augmentation, Augmenter,
                                     gain_and_tilt, mixup, spec_masks)
from ifdsed.training.loop import train_seed
from ifdsed.paths import RunPaths
from tests.helpers import make_batch, toy_validation, training_params

CPU = torch.device("cpu")
STD = np.full(64, 2.0, np.float32)


def batch():
    return make_batch(n_clips=8, n_frames=50, device=CPU)


def test_everything_off_returns_the_batch_untouched():
    original = batch()
    assert Augmenter(Augmentation(), STD, seed=1)(original, 0, 0) is original


def test_mixup_mixes_within_each_domain_with_union_labels():
    original = batch()
    for step in range(20):                          # half the batches are mixed: find one that is
        generator = torch.Generator().manual_seed(step)
        mixed = mixup(original, generator)
        if mixed is not original:
            break
    real = ~original["is_synthetic"]
    assert torch.equal(mixed["frame_labels"][real], torch.zeros_like(mixed["frame_labels"][real]))  # weak stay weak
    assert set(mixed["clip_tags"].unique().tolist()) <= {0.0, 1.0}
    assert (mixed["clip_tags"] >= original["clip_tags"]).all()
    assert (mixed["frame_labels"] >= original["frame_labels"]).all()
    # every mixed clip is a convex combination of itself and one clip of its own domain
    for i in range(8):
        candidates = torch.nonzero(original["is_synthetic"] == original["is_synthetic"][i]).flatten()
        found = False
        for j in candidates:
            difference = mixed["features"][i] - original["features"][j]
            base = original["features"][i] - original["features"][j]
            if torch.allclose(base, torch.zeros_like(base)):
                found = found or torch.allclose(difference, torch.zeros_like(difference), atol=1e-6)
                continue
            lam = (difference * base).sum() / (base * base).sum()
            found = found or torch.allclose(difference, lam * base, atol=1e-5)
        assert found, i


def test_spec_masks_stay_within_their_sizes():
    keep = spec_masks(torch.Size((16, 250, 64)), torch.Generator().manual_seed(0))
    masked_frames = (~keep).all(-1).sum(-1)                 # [B] frames masked across all bands
    masked_bands = (~keep).all(1).sum(-1)                   # [B] bands masked across all frames
    assert masked_frames.max() <= 2 * round(TIME_MASK_FRACTION * 250)
    assert masked_bands.max() <= 2 * FREQ_MASK_BANDS and (~keep).any()


def test_gain_and_tilt_are_bounded_log_power_offsets():
    std = torch.full((64,), 2.0)
    offset = gain_and_tilt(32, std, torch.Generator().manual_seed(0))                 # [B, 1, F]
    level_db = offset * std / math.log(10.0) * 10.0
    assert offset.shape == (32, 1, 64) and level_db.abs().max() <= GAIN_DB + TILT_DB / 2 + 1e-4
    assert level_db.std() > 0.5                                                       # it does vary


def test_the_draws_depend_on_seed_epoch_and_step_only():
    augment = Augmenter(Augmentation(True, True, True), STD, seed=3)
    first, again, other = augment(batch(), 2, 5), augment(batch(), 2, 5), augment(batch(), 2, 6)
    assert torch.equal(first["features"], again["features"])
    assert not torch.equal(first["features"], other["features"])


def test_a_tiny_training_with_every_option_learns_and_repeats_itself(store, tmp_path):
    params = training_params(epochs=3, channels=(4, 4, 4), compile=False, precision="float32", mixup=True,
                             spec_augment=True, gain_filter=True)
    metrics = []
    for run in ("a", "b"):
        train_seed(params, 1, store, tmp_path / run, validation_folder=toy_validation(store))
        metrics.append(json.loads((RunPaths(tmp_path / run).live / "metrics.json").read_text()))
    assert metrics[0] == metrics[1]
    losses = [float(line.split("\t")[-1]) for line in
              (RunPaths(tmp_path / "a").live / "plots/metrics/train/total.tsv").read_text().splitlines()[1:]]
    assert losses[-1] < losses[0]
