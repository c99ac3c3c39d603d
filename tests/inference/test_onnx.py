"""The exported detector (ifdsed.inference.onnx_detector): ONNX Runtime against the checkpoint on real recordings
(tests/helpers FIXTURES; generated audio where they are absent), and the settings in its metadata. The commands
`ifdsed export` and `ifdsed predict` with the .onnx file: tests/cli/test_export.py."""
import numpy as np
import pytest
import soundfile as sf
import torch

from ifdsed.inference.detector import Detector
from ifdsed.inference.onnx_detector import OnnxDetector
from tests.helpers import FIXTURES, noisy_tones

RECORDINGS = FIXTURES / "real_audio" / "speech_commands"


def windows_of_real_audio() -> np.ndarray:
    """10 s windows [W, 160000] of the real 16 kHz recordings (generated noisy tones when the fixtures are absent)."""
    if RECORDINGS.is_dir():
        signals = [sf.read(path, dtype="float32")[0] for path in sorted(RECORDINGS.glob("*.wav"))]
    else:
        signals = [noisy_tones(30.0, 16000, seed=seed).astype(np.float32) for seed in range(3)]
    return np.concatenate([np.stack([s[i:i + 160000] for i in range(0, len(s) - 160000 + 1, 160000)])
                           for s in signals])


def test_onnx_runtime_reproduces_the_checkpoint_on_real_recordings(exported):
    checkpoint, path = exported
    reference, runtime = Detector.from_checkpoint(checkpoint, "cpu"), OnnxDetector(path)
    windows = windows_of_real_audio()
    frames, clips, log_mel = reference.audio_outputs(windows, keep_features=True)
    got_frames, got_clips, got_log_mel = runtime.audio_outputs(windows, keep_features=True)
    # the front end: the two STFTs differ in the last bits only (the store keeps float32: no rounding amplifies it)
    assert np.abs(got_log_mel - log_mel).max() < 1e-3
    # the model: on the same log-mel, ONNX Runtime gives torch's probabilities
    same_input = reference.model_outputs(torch.from_numpy(got_log_mel))
    assert np.abs(same_input[0] - got_frames).max() < 1e-5 and np.abs(same_input[1] - got_clips).max() < 1e-5
    # end to end, the bound: frame and clip probabilities to 1e-4, every frame of every window
    assert np.abs(got_clips - clips).max() < 1e-4
    assert np.abs(got_frames - frames).max() < 1e-4


def test_the_settings_travel_in_the_metadata(exported):
    checkpoint, path = exported
    expected, got = Detector.from_checkpoint(checkpoint, "cpu").settings, OnnxDetector(path).settings
    assert got.classes == expected.classes and got.features == expected.features
    np.testing.assert_allclose(got.mean, expected.mean)
    assert (got.median_windows == expected.median_windows).all() and got.tag_threshold == expected.tag_threshold
    with pytest.raises(TypeError, match="audio only"):
        OnnxDetector(path).feature_outputs(np.zeros((1, 250, 64), np.float32))
