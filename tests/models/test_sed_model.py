"""Shapes, the ATP formulas, checkpoints and a short training run of the SED model (any device)."""
from __future__ import annotations

import itertools

import pytest
import torch

from models.checkpoint import load, save
from models.config import ModelConfig
from models.sed_model import SEDModel
from models.attention import AttentionPooling
from models.sedb import sedb_loss

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
VARIANTS = list(itertools.product([False, True], [False, True]))  # (ifd, sedb)
LIN = dict(channels=(160, 160, 160))                               # Lin et al.'s PS encoder


def make_batch(n_clips=6, n_frames=16, n_mels=64, n_classes=10, seed=0, device=DEVICE):
    """Random features, half synthetic clips with strong labels, half weak clips (zero frame labels)."""
    gen = torch.Generator().manual_seed(seed)
    tags = (torch.rand(n_clips, n_classes, generator=gen) < 0.3).float()
    frame_labels = (torch.rand(n_clips, n_frames, n_classes, generator=gen) < 0.5).float() * tags[:, None, :]
    is_synthetic = torch.arange(n_clips) < n_clips // 2
    frame_labels[~is_synthetic] = 0
    batch = {"features": torch.randn(n_clips, n_frames, n_mels, generator=gen), "clip_tags": tags,
             "frame_labels": frame_labels, "is_synthetic": is_synthetic}
    return {key: value.to(device) for key, value in batch.items()}


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


def test_sedb_loss_reads_synthetic_clips_only():
    torch.manual_seed(0)
    logits, labels = torch.randn(4, 5, 3, requires_grad=True), (torch.rand(4, 5, 3) > 0.5).float()
    is_synthetic = torch.tensor([True, False, True, False])
    garbage = labels.clone()
    garbage[~is_synthetic] = 1 - garbage[~is_synthetic]
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[is_synthetic], labels[is_synthetic])
    torch.testing.assert_close(sedb_loss(logits, labels, is_synthetic), expected)
    torch.testing.assert_close(sedb_loss(logits, garbage, is_synthetic), expected)
    none = sedb_loss(logits, labels, torch.zeros(4, dtype=torch.bool))
    none.backward()
    assert none.item() == 0.0 and torch.all(logits.grad == 0)


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


def test_config_round_trip_and_validation():
    config = ModelConfig(channels=[160, 160, 160], k_c=[10] * 10, ifd=True, ifd_pairing="mean")
    assert config.channels == (160, 160, 160) and config.k_c == (10,) * 10
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert isinstance(config.to_dict()["kernels"][0], list)
    assert config.variant == "IFD"
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({"chanels": [1, 2, 3]})
    with pytest.raises(ValueError, match="frequency only"):
        ModelConfig(freq_pool=((2, 4), (1, 4), (1, 4)))
    with pytest.raises(ValueError, match="k_c"):
        ModelConfig(k_c=65)
    with pytest.raises(ValueError, match="survive"):
        ModelConfig(n_mels=16)


def _train_step(model, optimizer, batch):
    optimizer.zero_grad()
    loss = model.losses(model(batch["features"]), batch)["total"]
    loss.backward()
    optimizer.step()
    return loss.item()


def test_checkpoint_round_trip_and_resume(tmp_path):
    torch.manual_seed(0)
    config = ModelConfig(channels=(8, 8, 8), ifd=True, sedb=True, k_c=(4,) * 10)
    model = SEDModel(config).to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = make_batch()
    _train_step(model, optimizer, batch)
    path = tmp_path / "nested" / "model.pt"
    save(path, model, optimizer, epoch=3, extra={"best_f1": 0.25, "classes": ["a", "b"]})
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]          # no temporary file left behind

    checkpoint = load(path, map_location=DEVICE)
    assert checkpoint.config == config and checkpoint.epoch == 3
    assert checkpoint.extra == {"best_f1": 0.25, "classes": ["a", "b"]}
    restored = checkpoint.model
    assert not restored.training
    model.eval()
    with torch.no_grad():
        for key, value in model(batch["features"]).items():
            torch.testing.assert_close(restored(batch["features"])[key], value, rtol=0, atol=0)

    # Resuming: one more step from the checkpoint equals one more step of the original run.
    model.train()
    restored.train()
    resumed_optimizer = torch.optim.Adam(restored.parameters(), lr=1e-3)
    resumed_optimizer.load_state_dict(checkpoint.optimizer_state)
    _train_step(model, optimizer, batch)
    _train_step(restored, resumed_optimizer, batch)
    for (name, a), b in zip(model.state_dict().items(), restored.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_checkpoint_without_optimizer(tmp_path):
    model = SEDModel(ModelConfig(channels=(4, 4, 4)))
    save(tmp_path / "m.pt", model)
    checkpoint = load(tmp_path / "m.pt")
    assert checkpoint.optimizer_state is None and checkpoint.epoch == 0 and checkpoint.extra == {}


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
    losses = [_train_step(model, optimizer, batch) for _ in range(15)]
    assert losses[-1] < 0.8 * losses[0]


def test_frequency_max_pool_equals_maxpool2d():
    from models.encoder import FrequencyMaxPool

    x = torch.randn(2, 3, 5, 66)  # 66 bins: the two left over are dropped, as MaxPool2d does
    assert torch.equal(FrequencyMaxPool(4)(x), torch.nn.MaxPool2d((1, 4))(x))
