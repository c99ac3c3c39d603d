"""The whole SED model (ifdsed.models.sed_model): output shapes of every variant, the encoder's frames and receptive
field, the losses of weak and synthetic clips, a short training run (any device)."""
from __future__ import annotations

import itertools

import pytest
import torch

from ifdsed.models.config import ModelConfig
from ifdsed.models.ifd import ifd_loss, pseudo_strong_labels
from ifdsed.models.sed_model import SEDModel
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


# ------------------------------------------------------------------- model.ifd_domains and model.ifd_labels
def ifd_batch(seed=0):
    """8 clips, half synthetic, with identical tag sets across the domains (so every kind of pair exists)."""
    batch = make_batch(n_clips=8, n_frames=12, seed=seed)
    batch["clip_tags"][1::2] = batch["clip_tags"][0]
    batch["frame_labels"] = batch["frame_labels"].clone()
    batch["frame_labels"][:4] = (torch.rand(4, 12, 10, generator=torch.Generator().manual_seed(seed)) < 0.5
                                 ).float().to(DEVICE) * batch["clip_tags"][:4, None, :]
    return batch


@pytest.mark.parametrize("pairing", ["triplet", "mean"])
def test_the_default_ifd_loss_is_the_pseudo_label_all_pairs_loss(pairing):
    """ifd_domains "all" and ifd_labels "pseudo" are the defaults, and they compute the IFD loss as before the two
    options existed: pseudo strong labels for the weak clips, every pair of the sampling rule."""
    assert (ModelConfig().ifd_domains, ModelConfig().ifd_labels) == ("all", "pseudo")
    torch.manual_seed(0)
    config = ModelConfig(ifd=True, sedb=True, ifd_pairing=pairing, ifd_theta=0.2)
    model = SEDModel(config).to(DEVICE)
    batch = ifd_batch()
    outputs = model(batch["features"])
    losses = model.losses(outputs, batch)
    pseudo = pseudo_strong_labels(outputs["frame_probs"], batch["clip_tags"], config.ifd_theta)
    labels = torch.where(batch["is_synthetic"][:, None, None], batch["frame_labels"], pseudo)
    expected, stats = ifd_loss(outputs["ifd_embeddings"], labels, batch["clip_tags"], margin=config.ifd_margin,
                               pairing=pairing, is_synthetic=batch["is_synthetic"])
    assert torch.equal(losses["ifd"], expected) and losses["ifd_n_pos_rr"] + losses["ifd_n_pos_ss"] > 0
    assert all(torch.equal(losses[f"ifd_{key}"], value) for key, value in stats.items())


def test_cross_domains_reach_the_ifd_loss():
    torch.manual_seed(0)
    every = SEDModel(ModelConfig(ifd=True, ifd_theta=0.2)).to(DEVICE)
    cross = SEDModel(ModelConfig(ifd=True, ifd_theta=0.2, ifd_domains="cross")).to(DEVICE)
    cross.load_state_dict(every.state_dict())
    batch = ifd_batch()
    first, second = every.losses(every(batch["features"]), batch), cross.losses(cross(batch["features"]), batch)
    assert first["ifd_n_pos_rs"] > 0 and first["ifd_n_pos_rr"] + first["ifd_n_pos_ss"] > 0
    assert second["ifd_n_pos"] == second["ifd_n_pos_rs"] == first["ifd_n_pos_rs"]
    assert second["ifd_n_pos_rr"] == second["ifd_n_pos_ss"] == second["ifd_n_neg_rr"] == second["ifd_n_neg_ss"] == 0
    assert torch.equal(first["ifd_norm"], second["ifd_norm"]) and torch.equal(first["atp"], second["atp"])


def test_oracle_labels_feed_the_ifd_loss_only():
    """With ifd_labels "oracle" the weak clips' IFD labels are the batch's oracle_frame_labels; ATP and SEDB are
    the pseudo-label model's, whatever the oracle labels hold; without them the loss refuses to run."""
    torch.manual_seed(0)
    pseudo = SEDModel(ModelConfig(ifd=True, sedb=True)).to(DEVICE)
    oracle = SEDModel(ModelConfig(ifd=True, sedb=True, ifd_labels="oracle")).to(DEVICE)
    oracle.load_state_dict(pseudo.state_dict())
    assert oracle.config.run_name == "SEDB&IFD (oracle IFD labels)" and pseudo.config.run_name == "SEDB&IFD"
    batch = ifd_batch()
    hidden = (torch.rand(8, 12, 10, generator=torch.Generator().manual_seed(1)) < 0.5).float().to(DEVICE)
    hidden = hidden * batch["clip_tags"][:, None, :] * ~batch["is_synthetic"][:, None, None]   # weak rows only
    batch["oracle_frame_labels"] = hidden
    outputs = oracle(batch["features"])
    losses = oracle.losses(outputs, batch)
    labels = torch.where(batch["is_synthetic"][:, None, None], batch["frame_labels"], hidden)
    expected, _ = ifd_loss(outputs["ifd_embeddings"], labels, batch["clip_tags"], is_synthetic=batch["is_synthetic"])
    assert torch.equal(losses["ifd"], expected)
    reference = pseudo.losses(pseudo(batch["features"]), batch)
    assert torch.equal(losses["atp"], reference["atp"]) and torch.equal(losses["sedb"], reference["sedb"])
    assert not torch.equal(losses["ifd"], reference["ifd"])
    with pytest.raises(ValueError, match="oracle_frame_labels"):
        oracle.losses(outputs, {key: value for key, value in batch.items() if key != "oracle_frame_labels"})
