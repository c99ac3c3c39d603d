"""ifdsed.features.normalize: the one normaliser, the same numbers from a float16 store slice or a tensor."""
import numpy as np
import torch

from ifdsed.features.normalize import STD_FLOOR, Normalizer


def test_standardises_per_band_from_numpy_float16_or_a_tensor():
    rng = np.random.default_rng(0)
    features = (rng.normal(size=(3, 20, 8)) * 4 - 2).astype(np.float16)                 # [B, T, n_mels]
    mean, std = rng.normal(size=8).astype(np.float32), rng.uniform(0.5, 2, size=8).astype(np.float32)
    normalize = Normalizer(mean, std)
    from_store = normalize(features)
    expected = (features.astype(np.float32) - mean) / std
    assert from_store.dtype == torch.float32 and from_store.shape == (3, 20, 8)
    assert np.array_equal(from_store.numpy(), expected)                                   # bit for bit
    assert torch.equal(normalize(torch.from_numpy(features.astype(np.float32))), from_store)


def test_a_band_without_spread_is_not_blown_up():
    normalize = Normalizer(np.zeros(2, np.float32), np.array([0.0, 1.0], np.float32))
    out = normalize(np.ones((1, 1, 2), np.float32))
    assert out[0, 0, 0] == 1 / STD_FLOOR and out[0, 0, 1] == 1.0
