"""Prediction on arbitrary audio files (issue 6): ifdsed/inference/detector.py and `python -m pipeline.predict`.

The checkpoints are tiny random models built here (never data/train/...), with two hand-set classes that make
the output checkable on any audio: class 0 (Alarm_bell_ringing) is on in every frame and tagged in every window,
so every readable file gets exactly one event of it from 0 s to its duration; class 1 (Blender) is never on.
The other classes have random weights, so they give events that vary with the audio.
The real recordings come from ../shared/fixtures/real_audio; those tests skip when it is absent.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from ifdsed.config import parse_params
from ifdsed.inference.settings import detector_extra
from ifdsed.features.logmel import LogMelConfig, LogMelExtractor
from ifdsed.io.audio import read_clip
from ifdsed.inference.detector import Detector
from ifdsed.inference.files import find_audio, predict_files, split_windows
from ifdsed.io.audio import decode
from models import checkpoint
from models.config import ModelConfig
from models.sed_model import SEDModel
from pipeline import predict as cli

ROOT = Path(__file__).resolve().parents[1]
ALWAYS, NEVER = "Alarm_bell_ringing", "Blender"
LONG = ("doing_the_dishes.wav", "running_tap.wav", "dude_miaowing.wav", "exercise_bike.wav")
SHORT_DIGIT = "eight_0b09edd3_nohash_0.wav"  # 0.768 s


# ------------------------------------------------------------------------------------------------------ helpers
def make_checkpoint(path: Path, features: LogMelConfig, seed: int = 0) -> Path:
    """A tiny random detector: class 0 always on, class 1 never, the rest random."""
    params = parse_params({})
    torch.manual_seed(seed)
    model = SEDModel(ModelConfig(n_mels=features.n_mels, n_classes=len(params.classes), channels=(8, 8, 8)))
    with torch.no_grad():
        model.atp.w.normal_(0.0, 1.0)
        model.atp.d.fill_(3.0)
        model.atp.w[:2] = 0.0
        model.atp.v[:2] = 0.0
        model.atp.b[:2] = torch.tensor([30.0, -30.0])
        model.atp.d[:2] = torch.tensor([30.0, 30.0])
    windows = np.full(len(params.classes), 5, dtype=np.int64)
    extra = detector_extra(params, features, np.full(features.n_mels, -6.0, np.float32),
                           np.full(features.n_mels, 3.0, np.float32), windows)
    checkpoint.save(path, model, extra={"detector": extra})
    return path


def default_features() -> LogMelConfig:
    params = parse_params({})
    return LogMelConfig.from_params(params.features, params.data.clip_duration)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    """Default features (16 kHz, 40 ms hop, 10 s windows)."""
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.pt", default_features())


@pytest.fixture(scope="module")
def other_path(tmp_path_factory) -> Path:
    """Features that params.yaml does not have: 22.05 kHz, 20 ms hop, 4 s windows."""
    features = replace(default_features(), sample_rate=22050, hop=0.02, fmax=11025.0, clip_duration=4.0)
    return make_checkpoint(tmp_path_factory.mktemp("other") / "best.pt", features, seed=1)


@pytest.fixture(scope="module")
def detector(model_path) -> Detector:
    return Detector.from_checkpoint(model_path, "cpu")


@pytest.fixture
def audio_dir(fixtures_dir) -> Path:
    return fixtures_dir / "real_audio"


def predict(detector: Detector, paths, **kwargs) -> list:
    return list(predict_files([(Path(p), Path(p).name) for p in paths], detector, **kwargs))


def always_event(result) -> tuple[float, float]:
    rows = result.events[result.events.event_label == ALWAYS]
    assert len(rows) == 1, result.events
    return float(rows.onset.iloc[0]), float(rows.offset.iloc[0])


def check_result(result, detector: Detector, duration: float) -> None:
    """Frames cover the whole file and nothing past it; events lie inside it; the hand-set classes hold."""
    hop, window = detector.settings.frame_hop, detector.settings.features.clip_duration
    assert result.error is None
    assert result.duration == pytest.approx(duration, abs=1e-9)
    # Every frame that starts in the file, except a tail shorter than one hop past the last full window.
    kept = duration - hop if duration > window and duration % window < hop else duration
    assert len(result.frame_probs) == len(result.frame_starts) == math.ceil(kept / hop - 1e-9)
    assert len(result.clip_probs) == max(1, math.ceil(kept / window - 1e-9))
    assert np.allclose(np.diff(result.frame_starts), hop) and result.frame_starts[-1] < duration
    events = result.events
    assert list(events.columns) == ["filename", "onset", "offset", "event_label"]
    assert (events.onset >= 0).all() and (events.offset <= duration + 1e-9).all()
    assert (events.offset > events.onset).all()
    assert always_event(result) == pytest.approx((0.0, min(duration, len(result.frame_probs) * hop)))
    assert NEVER not in set(events.event_label)


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
        # The features are the training stage's: read_clip (decode, mono, soxr HQ, fit) + extractor, rounded to
        # float16 as the store holds them (within one float16 step: the two reads may differ in the last bits).
        config = detector.settings.features
        clip = read_clip(path, config.sample_rate, config.clip_samples)
        expected = LogMelExtractor(config)(torch.from_numpy(clip)[None])[0].numpy()
        np.testing.assert_allclose(result.log_mel, expected.astype(np.float16).astype(np.float32),
                                   rtol=2 ** -10, atol=1e-4)


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


def test_checkpoint_settings_are_used_not_params(audio_dir, other_path):
    detector = Detector.from_checkpoint(other_path, "cpu")
    assert detector.settings.features.sample_rate == 22050 and detector.settings.frame_hop == 0.02
    soundscape = audio_dir / "desed_soundscapes" / "7.wav"
    running_tap = audio_dir / "speech_commands" / "running_tap.wav"
    for path, result in zip((soundscape, running_tap), predict(detector, [soundscape, running_tap])):
        duration = sf.info(str(path)).duration
        check_result(result, detector, duration)                     # 20 ms frames, 4 s windows
        assert len(result.clip_probs) == math.ceil(duration / 4.0)


# ------------------------------------------------------------------------------------------------------ CLI
def test_cli_folder_with_corrupt_files(audio_dir, model_path, tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    good = {"5.wav": audio_dir / "desed_soundscapes" / "5.wav",
            "sub/digit.wav": audio_dir / "speech_commands" / "digits" / SHORT_DIGIT}
    for name, source in good.items():
        (folder / name).write_bytes(source.read_bytes())
    signal, rate = sf.read(str(good["sub/digit.wav"]), dtype="float32")
    sf.write(folder / "sub" / "digit.FLAC", signal, rate)
    good["sub/digit.FLAC"] = folder / "sub" / "digit.FLAC"
    (folder / "x.wav").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (folder / "empty.flac").write_bytes(b"")
    (folder / "notes.txt").write_text("not audio")
    # A params.yaml in the working directory that disagrees with the checkpoint: it must not be read.
    (tmp_path / "params.yaml").write_text("features:\n  sample_rate: 44100\n  hop: 0.02\n")
    out, plots = tmp_path / "out" / "events.tsv", tmp_path / "plots"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pipeline.predict", str(folder), "--model", str(model_path),
                           "--out", str(out), "--plots", str(plots)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    for bad in ("x.wav", "empty.flac"):
        assert any(bad in line and "skipped" in line for line in done.stderr.splitlines()), done.stderr
    assert "notes.txt" not in done.stderr
    assert out.read_text().splitlines()[0] == "filename\tonset\toffset\tevent_label"
    table = pd.read_csv(out, sep="\t")
    assert set(table.filename) == set(good)
    always = table[table.event_label == ALWAYS].set_index("filename")
    assert always.loc["5.wav", "offset"] == 10.0 and always.loc["sub/digit.wav", "offset"] == 0.768
    assert (always.onset == 0).all() and NEVER not in set(table.event_label)
    assert table.equals(table.sort_values(["filename", "onset", "offset", "event_label"]).reset_index(drop=True))
    pngs = sorted(p.relative_to(plots).as_posix() for p in plots.rglob("*.png"))
    assert pngs == sorted(f"{name}.png" for name in good)
    assert all((plots / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_cli_exit_status_and_messages(audio_dir, model_path, tmp_path, capsys):
    clip = audio_dir / "desed_soundscapes" / "7.wav"
    out = tmp_path / "events.tsv"
    assert cli.main([str(clip), "--model", str(model_path), "--out", str(out)]) == 0
    assert set(pd.read_csv(out, sep="\t").filename) == {"7.wav"}
    assert "events in 1 files" in capsys.readouterr().out
    assert cli.main([str(clip), str(tmp_path / "missing"), "--model", str(model_path), "--out", str(out)]) == 2
    assert "missing" in capsys.readouterr().err
    no_detector = tmp_path / "plain.pt"
    checkpoint.save(no_detector, SEDModel(ModelConfig(channels=(8, 8, 8))))
    assert cli.main([str(clip), "--model", str(no_detector), "--out", str(out)]) == 1
    assert "detector settings" in capsys.readouterr().err
    assert cli.main([str(tmp_path / "missing"), "--model", str(model_path), "--out", str(out)]) == 1


def test_decode_reports_unreadable_files(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(Exception):
        decode(tmp_path / "x.wav", 16000)
