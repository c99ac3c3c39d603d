"""Log-mel extraction, frame labels and the feature store (ifdsed/features/store.py)."""
import json
import math
from dataclasses import replace
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from ifdsed.config import DCASE_CLASSES, FeaturesParams
from ifdsed.features.labels import clip_tags, frame_labels
from ifdsed.features.logmel import extract_files, LogMelConfig, LogMelExtractor
from ifdsed.features.store import build_store, check_store, load_feature_set, load_normalization, read_store_info
from ifdsed.io.audio import read_clip
from ifdsed.paths import TRAIN_SETS
from ifdsed.io.tables import tags_from_events, write_clips, write_events, write_tags

DEFAULT = LogMelConfig.from_params(FeaturesParams(), clip_duration=10.0)
LIN = replace(DEFAULT, sample_rate=44100, n_fft=2048, window=0.04, hop=0.02, fmax=22050.0)
TOLERANCE_DB = 0.01  # the documented agreement with librosa (the measured difference is ~1e-4 dB)
DB_PER_NEPER = 10 / math.log(10)


def noisy_tones(seconds: float, sample_rate: int, seed: int = 0, channels: int = 1, level: float = 0.3):
    """Noise plus two tones, float32 [samples] (or [samples, channels])."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    mono = level * (np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1830 * t)) + 0.02 * rng.standard_normal(t.size)
    if channels == 1:
        return mono.astype(np.float32)
    return np.stack([mono * (1 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32)


def write_wav(path: Path, audio, sample_rate: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(audio, -1, 1), sample_rate, subtype="PCM_16")
    return path


def librosa_logmel(path, config: LogMelConfig) -> np.ndarray:
    """A plain librosa log-mel of one file, [frames, n_mels]."""
    audio = librosa.util.fix_length(librosa.load(path, sr=config.sample_rate)[0], size=config.clip_samples)
    mel = librosa.feature.melspectrogram(y=audio, sr=config.sample_rate, n_fft=config.n_fft,
                                         hop_length=config.hop_length, win_length=config.win_length,
                                         n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax)
    return np.log(mel + config.log_offset).T[:config.frames]


def ours(path, config: LogMelConfig) -> np.ndarray:
    with torch.inference_mode():
        return LogMelExtractor(config)(torch.from_numpy(read_clip(path, config.sample_rate, config.clip_samples))[None])[0].numpy()


# ------------------------------------------------------------------------------------------- shapes and frames
@pytest.mark.parametrize("sample_rate, duration, n_fft, window, hop, frames", [
    (16000, 10.0, 1024, 0.04, 0.04, 250),   # the default
    (44100, 10.0, 2048, 0.04, 0.02, 500),   # Lin et al.
    (8000, 2.5, 256, 0.032, 0.016, 156),    # round(156.25)
    (22050, 1.0, 1024, 0.025, 0.0101, 99),  # a hop that is not a whole number of samples
    (32000, 4.0, 512, 0.016, 0.016, 250),
])
@pytest.mark.parametrize("input_seconds", [0.3, 1.0, 12.0])
def test_shape_dtype_and_frames(sample_rate, duration, n_fft, window, hop, frames, input_seconds):
    config = LogMelConfig(sample_rate=sample_rate, n_fft=n_fft, window=window, hop=hop, n_mels=40, fmin=20.0,
                          fmax=sample_rate / 2, log_offset=1e-8, clip_duration=duration)
    assert config.frames == frames
    waveforms = torch.randn(3, round(input_seconds * sample_rate)) * 0.1         # [batch, samples]
    features = LogMelExtractor(config)(waveforms)
    assert features.shape == (3, frames, 40)
    assert features.dtype == torch.float32
    assert torch.isfinite(features).all()


def test_a_hop_rounded_up_still_gives_every_frame():
    # hop 0.0101 s is 81 samples at 8 kHz: 20 s give round(1980.2) = 1980 frames, a centred STFT of the
    # 160000 samples only 1 + 160000 // 81 = 1976; the extractor pads with zeros.
    config = LogMelConfig(sample_rate=8000, n_fft=256, window=0.02, hop=0.0101, n_mels=32, fmin=0.0, fmax=4000.0,
                          log_offset=1e-8, clip_duration=20.0)
    assert config.stft_samples > config.clip_samples
    features = LogMelExtractor(config)(torch.randn(1, 30 * 8000))
    assert features.shape == (1, 1980, 32)
    assert (features[0, -2:] == math.log(1e-8)).all()       # past the clip: silence, not the input's extra 10 s


def test_silence_is_the_log_offset():
    features = LogMelExtractor(DEFAULT)(torch.zeros(2, DEFAULT.clip_samples))
    assert torch.equal(features, torch.full_like(features, math.log(DEFAULT.log_offset)))


def test_load_clip_mixes_down_resamples_and_pads(tmp_path):
    path = write_wav(tmp_path / "stereo.wav", noisy_tones(3.0, 44100, channels=2), 44100)
    clip = read_clip(path, DEFAULT.sample_rate, round(5.0 * DEFAULT.sample_rate))
    assert clip.dtype == np.float32 and clip.shape == (5 * 16000,)
    reference = librosa.load(path, sr=16000, mono=True)[0]
    np.testing.assert_allclose(clip[:reference.size], reference, atol=1e-6)
    assert not clip[reference.size:].any()


@pytest.mark.parametrize("subtype, channels", [("PCM_16", 1), ("PCM_16", 3), ("PCM_24", 2), ("FLOAT", 1)])
def test_load_clip_reads_what_librosa_reads(tmp_path, subtype, channels):
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, noisy_tones(2.0, 16000, channels=channels), 16000, subtype=subtype)
    clip = read_clip(path, DEFAULT.sample_rate, round(2.0 * DEFAULT.sample_rate))
    np.testing.assert_allclose(clip, librosa.load(path, sr=16000)[0], rtol=0, atol=1e-7)


def test_load_clip_cuts_long_files_like_librosa(tmp_path):
    path = write_wav(tmp_path / "long.wav", noisy_tones(13.0, 44100), 44100)
    clip = read_clip(path, DEFAULT.sample_rate, DEFAULT.clip_samples)
    reference = librosa.load(path, sr=16000)[0][:DEFAULT.clip_samples]
    np.testing.assert_allclose(clip, reference, atol=1e-6)


# ------------------------------------------------------------------------------------------ agreement with librosa
@pytest.mark.parametrize("config, file_rate, seconds", [
    (DEFAULT, 16000, 10.0),
    (DEFAULT, 44100, 10.0),   # resampled, as real DCASE audio is under the default settings
    (DEFAULT, 16000, 6.5),    # a short clip, zero-padded
    (LIN, 44100, 10.0),
])
def test_matches_librosa(tmp_path, config, file_rate, seconds):
    path = write_wav(tmp_path / "clip.wav", noisy_tones(seconds, file_rate), file_rate)
    difference = np.abs(ours(path, config) - librosa_logmel(path, config)).max()
    assert DB_PER_NEPER * difference < TOLERANCE_DB


def test_matches_librosa_on_a_real_recording(fixtures_dir):
    path = fixtures_dir / "real_audio" / "desed_soundscapes" / "5.wav"   # 44.1 kHz real DESED soundscape
    for config in (DEFAULT, LIN):
        difference = np.abs(ours(path, config) - librosa_logmel(path, config)).max()
        assert DB_PER_NEPER * difference < TOLERANCE_DB


def test_batched_extraction_is_independent_of_workers(tmp_path):
    config = replace(DEFAULT, clip_duration=2.0)
    paths = [write_wav(tmp_path / f"{i}.wav", noisy_tones(2.0, 16000, seed=i), 16000) for i in range(7)]
    extractor = LogMelExtractor(config)
    one = np.concatenate(list(extract_files(paths, extractor, workers=1, batch_size=3)))
    two = np.concatenate(list(extract_files(paths, extractor, workers=2, batch_size=3)))
    assert one.shape == (7, config.frames, config.n_mels)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_allclose(one[4], ours(paths[4], config), atol=1e-5)


# ----------------------------------------------------------------------------------------------------- labels
def test_frame_labels_of_a_hand_made_table():
    hop, frames = 0.04, 250
    events = pd.DataFrame([
        ("a.wav", 0.10, 0.25, "Dog"),      # frames 2 (0.08-0.12) to 6 (0.24-0.28)
        ("a.wav", 0.12, 0.20, "Cat"),      # exact frame edges: frames 3 and 4 only
        ("a.wav", 0.16, 0.30, "Dog"),      # overlaps the first Dog event: union 2..7
        ("a.wav", 9.95, 10.07, "Speech"),  # past the clip end: clipped to the last frames
        ("b.wav", 0.0, 0.0, "Blender"),    # zero length: nothing
        ("c.wav", 0.0, 0.0, ""),           # DESED's "no event" row
    ], columns=["filename", "onset", "offset", "event_label"])
    labels = frame_labels(events, ["a.wav", "b.wav", "c.wav"], DCASE_CLASSES, frames, hop)
    assert labels.shape == (3, frames, len(DCASE_CLASSES)) and labels.dtype == np.uint8
    dog, cat, speech = (DCASE_CLASSES.index(name) for name in ("Dog", "Cat", "Speech"))
    assert np.flatnonzero(labels[0, :, dog]).tolist() == [2, 3, 4, 5, 6, 7]
    assert np.flatnonzero(labels[0, :, cat]).tolist() == [3, 4]
    assert np.flatnonzero(labels[0, :, speech]).tolist() == [248, 249]
    assert labels.sum() == 6 + 2 + 2
    assert not labels[1:].any()


def test_frame_labels_reject_unknown_labels_and_clips():
    table = pd.DataFrame([("a.wav", 0.0, 1.0, "Bird")], columns=["filename", "onset", "offset", "event_label"])
    with pytest.raises(ValueError, match="Bird"):
        frame_labels(table, ["a.wav"], DCASE_CLASSES, 250, 0.04)
    table["event_label"] = "Dog"
    with pytest.raises(ValueError, match="not in the clip list"):
        frame_labels(table, ["b.wav"], DCASE_CLASSES, 250, 0.04)


def test_clip_tags():
    tags = pd.DataFrame({"filename": ["b.wav", "a.wav"], "event_labels": ["Cat,Dog", ""]})
    out = clip_tags(tags, ["a.wav", "b.wav"], DCASE_CLASSES)
    assert out.dtype == np.uint8 and out.shape == (2, 10)
    assert out[0].sum() == 0 and np.flatnonzero(out[1]).tolist() == [2, 4]


# ------------------------------------------------------------------------------------------------------- store
SMALL = replace(DEFAULT, clip_duration=2.0)
SETS = {"synthetic_train": "synthetic/train", "synthetic_test": "synthetic/test", "realworld_weak": "realworld/weak",
        "realworld_validation": "realworld/validation", "realworld_test": "realworld/test"}


def make_set(root: Path, folder: str, clips: int, *, strong: bool, level: float, seed: int) -> None:
    """A clip set with relative audio paths: one Dog event per clip (Cat too in odd clips)."""
    set_dir = root / folder
    names = [f"{folder.replace('/', '_')}_{i}.wav" for i in range(clips)]
    for i, name in enumerate(names):
        write_wav(set_dir / "audio" / name, noisy_tones(1.5 + 0.5 * (i % 2), 16000, seed=seed + i, level=level), 16000)
    rows = [(name, 0.2, 1.0, "Dog") for name in names] + [(name, 0.5, 0.9, "Cat") for name in names[1::2]]
    events = pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"])
    write_clips(pd.DataFrame({"filename": names, "path": [f"{folder}/audio/{n}" for n in names], "duration": 2.0}),
                set_dir / "clips.tsv")
    write_tags(tags_from_events(events, names), set_dir / "tags.tsv")
    if strong:
        write_events(events, set_dir / "events.tsv")


def make_sets(root: Path, eval_level: float = 0.3) -> dict:
    """The five sets; validation and test at `eval_level`."""
    for name, folder in SETS.items():
        evaluation = name in ("synthetic_test", "realworld_validation", "realworld_test")
        make_set(root, folder, 3, strong=name != "realworld_weak", seed=len(name),
                 level=eval_level if evaluation else 0.3)
    return {name: root / folder for name, folder in SETS.items()}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    sets = make_sets(root)
    info = build_store(sets, root / "features", SMALL, DCASE_CLASSES, root=root, workers=2, device="cpu")
    return root, info


def test_store_layout(store):
    root, info = store
    out = root / "features"
    assert sorted(info["sets"]) == sorted(SETS)
    assert json.loads((out / "features.json").read_text()) == info
    assert info["config"]["frames"] == 50 and info["dtype"] == "float16"
    assert not (root / "features.partial").exists()
    for name in SETS:
        data = load_feature_set(out, name)
        assert isinstance(data.features, np.memmap)
        assert data.features.shape == (3, 50, 64) and data.features.dtype == np.float16
        assert data.tags.shape == (3, 10) and data.tags.dtype == np.uint8
        assert data.index.columns.tolist() == ["row", "filename", "event_labels"]
        assert data.index["row"].tolist() == [0, 1, 2]
        assert data.index["event_labels"].tolist() == ["Dog", "Cat,Dog", "Dog"]
        assert data.tags[:, DCASE_CLASSES.index("Cat")].tolist() == [0, 1, 0]
        if name == "realworld_weak":
            assert data.frame_labels is None and not (out / f"{name}_frame_labels.npy").exists()
        else:
            assert data.frame_labels.shape == (3, 50, 10) and data.frame_labels.dtype == np.uint8
            assert np.flatnonzero(data.frame_labels[0, :, DCASE_CLASSES.index("Dog")]).tolist() == list(range(5, 25))
    in_ram = load_feature_set(out, "synthetic_test", mmap=False)
    assert not isinstance(in_ram.features, np.memmap)


def test_stored_features_are_the_extractor_output(store):
    root, _ = store
    data = load_feature_set(root / "features", "realworld_validation")
    path = root / "realworld/validation/audio" / data.index["filename"][1]
    np.testing.assert_allclose(data.features[1].astype(np.float32), ours(path, SMALL), atol=0.02)
    assert (data.features[0, -5:] == np.float16(math.log(SMALL.log_offset))).all()   # 1.5 s of audio, padded


def test_normalization_comes_from_training_sets_only(store, tmp_path):
    root, info = store
    assert info["train_sets"] == list(TRAIN_SETS)
    train = np.concatenate([load_feature_set(root / "features", name).features.reshape(-1, 64)
                            for name in TRAIN_SETS]).astype(np.float64)           # [frames, n_mels]
    mean, std = load_normalization(root / "features")
    assert mean.shape == std.shape == (64,) and mean.dtype == np.float32
    np.testing.assert_allclose(mean, train.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(std, np.maximum(train.std(axis=0), 1e-3), rtol=1e-4, atol=1e-5)

    # Very different validation and test audio changes their features but not the statistics.
    loud = make_sets(tmp_path, eval_level=0.9)
    for name, folder in loud.items():
        if name not in TRAIN_SETS:
            for wav in (folder / "audio").glob("*.wav"):
                sf.write(wav, np.zeros(8000, dtype=np.float32) + 0.5, 16000, subtype="PCM_16")
    build_store(loud, tmp_path / "features", SMALL, DCASE_CLASSES, root=tmp_path, workers=1, device="cpu")
    other_mean, other_std = load_normalization(tmp_path / "features")
    np.testing.assert_array_equal(other_mean, mean)
    np.testing.assert_array_equal(other_std, std)
    for name in ("normalization.npz", "synthetic_train.npy", "realworld_weak_tags.npy", "synthetic_train.tsv"):
        assert (tmp_path / "features" / name).read_bytes() == (root / "features" / name).read_bytes(), name
    assert not np.array_equal(load_feature_set(tmp_path / "features", "realworld_test").features,
                              load_feature_set(root / "features", "realworld_test").features)


def test_store_config_check(store):
    root, _ = store
    assert check_store(root / "features", SMALL, DCASE_CLASSES)["config"]["n_mels"] == 64
    with pytest.raises(ValueError, match="rerun the features stage"):
        check_store(root / "features", replace(SMALL, n_mels=40), DCASE_CLASSES)


def test_an_interrupted_build_leaves_no_complete_store(tmp_path):
    sets = make_sets(tmp_path)
    (tmp_path / "realworld/test/audio/realworld_test_2.wav").unlink()      # the last set fails mid-way
    with pytest.raises(RuntimeError, match="realworld_test_2.wav"):
        build_store(sets, tmp_path / "features", SMALL, DCASE_CLASSES, root=tmp_path, workers=2, device="cpu")
    assert not (tmp_path / "features").exists()
    with pytest.raises(FileNotFoundError):
        read_store_info(tmp_path / "features")
    with pytest.raises(FileNotFoundError):
        load_feature_set(tmp_path / "features.partial", "synthetic_train")


@pytest.mark.parametrize("sample_rate, n_fft, n_mels", [(16000, 1024, 64), (44100, 2048, 64), (16000, 512, 128)])
def test_banded_mel_projection_equals_the_full_product(sample_rate, n_fft, n_mels):
    config = replace(DEFAULT, sample_rate=sample_rate, n_fft=n_fft, window=n_fft / sample_rate / 2, n_mels=n_mels,
                     fmax=sample_rate / 2, clip_duration=1.0)
    extractor = LogMelExtractor(config)
    waveforms = torch.randn(2, config.clip_samples) * 0.1
    spec = torch.stft(waveforms, config.n_fft, config.hop_length, config.win_length, extractor.window,
                      pad_mode="constant", return_complex=True)[..., :config.frames].abs().square()
    dense = torch.log(spec.transpose(1, 2) @ extractor.mel_basis + config.log_offset)
    torch.testing.assert_close(extractor(waveforms), dense, rtol=1e-5, atol=1e-4)
