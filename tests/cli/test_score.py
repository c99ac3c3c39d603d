"""`ifdsed score` (ifdsed/cli/score.py): the golden sed_eval figures of a DESED_task system through the
CLI, the default class list, and a bad table named in one line."""
import json
import re
import subprocess

import pytest

from ifdsed.cli.score import default_classes
from ifdsed.config import DCASE_CLASSES
from tests.helpers import FIXTURES, IFDSED, ROOT


def _report_figures(text: str) -> dict:
    """The F1 and ER figures of a sed_eval printed report: overall (micro) first, then macro; per class F."""
    f1 = [float(x) / 100 for x in re.findall(r"F-measure \(F1\)\s*:\s*([\d.]+) %", text)]
    er = [float(x) for x in re.findall(r"Error rate \(ER\)\s*:\s*([\d.]+)", text)]
    per_class = {m.group(1).strip(): float(m.group(2)) / 100
                 for m in re.finditer(r"^\s{4}(\S+)\s*\|\s*\d+\s+\d+\s*\|\s*([\d.]+)%", text, re.M)}
    return {"micro": f1[0], "macro": f1[1], "er": er[0], "per_class": per_class}


def _class_for(short: str) -> str:
    """sed_eval truncates long names to 10 characters plus '..'."""
    (name,) = [c for c in DCASE_CLASSES if c == short or (short.endswith("..") and c.startswith(short[:-2]))]
    return name


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """The CLI run once on the DESED validation set with the mean-teacher detections (about 6 s)."""
    if not FIXTURES.is_dir():
        pytest.skip(f"{FIXTURES} is absent (it sits beside a developer checkout, not in a user's clone)")
    teacher = FIXTURES / "metrics" / "desed_teacher"
    out = tmp_path_factory.mktemp("golden") / "metrics.json"
    command = [str(IFDSED), "score",
               "--truth", str(FIXTURES / "dcase_metadata" / "validation.tsv"),
               "--predictions", str(teacher / "predictions0.5.csv"),
               "--durations", str(teacher / "validation_durations.tsv"), "--out", str(out)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return {"metrics": json.loads(out.read_text()), "stdout": run.stdout,
            "event": _report_figures((teacher / "event_f1.txt").read_text()),
            "segment": _report_figures((teacher / "segment_f1.txt").read_text())}


def test_golden_event_based_figures(golden):
    metrics, expected = golden["metrics"], golden["event"]
    assert expected["macro"] == pytest.approx(0.4214) and expected["micro"] == pytest.approx(0.4235)
    assert metrics["event_f1_macro"] == pytest.approx(expected["macro"], abs=1e-4)   # 0.01 points
    assert metrics["event_f1_micro"] == pytest.approx(expected["micro"], abs=1e-4)
    assert metrics["event_error_rate"] == pytest.approx(expected["er"], abs=0.005)
    assert metrics["event_files"] == 1168
    assert len(expected["per_class"]) == 10
    for short, value in expected["per_class"].items():                                # printed to 0.1 %
        assert metrics[f"event_f1/{_class_for(short)}"] == pytest.approx(value, abs=5e-4), short


def test_golden_segment_based_figures(golden):
    metrics, expected = golden["metrics"], golden["segment"]
    assert metrics["segment_f1_macro"] == pytest.approx(expected["macro"], abs=1e-4)
    assert metrics["segment_f1_micro"] == pytest.approx(expected["micro"], abs=1e-4)
    assert metrics["segment_error_rate"] == pytest.approx(expected["er"], abs=0.005)
    for short, value in expected["per_class"].items():
        assert metrics[f"segment_f1/{_class_for(short)}"] == pytest.approx(value, abs=5e-4), short
    # durations given: every file is evaluated over at least its whole length (sum of durations 11574.2 s)
    assert metrics["segment_evaluated_length_s"] >= 11574.2 - 1e-6


def test_golden_cli_prints_a_table(golden):
    out = golden["stdout"]
    assert "macro F1" in out and "42.14" in out and "Vacuum_cleaner" in out


def test_default_classes(tmp_path, monkeypatch, project_root):
    monkeypatch.chdir(tmp_path)
    assert default_classes() == list(DCASE_CLASSES)                             # no params.yaml here
    monkeypatch.chdir(project_root)
    assert len(default_classes()) >= 1


def test_a_bad_table_is_one_line_naming_the_file(tmp_path):
    truth = tmp_path / "truth.tsv"
    truth.write_text("filename\tonset\toffset\tevent_label\na.wav\t0.0\t1.0\tDog\n")
    (tmp_path / "bad.tsv").write_text("filename\tonset\na.wav\t0.0\n")
    done = subprocess.run([str(IFDSED), "score", "--truth", str(truth), "--predictions", str(tmp_path / "bad.tsv"),
                           "--out", str(tmp_path / "m.json")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(f"score: {tmp_path / 'bad.tsv'}: missing column(s)"), done.stderr
    assert done.stderr.count("\n") == 1 and not (tmp_path / "m.json").exists()


def test_truth_and_predictions_that_share_no_file_are_refused(tmp_path):
    truth = tmp_path / "truth.tsv"
    truth.write_text("filename\tonset\toffset\tevent_label\na.wav\t0.0\t1.0\tDog\n")
    other = tmp_path / "other.tsv"                                  # another system's files, or names with a path
    other.write_text("filename\tonset\toffset\tevent_label\naudio/a.wav\t0.0\t1.0\tDog\n")
    empty = tmp_path / "empty.tsv"                                  # a system that detected nothing: scored, all 0
    empty.write_text("filename\tonset\toffset\tevent_label\n")
    done = subprocess.run([str(IFDSED), "score", "--truth", str(truth), "--predictions", str(other),
                           "--out", str(tmp_path / "m.json")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and done.stderr.startswith(f"score: {other}: none of its files is in {truth}")
    assert done.stderr.count("\n") == 1 and not (tmp_path / "m.json").exists()
    done = subprocess.run([str(IFDSED), "score", "--truth", str(truth), "--predictions", str(empty),
                           "--out", str(tmp_path / "m.json")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and json.loads((tmp_path / "m.json").read_text())["event_f1_macro"] in (0.0, None)
