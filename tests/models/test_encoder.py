"""The shared feature encoder (ifdsed.models.encoder)."""
import torch


def test_frequency_max_pool_equals_maxpool2d():
    from ifdsed.models.encoder import FrequencyMaxPool

    x = torch.randn(2, 3, 5, 66)  # 66 bins: the two left over are dropped, as MaxPool2d does
    assert torch.equal(FrequencyMaxPool(4)(x), torch.nn.MaxPool2d((1, 4))(x))
