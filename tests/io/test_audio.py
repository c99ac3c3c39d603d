"""Audio reading and its checks (ifdsed.io.audio): `inspect_audio` on every unusable and odd file, `read_clip`
against librosa, and `read_clip` / `decode` on bad files (bad input: docs/reliability.md)."""
import librosa
import numpy as np
import pytest
import soundfile as sf

from ifdsed.errors import InputError
from ifdsed.features.logmel import LogMelConfig
from ifdsed.io.audio import decode, inspect_audio, read_clip
from tests.helpers import DEFAULT_LOGMEL as DEFAULT, SR, noisy_tones, write_wav


# ------------------------------------------------------------------------------------ the shared check
def test_every_unusable_file_is_named_with_its_problem(audio):
    folder, unusable, usable = audio
    for name, phrase in unusable.items():
        check = inspect_audio(folder / name)
        assert not check.usable, name
        assert check.describe().startswith(f"{folder / name}: ") and phrase in check.problem, check.describe()
    for name, phrase in usable.items():
        check = inspect_audio(folder / name)
        assert check.usable, check.describe()
        assert (phrase in "; ".join(check.notes)) if phrase else not check.notes, (name, check.notes)
    odd = {name: inspect_audio(folder / name) for name in ("six_channels_48k.wav", "stereo_8k.flac", "long.wav")}
    assert [(c.sample_rate, c.channels) for c in odd.values()] == [(48000, 6), (8000, 2), (8000, 1)]
    assert odd["long.wav"].duration == 25.0
    assert inspect_audio(folder / "long.wav", max_seconds=11.0).checked == 11.0   # decodes what is used only


# ---------------------------------------------------------------------------------------------- read_clip
def test_read_clip_mixes_down_resamples_and_pads(tmp_path):
    path = write_wav(tmp_path / "stereo.wav", noisy_tones(3.0, 44100, channels=2), 44100)
    clip = read_clip(path, DEFAULT.sample_rate, round(5.0 * DEFAULT.sample_rate))
    assert clip.dtype == np.float32 and clip.shape == (5 * 16000,)
    reference = librosa.load(path, sr=16000, mono=True)[0]
    np.testing.assert_allclose(clip[:reference.size], reference, atol=1e-6)
    assert not clip[reference.size:].any()


@pytest.mark.parametrize("subtype, channels", [("PCM_16", 1), ("PCM_16", 3), ("PCM_24", 2), ("FLOAT", 1)])
def test_read_clip_reads_what_librosa_reads(tmp_path, subtype, channels):
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, noisy_tones(2.0, 16000, channels=channels), 16000, subtype=subtype)
    clip = read_clip(path, DEFAULT.sample_rate, round(2.0 * DEFAULT.sample_rate))
    np.testing.assert_allclose(clip, librosa.load(path, sr=16000)[0], rtol=0, atol=1e-7)


def test_read_clip_cuts_long_files_like_librosa(tmp_path):
    path = write_wav(tmp_path / "long.wav", noisy_tones(13.0, 44100), 44100)
    clip = read_clip(path, DEFAULT.sample_rate, DEFAULT.clip_samples)
    reference = librosa.load(path, sr=16000)[0][:DEFAULT.clip_samples]
    np.testing.assert_allclose(clip, reference, atol=1e-6)


def test_read_clip_names_a_nan_file(audio):
    folder, _, _ = audio
    config = LogMelConfig(sample_rate=SR, n_fft=512, window=0.032, hop=0.1, n_mels=32, fmin=0.0, fmax=8000.0,
                          log_offset=1e-8, clip_duration=4.0)
    with pytest.raises(InputError, match=rf"^{folder}/inf.wav: holds NaN or Inf samples \(the first at 0.500 s\)"):
        read_clip(folder / "inf.wav", config.sample_rate, config.clip_samples)


# ------------------------------------------------------------------------------------------------- decode
def test_decode_reports_unreadable_files(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(Exception):
        decode(tmp_path / "x.wav", 16000)
