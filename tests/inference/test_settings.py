"""ifdsed.inference.settings: what a checkpoint carries to detect on its own survives the round trip."""
import numpy as np
import pytest

from ifdsed.config import parse_params
from ifdsed.features.logmel import LogMelConfig
from ifdsed.inference.settings import detector_extra, detector_settings
from ifdsed.models.checkpoint import CheckpointError


def test_detector_settings_round_trip_through_plain_values():
    params = parse_params({"postprocess": {"tag_threshold": 0.4, "frame_threshold": 0.6}})
    features = LogMelConfig.from_params(params.features, params.data.clip_duration)
    mean, std = np.linspace(-8, -2, features.n_mels), np.linspace(1, 3, features.n_mels)
    windows = np.arange(1, 2 * len(params.classes), 2)
    extra = detector_extra(params.classes, params.postprocess, features, mean, std, windows)
    settings = detector_settings({"detector": extra})
    assert settings.classes == params.classes and settings.features == features
    assert settings.tag_threshold == 0.4 and settings.frame_threshold == 0.6
    assert np.allclose(settings.mean, mean) and settings.mean.dtype == np.float32
    assert settings.median_windows.tolist() == windows.tolist() and settings.frame_hop == features.frame_hop


def test_a_checkpoint_without_settings_is_refused_with_what_to_do():
    with pytest.raises(CheckpointError, match="retrain it with `dvc repro`"):
        detector_settings({})
