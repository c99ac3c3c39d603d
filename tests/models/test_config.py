"""The model's hyper-parameters (ifdsed.models.config): round trip through a dict, and validation."""
import pytest

from ifdsed.models.config import ModelConfig


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


def test_the_oracle_arm_is_named_apart_from_the_variants():
    """ifd_labels "oracle" marks a run's name only where the IFD branch reads the labels; `variant` stays the
    paper's name (the checkpoint's config records ifd_labels either way)."""
    assert ModelConfig(ifd=True, ifd_labels="oracle").run_name == "IFD (oracle IFD labels)"
    assert ModelConfig(ifd=True, ifd_labels="oracle").variant == "IFD"
    assert ModelConfig(ifd=False, ifd_labels="oracle").run_name == "baseline"
    assert ModelConfig(ifd=True).run_name == "IFD"
    saved = ModelConfig(ifd=True, ifd_domains="cross", ifd_labels="oracle").to_dict()
    assert (saved["ifd_domains"], saved["ifd_labels"]) == ("cross", "oracle")
    assert ModelConfig.from_dict(saved).oracle_labels
    with pytest.raises(ValueError, match="ifd_domains"):
        ModelConfig(ifd_domains="real")
