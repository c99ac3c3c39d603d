"""`ifdsed export` (ifdsed/cli/export.py): the command checks the file it writes and refuses a bad checkpoint, and
`ifdsed predict` with the .onnx file writes the checkpoint's events (ONNX Runtime against the checkpoint:
tests/inference/test_onnx.py)."""
from ifdsed.cli import main
from tests.helpers import noisy_tones, write_wav


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
