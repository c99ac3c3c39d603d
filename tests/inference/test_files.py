"""Prediction on audio files of any length (ifdsed.inference.files), through tiny random detectors.

The checkpoints are tiny random models built here (never data/train/...), with two hand-set classes that make
the output checkable on any audio: class 0 (Alarm_bell_ringing) is on in every frame and tagged in every window,
so every readable file gets exactly one event of it from 0 s to its duration; class 1 (Blender) is never on.
The other classes have random weights, so they give events that vary with the audio (tests/helpers.py:
`make_checkpoint`, `check_result`). The real recordings come from ../shared/fixtures/real_audio; those tests skip
when it is absent.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from ifdsed.features.logmel import LogMelExtractor
from ifdsed.inference.files import find_audio, split_windows
from ifdsed.io.audio import read_clip
from tests.helpers import SHORT_DIGIT, check_result, predict

LONG = ("doing_the_dishes.wav", "running_tap.wav", "dude_miaowing.wav", "exercise_bike.wav")


# ---------------------------------------------------------------------------------------------------- units
def test_split_windows_pads_the_last_window():
    windows = split_windows(np.arange(25, dtype=np.float32), 10)
    assert windows.shape == (3, 10) and windows[2, 4] == 24 and not windows[2, 5:].any()
    assert split_windows(np.ones(3, np.float32), 10).shape == (1, 10)
    assert split_windows(np.zeros(0, np.float32), 10).shape == (1, 10)


def test_find_audio_recursive_sorted_any_case(tmp_path):
    for name in ("b.WAV", "a.flac", "sub/c.ogg", "sub/notes.txt", "z.mp4"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [name for _, name in find_audio(tmp_path)] == ["a.flac", "b.WAV", "sub/c.ogg"]
    assert find_audio(tmp_path / "sub" / "notes.txt") == [(tmp_path / "sub" / "notes.txt", "notes.txt")]
    with pytest.raises(FileNotFoundError):
        find_audio(tmp_path / "missing")


def test_empty_and_stereo_generated_audio(tmp_path, detector):
    rng = np.random.default_rng(0)
    mono = (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32)
    sf.write(tmp_path / "mono.wav", 0.75 * mono, 16000, subtype="FLOAT")
    sf.write(tmp_path / "stereo.wav", np.stack([mono, 0.5 * mono], axis=1), 16000, subtype="FLOAT")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    mono_result, stereo_result, empty = predict(detector, [tmp_path / n for n in ("mono.wav", "stereo.wav",
                                                                                   "empty.wav")])
    np.testing.assert_allclose(stereo_result.frame_probs, mono_result.frame_probs, atol=1e-5)
    check_result(stereo_result, detector, 3.0)
    assert empty.error is None and empty.duration == 0 and empty.events.empty and len(empty.frame_probs) == 0


# ------------------------------------------------------------------------------------------ real recordings
def test_desed_soundscapes_at_44k_use_the_training_features(audio_dir, detector):
    paths = [audio_dir / "desed_soundscapes" / name for name in ("5.wav", "7.wav")]
    results = predict(detector, paths, keep_features=True)
    for path, result in zip(paths, results):
        check_result(result, detector, sf.info(str(path)).duration)
        assert result.frame_probs.shape == (250, 10) and result.clip_probs.shape == (1, 10)
        # The features are the training stage's: read_clip (decode, mono, soxr HQ, fit) + extractor, in float32 as
        # the store holds them (the two reads may differ in the last bits).
        config = detector.settings.features
        clip = read_clip(path, config.sample_rate, config.clip_samples)
        expected = LogMelExtractor(config)(torch.from_numpy(clip)[None])[0].numpy()
        np.testing.assert_allclose(result.log_mel, expected, rtol=1e-5, atol=1e-4)


def test_long_recordings_are_windowed_over_the_whole_file(audio_dir, detector, tmp_path):
    paths = [audio_dir / "speech_commands" / name for name in LONG]
    results = predict(detector, paths)
    for path, result in zip(paths, results):
        duration = sf.info(str(path)).duration
        assert 60 <= duration <= 96
        check_result(result, detector, duration)
    # Window 3 of the first file is the model's output on those 10 s alone: the windows are stitched in place.
    signal, rate = sf.read(str(paths[0]), dtype="float32")
    sf.write(tmp_path / "window3.wav", signal[30 * rate:40 * rate], rate, subtype="FLOAT")
    alone = predict(detector, [tmp_path / "window3.wav"])[0]
    np.testing.assert_allclose(results[0].frame_probs[750:1000], alone.frame_probs, atol=1e-5)
    np.testing.assert_allclose(results[0].clip_probs[3], alone.clip_probs[0], atol=1e-5)


def test_very_short_and_stereo_files(audio_dir, detector, tmp_path):
    digit = audio_dir / "speech_commands" / "digits" / SHORT_DIGIT
    signal, rate = sf.read(str(digit), dtype="float32")
    sf.write(tmp_path / "tenth.wav", signal[:rate // 10], rate)                         # 0.1 s
    soundscape, rate44 = sf.read(str(audio_dir / "desed_soundscapes" / "5.wav"), dtype="float32")
    sf.write(tmp_path / "stereo.flac", np.stack([soundscape, soundscape[::-1]], axis=1), rate44)
    sf.write(tmp_path / "digit.ogg", signal, rate)
    digit_result, tenth, stereo, ogg = predict(detector, [digit, tmp_path / "tenth.wav",
                                                          tmp_path / "stereo.flac", tmp_path / "digit.ogg"])
    check_result(digit_result, detector, 0.768)
    check_result(tenth, detector, 0.1)
    assert len(tenth.frame_probs) == 3
    check_result(stereo, detector, len(soundscape) / rate44)
    check_result(ogg, detector, sf.info(str(tmp_path / "digit.ogg")).duration)


def test_deterministic_and_independent_of_threads(audio_dir, detector):
    paths = sorted((audio_dir / "speech_commands" / "digits").glob("*.wav"))[:10] + [
        audio_dir / "desed_soundscapes" / "7.wav", audio_dir / "speech_commands" / "running_tap.wav"]
    first = predict(detector, paths, workers=2, batch_size=4)
    again = predict(detector, paths, workers=1, batch_size=4)
    for a, b in zip(first, again):
        pd.testing.assert_frame_equal(a.events, b.events)
        np.testing.assert_array_equal(a.frame_probs, b.frame_probs)
    assert sum(len(r.events) for r in first) > len(paths)  # the random classes found events too
