"""Log-mel extraction (ifdsed.features.logmel): shapes and frame counts, agreement with librosa, batched
extraction on worker threads, the banded mel projection."""
import math
from dataclasses import replace

import librosa
import numpy as np
import pytest
import torch

from ifdsed.features.logmel import extract_files, LogMelConfig, LogMelExtractor
from tests.helpers import DEFAULT_LOGMEL as DEFAULT, noisy_tones, our_logmel as ours, write_wav

LIN = replace(DEFAULT, sample_rate=44100, n_fft=2048, window=0.04, hop=0.02, fmax=22050.0)
TOLERANCE_DB = 0.01  # the documented agreement with librosa (the measured difference is ~1e-4 dB)
DB_PER_NEPER = 10 / math.log(10)


def librosa_logmel(path, config: LogMelConfig) -> np.ndarray:
    """A plain librosa log-mel of one file, [frames, n_mels]."""
    audio = librosa.util.fix_length(librosa.load(path, sr=config.sample_rate)[0], size=config.clip_samples)
    mel = librosa.feature.melspectrogram(y=audio, sr=config.sample_rate, n_fft=config.n_fft,
                                         hop_length=config.hop_length, win_length=config.win_length,
                                         n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax)
    return np.log(mel + config.log_offset).T[:config.frames]


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


# ------------------------------------------------------------------------------------------ mel projection
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
