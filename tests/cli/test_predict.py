"""`ifdsed predict` (ifdsed/cli/predict.py): folders with corrupt files, exit status and messages, odd
and bad input files, unsafe checkpoints, a --precision this machine lacks (bad input: docs/reliability.md), the
warning about a model's training data. The tiny detectors are those of tests/inference/test_files.py."""
from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from ifdsed.cli import main, parse_args
from ifdsed.io.audio import decode
from ifdsed.models import checkpoint
from ifdsed.models.config import ModelConfig
from ifdsed.models.sed_model import SEDModel
from ifdsed.models.training_data import TrainingData, warning
from tests.helpers import ALWAYS, default_features, IFDSED, make_checkpoint, NEVER, Payload, SHORT_DIGIT, SR, tone, wav


def predict(*args: str) -> int:
    return main(["predict", *args])


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
    done = subprocess.run([str(IFDSED), "predict", str(folder), "--model", str(model_path),
                           "--out", str(out), "--plots", str(plots)], cwd=tmp_path,
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
    assert predict(str(clip), "--model", str(model_path), "--out", str(out)) == 0
    assert set(pd.read_csv(out, sep="\t").filename) == {"7.wav"}
    assert "events in 1 files" in capsys.readouterr().out
    assert predict(str(clip), str(tmp_path / "missing"), "--model", str(model_path), "--out", str(out)) == 2
    assert "missing" in capsys.readouterr().err
    no_detector = tmp_path / "plain.pt"
    checkpoint.save(no_detector, SEDModel(ModelConfig(channels=(8, 8, 8))))
    assert predict(str(clip), "--model", str(no_detector), "--out", str(out)) == 1
    assert "detector settings" in capsys.readouterr().err
    assert predict(str(tmp_path / "missing"), "--model", str(model_path), "--out", str(out)) == 1


# -------------------------------------------------------------------------------------------- bad input
def test_prediction_input(audio, tmp_path, capsys):
    folder, unusable, usable = audio
    for name, phrase in [("nan.wav", "holds NaN or Inf samples (the first at 1.000 s)"),
                         ("corrupt.flac", "lost sync")]:
        with pytest.raises(Exception, match=phrase.replace("(", r"\(").replace(")", r"\)")):
            decode(folder / name, SR)
    huge = wav(tmp_path / "huge.wav", 1e30 * tone(1.0), subtype="DOUBLE")
    with pytest.raises(ValueError, match="holds samples up to 1e\\+29 times full scale"):
        decode(huge, SR)
    notes = {name: decode(folder / name, SR)[2] for name in usable}
    assert "is silent" in notes["silent.wav"][0] and "is clipped (" in notes["clipped.wav"][0]
    assert not notes["six_channels_48k.wav"] and not notes["long.wav"]
    assert decode(folder / "long.wav", SR)[1] == 25.0

    inputs = tmp_path / "inputs"
    for name in ["nan.wav", "empty.wav", "truncated.flac", "silent.wav", "clipped.wav", "six_channels_48k.wav",
                 "long.wav", "short.wav"]:
        inputs.mkdir(exist_ok=True)
        (inputs / name).write_bytes((folder / name).read_bytes())
    model = make_checkpoint(tmp_path / "best.pt", default_features())
    out = tmp_path / "events.tsv"
    assert predict(str(inputs), "--model", str(model), "--out", str(out), "--workers", "1") == 2
    err = capsys.readouterr().err
    for name, phrase in [("nan.wav", "NaN or Inf"), ("empty.wav", "Format not recognised"),
                         ("truncated.flac", "lost sync")]:
        assert any(f"skipped {inputs / name}: " in line and phrase in line for line in err.splitlines()), err
    assert f"note: {inputs / 'silent.wav'} is silent" in err and f"note: {inputs / 'clipped.wav'} is clipped" in err
    table = pd.read_csv(out, sep="\t")
    assert set(table["filename"]) <= {"silent.wav", "clipped.wav", "six_channels_48k.wav", "long.wav", "short.wav"}


def test_predict_refuses_an_unsafe_checkpoint(tmp_path, capsys):
    evil = tmp_path / "evil.pt"
    torch.save({"model_config": {}, "state_dict": {}, "optimizer": None, "epoch": 0,
                "extra": {"hook": Payload(str(tmp_path / "code_ran"))}}, evil)
    wav(tmp_path / "a.wav", tone(1.0))
    assert predict(str(tmp_path / "a.wav"), "--model", str(evil), "--out", str(tmp_path / "e.tsv")) == 1
    assert f"cannot use the model: {evil}: refused" in capsys.readouterr().err
    assert not (tmp_path / "code_ran").exists()


def test_predict_precision(model_path, tmp_path, capsys):
    clip = wav(tmp_path / "a.wav", tone(3.0))
    out = tmp_path / "events.tsv"
    assert predict(str(clip), "--model", str(model_path), "--out", str(out), "--device", "cpu",
                   "--precision", "float16") == 2
    err = capsys.readouterr().err
    assert err.startswith("predict: --precision: float16 needs a GPU, and this run is on cpu"), err
    assert not out.exists()                                            # stopped before any work
    # bfloat16 autocast runs on any CPU, and the hand-set classes of the tiny detector come out as in float32
    tables = {}
    for precision in ("float32", "bfloat16"):
        assert predict(str(clip), "--model", str(model_path), "--out", str(out), "--device", "cpu",
                       "--precision", precision) == 0
        tables[precision] = pd.read_csv(out, sep="\t")
    for table in tables.values():
        always = table[table.event_label == ALWAYS]
        assert list(always[["onset", "offset"]].itertuples(index=False, name=None)) == [(0.0, 3.0)]
        assert NEVER not in set(table.event_label)
    default = parse_args(["predict", str(clip), "--model", str(model_path), "--out", str(out)])
    assert default.precision == "float32"                  # evaluation's bytes unless asked otherwise


@pytest.mark.parametrize("name, write, phrase", [
    ("notes.pt", lambda p: p.write_text("epoch 3: best so far\n"), "not a checkpoint: a text file"),
    ("clip.pt", lambda p: sf.write(p, np.zeros(1600, np.float32), SR, format="WAV"), "not a checkpoint: an audio file"),
    ("noise.pt", lambda p: p.write_bytes(bytes(range(256)) * 4), "not a checkpoint: not a PyTorch file"),
    ("junk.onnx", lambda p: p.write_bytes(b"not a protobuf \x00\xff" * 8), "not an ONNX model ONNX Runtime can load"),
])
def test_predict_refuses_a_bad_model_file_in_one_line(tmp_path, capsys, name, write, phrase):
    model = tmp_path / name
    write(model)
    audio = wav(tmp_path / "clip.wav", tone(1.0))
    assert main(["predict", str(audio), "--model", str(model), "--out", str(tmp_path / "events.tsv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"predict: cannot use the model: {model}: {phrase}") and err.count("\n") == 1, err
    assert not (tmp_path / "events.tsv").exists()


# -------------------------------------------------------------------------------------------- training data
@pytest.mark.parametrize("record", [TrainingData("embedded", 1600, 400), None, TrainingData("real", 1578, 1578)],
                         ids=["embedded", "unknown", "real"])
def test_predict_warns_in_one_line_unless_the_model_was_trained_on_real_data(tmp_path, capsys, record):
    """embedded: the measurement and how to train on real data; no record (an old checkpoint): unknown, in the
    same style, and the prediction still runs; data.source real: no warning."""
    model = make_checkpoint(tmp_path / "best.pt", default_features(), training_data=record)
    audio = wav(tmp_path / "clip.wav", tone(1.0))
    assert predict(str(audio), "--model", str(model), "--out", str(tmp_path / "events.tsv"), "--workers", "1") == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    expected = warning(record, model)
    assert warned == ([] if record is not None and record.source == "real" else [f"predict: {expected}"])
    assert ALWAYS in (tmp_path / "events.tsv").read_text()
