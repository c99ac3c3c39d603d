"""The whole SED model (models.sed_model): output shapes of every variant, the encoder's frames and receptive field,
the losses of weak and synthetic clips, a short training run (any device)."""
from __future__ import annotations

import itertools

import pytest
import torch

from models.config import ModelConfig
from models.sed_model import SEDModel
from tests.helpers import DEVICE, make_batch, train_step

VARIANTS = list(itertools.product([False, True], [False, True]))  # (ifd, sedb)
LIN = dict(channels=(160, 160, 160))                               # Lin et al.'s PS encoder


@pytest.mark.parametrize("ifd,sedb", VARIANTS)
@pytest.mark.parametrize("sizes", [{}, LIN], ids=["default", "lin160"])
def test_output_shapes(ifd, sedb, sizes):
    torch.manual_seed(0)
    config = ModelConfig(ifd=ifd, sedb=sedb, **sizes)
    model = SEDModel(config).to(DEVICE)
    batch = make_batch(n_clips=3, n_frames=7)
    outputs = model(batch["features"])
    D, C = config.emb_dim, config.n_classes
    assert D == config.channels[-1]                                  # 64 mels -> 1 bin after three (1, 4) pools
    expected = {"embeddings": (3, 7, D), "frame_logits": (3, 7, C), "frame_probs": (3, 7, C),
                "attention": (3, 7, C), "clip_logits": (3, C), "clip_probs": (3, C)}
    if sedb:
        expected["sedb_logits"] = (3, 7, C)
    if ifd:
        expected["ifd_embeddings"] = (3, 7, config.ifd_out_dim)
    assert {key: tuple(value.shape) for key, value in outputs.items()} == expected
    losses = model.losses(outputs, batch)
    assert set(losses) >= {"atp", "total"} and ("sedb" in losses) == sedb and ("ifd" in losses) == ifd
    assert all(torch.isfinite(value).all() for value in losses.values())
    losses["total"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("n_frames", [1, 5, 13, 250])
def test_every_frame_survives(n_frames):
    model = SEDModel(ModelConfig()).eval()
    assert model(torch.randn(2, n_frames, 64))["embeddings"].shape == (2, n_frames, 64)


def test_no_time_pooling_receptive_field():
    """Changing frame t only changes embeddings within the encoder's time receptive field (2 + 2 + 1 frames)."""
    torch.manual_seed(0)
    model = SEDModel(ModelConfig()).eval()
    x = torch.randn(1, 30, 64)
    y = x.clone()
    y[0, 15] += 1.0
    changed = (model(x)["embeddings"] - model(y)["embeddings"]).abs().amax(-1)[0] > 0  # [T]
    assert torch.nonzero(changed).flatten().tolist() == list(range(10, 21))


def test_other_mel_counts_and_ifd_dim():
    config = ModelConfig(n_mels=40, n_classes=3, channels=(8, 8, 8), freq_pool=((1, 2),) * 3, ifd=True, ifd_dim=5)
    assert config.emb_dim == 8 * 5                                   # 40 -> 20 -> 10 -> 5 bins
    outputs = SEDModel(config)(torch.randn(2, 9, 40))
    assert outputs["embeddings"].shape == (2, 9, 40) and outputs["ifd_embeddings"].shape == (2, 9, 5)


def test_weak_clips_frame_labels_are_never_read():
    """Weak clips get pseudo strong labels for the IFD loss and no SEDB loss, whatever their frame_labels hold."""
    torch.manual_seed(0)
    model = SEDModel(ModelConfig(ifd=True, sedb=True)).to(DEVICE)
    batch = make_batch()
    outputs = model(batch["features"])
    garbage = dict(batch, frame_labels=batch["frame_labels"].clone())
    garbage["frame_labels"][~batch["is_synthetic"]] = 1.0
    first, second = model.losses(outputs, batch), model.losses(outputs, garbage)
    for key in first:
        torch.testing.assert_close(first[key], second[key])


@pytest.mark.parametrize("pairing", ["triplet", "mean"])
def test_a_few_adam_steps_lower_the_loss(pairing):
    """SEDB & IFD on tiny fixed data: the total loss goes down, and the IFD loss really takes part."""
    torch.manual_seed(0)
    config = ModelConfig(channels=(8, 16, 16), ifd=True, sedb=True, ifd_pairing=pairing)
    model = SEDModel(config).to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    n_classes = config.n_classes
    # 8 clips: two groups with identical tags (positives) and disjoint tags across groups (negatives).
    batch = make_batch(n_clips=8, n_frames=24)
    tags = torch.zeros(8, n_classes, device=DEVICE)
    tags[::2, 0] = 1
    tags[1::2, 1] = 1
    batch["clip_tags"] = tags
    batch["frame_labels"] = tags[:, None, :].expand(-1, 24, -1).clone()
    batch["frame_labels"][:, 12:] = 0
    batch["is_synthetic"] = torch.ones(8, dtype=torch.bool, device=DEVICE)
    first = model.losses(model(batch["features"]), batch)
    assert first["ifd_n_triplets"] > 0
    losses = [train_step(model, optimizer, batch) for _ in range(15)]
    assert losses[-1] < 0.8 * losses[0]
