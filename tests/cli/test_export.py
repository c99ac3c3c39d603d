"""`ifdsed export` (ifdsed/cli/export.py): the command checks the file it writes and refuses a bad checkpoint, and
`ifdsed predict` with the .onnx file writes the checkpoint's events (ONNX Runtime against the checkpoint:
tests/inference/test_onnx.py)."""
import pytest

from ifdsed.cli import main
from ifdsed.features.logmel import LogMelConfig
from ifdsed.inference.onnx_detector import export_onnx
from tests.helpers import make_checkpoint, noisy_tones, write_wav

FEATURES = LogMelConfig(sample_rate=16000, n_fft=1024, window=0.04, hop=0.04, n_mels=64, fmin=0.0, fmax=8000.0,
                        log_offset=1e-8, clip_duration=10.0)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    checkpoint = make_checkpoint(folder / "best.pt", FEATURES)
    return checkpoint, export_onnx(checkpoint, folder / "detector.onnx")


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
    assert "cannot use checkpoint" in capsys.readouterr().err
