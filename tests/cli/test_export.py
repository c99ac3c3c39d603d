"""`ifdsed export` (ifdsed/cli/export.py): the command checks the file it writes and refuses a bad checkpoint, and
`ifdsed predict` with the .onnx file writes the checkpoint's events (ONNX Runtime against the checkpoint:
tests/inference/test_onnx.py), and the training-data record travels into the file and warns as the checkpoint
does."""
import json

import onnx
import pytest

from ifdsed.cli import main
from ifdsed.inference.onnx_detector import TRAINING_DATA_KEY, OnnxDetector
from ifdsed.models.training_data import TrainingData, warning
from tests.helpers import default_features, make_checkpoint, noisy_tones, write_wav


def test_predict_with_the_onnx_file_writes_the_checkpoints_events(exported, tmp_path):
    checkpoint, path = exported
    audio = tmp_path / "audio"
    for seed, seconds in enumerate((4.0, 10.0, 23.5)):
        write_wav(audio / f"clip_{seed}.wav", noisy_tones(seconds, 22050, seed=seed), 22050)
    tables = {}
    for model in (checkpoint, path):
        out = tmp_path / f"{model.suffix[1:]}.tsv"
        assert main(["predict", str(audio), "--model", str(model), "--out", str(out)]) == 0
        tables[model.suffix] = out.read_text()
    assert tables[".onnx"] == tables[".pt"] and tables[".pt"].count("\n") > 1


def test_the_export_command_checks_its_file_and_refuses_a_bad_checkpoint(exported, tmp_path, capsys):
    checkpoint, _ = exported
    assert main(["export", "--model", str(checkpoint), "--out", str(tmp_path / "d.onnx")]) == 0
    assert "differ from the checkpoint's by at most" in capsys.readouterr().out
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    assert main(["export", "--model", str(tmp_path / "bad.pt"), "--out", str(tmp_path / "x.onnx")]) == 1
    assert "cannot use the model" in capsys.readouterr().err


def test_predict_with_an_export_of_an_old_checkpoint_says_its_training_data_is_unknown(exported, tmp_path, capsys):
    """The fixture's checkpoint records no training data (as one saved before models recorded it): its export has
    no record either, and predict with it warns in the same one-line style, then runs."""
    _, path = exported
    assert TRAINING_DATA_KEY not in OnnxDetector(path).session.get_modelmeta().custom_metadata_map
    audio = write_wav(tmp_path / "clip.wav", noisy_tones(4.0, 16000), 16000)
    assert main(["predict", str(audio), "--model", str(path), "--out", str(tmp_path / "e.tsv")]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warned == [f"predict: {warning(None, path)}"]


@pytest.mark.parametrize("record", [TrainingData("embedded", 1600, 400), TrainingData("real", 1578, 1578)],
                         ids=["embedded", "real"])
def test_the_export_records_the_training_data_and_warns_about_generated_data(tmp_path, capsys, record):
    """The record is in the ONNX file's metadata; export and predict with the .onnx print the one warning line
    for a model trained on generated data, nothing for one trained on real data."""
    model = make_checkpoint(tmp_path / "best.pt", default_features(), training_data=record)
    out = tmp_path / "detector.onnx"
    assert main(["export", "--model", str(model), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    embedded = record.source == "embedded"
    assert err.splitlines() == ([f"export: {warning(record, model)}"] if embedded else []), err
    stored = {entry.key: entry.value for entry in onnx.load(str(out)).metadata_props}
    assert json.loads(stored[TRAINING_DATA_KEY]) == record.to_dict()
    assert OnnxDetector(out).training_data == record
    audio = write_wav(tmp_path / "clip.wav", noisy_tones(4.0, 16000), 16000)
    assert main(["predict", str(audio), "--model", str(out), "--out", str(tmp_path / "e.tsv")]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warned == ([f"predict: {warning(record, out)}"] if embedded else [])
