"""The one detector (ifdsed.inference.detector): its settings come from the checkpoint, not from params.yaml;
and one inference path: a clip gives the same events, and the same outputs to float rounding, whether it comes
from its audio file (`ifdsed predict`'s path) or from the feature store (`pipeline.evaluate`'s path).

The features are the same bits either way (the audio path keeps its log-mel in the store's dtype, float32);
the model's outputs may differ in the last bits only because the two paths batch differently (evaluation 64
clips, prediction 8 windows), and oneDNN picks its convolution kernels by batch size."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from ifdsed.config import DCASE_CLASSES
from ifdsed.features.logmel import LogMelConfig
from ifdsed.features.store import build_store, load_feature_set, load_normalization
from ifdsed.inference.detector import Detector
from ifdsed.inference.files import predict_files
from ifdsed.inference.settings import DetectorSettings
from ifdsed.models.config import ModelConfig
from ifdsed.models.sed_model import SEDModel
from ifdsed.scenes.render import write_set_tables
from tests.helpers import check_result, default_features, make_checkpoint, predict


@pytest.fixture(scope="module")
def other_path(tmp_path_factory) -> Path:
    """Features that params.yaml does not have: 22.05 kHz, 20 ms hop, 4 s windows."""
    features = replace(default_features(), sample_rate=22050, hop=0.02, fmax=11025.0, clip_duration=4.0)
    return make_checkpoint(tmp_path_factory.mktemp("other") / "best.pt", features, seed=1)


def test_checkpoint_settings_are_used_not_params(audio_dir, other_path):
    detector = Detector.from_checkpoint(other_path, "cpu")
    assert detector.settings.features.sample_rate == 22050 and detector.settings.frame_hop == 0.02
    soundscape = audio_dir / "desed_soundscapes" / "7.wav"
    running_tap = audio_dir / "speech_commands" / "running_tap.wav"
    for path, result in zip((soundscape, running_tap), predict(detector, [soundscape, running_tap])):
        duration = sf.info(str(path)).duration
        check_result(result, detector, duration)                     # 20 ms frames, 4 s windows
        assert len(result.clip_probs) == math.ceil(duration / 4.0)


# ------------------------------------------------------------------------------ audio and stored features
PARITY_SR, CLIPS = 16000, 4
CONFIG = LogMelConfig(sample_rate=PARITY_SR, n_fft=1024, window=0.04, hop=0.04, n_mels=64, fmin=0.0, fmax=8000.0,
                      log_offset=1e-8, clip_duration=10.0)


@pytest.fixture(scope="module")
def clips_and_store(tmp_path_factory):
    """Four 10 s clips (noise bursts and tones, 16-bit wav) in a clip set, and the feature store built from it."""
    root = tmp_path_factory.mktemp("one_detector")
    set_dir = root / "set"
    (set_dir / "audio").mkdir(parents=True)
    rng = np.random.default_rng(0)
    t = np.arange(10 * PARITY_SR) / PARITY_SR
    names = []
    for clip in range(CLIPS):
        envelope = (np.sin(2 * np.pi * (0.2 + 0.1 * clip) * t) > 0.3).astype(float)
        audio = 0.05 * rng.standard_normal(len(t)) + 0.3 * envelope * np.sin(2 * np.pi * (300 + 200 * clip) * t)
        names.append(f"clip_{clip}.wav")
        sf.write(set_dir / "audio" / names[-1], audio.astype(np.float32), PARITY_SR, subtype="PCM_16")
    events = pd.DataFrame([(name, 1.0, 2.0, "Dog") for name in names],
                          columns=["filename", "onset", "offset", "event_label"])
    write_set_tables(set_dir, names, events, 10.0)
    build_store({"set": set_dir}, root / "store", CONFIG, DCASE_CLASSES, train_sets=("set",), root=root,
                workers=2, device="cpu")
    return set_dir, root / "store"


@pytest.fixture(scope="module")
def detector(clips_and_store):
    _, store = clips_and_store
    torch.manual_seed(0)
    model = SEDModel(ModelConfig(n_mels=64, n_classes=len(DCASE_CLASSES), channels=(8, 8, 8)))
    with torch.no_grad():
        model.atp.w.normal_()   # untrained ATP weights start at zero: every frame probability would be 0.5
    mean, std = load_normalization(store)
    settings = DetectorSettings(classes=DCASE_CLASSES, features=CONFIG, mean=mean, std=std, tag_threshold=0.5,
                                frame_threshold=0.5, median_windows=np.full(len(DCASE_CLASSES), 3))
    return Detector(model, settings, "cpu")


def test_audio_and_stored_features_give_the_same_outputs_and_events(clips_and_store, detector):
    set_dir, store = clips_and_store
    stored = load_feature_set(store, "set")
    names = list(stored.index["filename"])
    frame_probs, clip_probs = detector.feature_outputs(stored.features)                # evaluation's path
    evaluated = detector.clip_events(frame_probs, clip_probs, names)
    items = [(set_dir / "audio" / name, name) for name in names]
    predicted = list(predict_files(items, detector, workers=2, keep_features=True))     # prediction's path
    assert all(result.error is None for result in predicted)
    np.testing.assert_allclose(np.stack([r.frame_probs for r in predicted]), frame_probs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([r.clip_probs for r in predicted]), clip_probs, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(np.stack([r.log_mel for r in predicted]), stored.features.astype(np.float32))
    joined = pd.concat([r.events for r in predicted], ignore_index=True).sort_values(
        ["filename", "onset", "offset", "event_label"], kind="mergesort").reset_index(drop=True)
    assert len(evaluated) > 0
    pd.testing.assert_frame_equal(joined, evaluated)


def test_outputs_depend_on_the_batch_size_only_to_float_rounding(clips_and_store, detector):
    _, store = clips_and_store
    features = load_feature_set(store, "set").features
    (frames, clips), (frames_one, clips_one) = (detector.feature_outputs(features, batch_size=size)
                                                for size in (64, 1))
    np.testing.assert_allclose(frames, frames_one, rtol=0, atol=1e-6)
    np.testing.assert_allclose(clips, clips_one, rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------------------ precision
def test_float32_by_default_and_bfloat16_autocast_to_its_rounding(clips_and_store, detector, model_path):
    """The default is the float32 model as trained (evaluation, validation and prediction agree byte for byte);
    bfloat16 autocast (`predict --precision`) gives the same probabilities to bfloat16's rounding."""
    _, store = clips_and_store
    features = load_feature_set(store, "set").features
    assert detector.dtype == torch.float32
    frames, clips = detector.feature_outputs(features)
    with torch.inference_mode():                 # the model itself, no autocast anywhere
        plain = detector.model.eval()(detector.normalize(features))
    np.testing.assert_array_equal(frames, plain["frame_probs"].numpy())
    np.testing.assert_array_equal(clips, plain["clip_probs"].numpy())

    low = Detector(detector.model, detector.settings, "cpu", precision="bfloat16")
    assert low.dtype == torch.bfloat16
    low_frames, low_clips = low.feature_outputs(features)
    assert low_frames.dtype == low_clips.dtype == np.float32 and low_frames.shape == frames.shape
    assert not np.array_equal(low_frames, frames)            # it did run in bfloat16
    np.testing.assert_allclose(low_frames, frames, rtol=0, atol=2e-2)
    np.testing.assert_allclose(low_clips, clips, rtol=0, atol=2e-2)
    embeddings, low_embeddings = (d.feature_outputs_and_embeddings(features)[2]["x"] for d in (detector, low))
    assert low_embeddings.dtype == np.float32
    np.testing.assert_allclose(low_embeddings, embeddings, rtol=0, atol=0.05 * np.abs(embeddings).max())
    np.testing.assert_array_equal(detector.feature_outputs(features)[0], frames)   # float32 left unchanged

    assert Detector.from_checkpoint(model_path, "cpu").dtype == torch.float32
    assert Detector.from_checkpoint(model_path, "cpu", precision="bfloat16").dtype == torch.bfloat16
    assert Detector.from_checkpoint(model_path, "cpu", precision=torch.bfloat16).dtype == torch.bfloat16
