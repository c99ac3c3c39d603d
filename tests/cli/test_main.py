"""The `ifdsed` command (ifdsed/cli/__init__.py): --help on the command and on each subcommand, the exit statuses
(0, 2 for a usage error, 1 for input that cannot be used, in one line), `python -m ifdsed`, and a copy of the
project running its own code (tests/helpers.py's `environment`)."""
import subprocess
import sys

import pytest

from ifdsed.cli import COMMANDS, main
from tests.helpers import copy_project_files, environment, IFDSED

OPTIONS = {
    "predict": ["PATH", "--model", "--out", "--plots", "--workers", "--batch-size", "--device", "--precision"],
    "export": ["--model", "--out"],
    "score": ["--truth", "--predictions", "--durations", "--classes", "--out"],
    "compare": ["--out", "--experiments"],
}


def ifdsed(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(IFDSED), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_help_names_every_subcommand(tmp_path):
    done = ifdsed("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ifdsed ")
    assert set(COMMANDS) == set(OPTIONS)
    for name in COMMANDS:
        assert f"    {name} " in done.stdout, done.stdout


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_each_subcommand_s_help_names_its_options(command, tmp_path):
    done = ifdsed(command, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: ifdsed {command} ")
    for option in OPTIONS[command] + ["--help"]:
        assert option in done.stdout, (option, done.stdout)


def test_usage_errors_exit_with_2(tmp_path, capsys):
    for args in (["no-such-command"], [], ["score", "--truth", "t.tsv"], ["predict", "--bogus"]):
        done = ifdsed(*args, cwd=tmp_path)
        assert done.returncode == 2 and done.stderr.startswith("usage: ifdsed"), (args, done.stderr)
    assert "invalid choice: 'no-such-command'" in ifdsed("no-such-command", cwd=tmp_path).stderr
    with pytest.raises(SystemExit) as stopped:
        main(["predict", "a.wav", "--model", "m.pt", "--out", "e.tsv", "--workers", "0"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.endswith("ifdsed predict: error: --workers must be at least 1\n")


def test_input_that_cannot_be_used_is_one_line_with_status_1(tmp_path, monkeypatch, capsys):
    done = ifdsed("predict", "missing.wav", "--model", "missing.pt", "--out", "events.tsv", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith("predict: cannot use the model: missing.pt: "), done.stderr
    assert done.stderr.count("\n") == 1 and not (tmp_path / "events.tsv").exists()
    # an IfdsedError raised by a subcommand: `<subcommand>: <message>`, no traceback
    from ifdsed.cli import compare
    monkeypatch.setattr(compare, "collect_summaries", lambda experiments, baseline: ({}, {}, {}))
    assert main(["compare", "--out", str(tmp_path / "tables")]) == 1
    assert capsys.readouterr().err == ("compare: no experiment with results/summary.json; run `dvc repro` or "
                                       "`dvc exp run` first\n")


def test_python_m_ifdsed_in_a_copy_of_the_project_runs_the_copy_s_code(tmp_path):
    repo = tmp_path / "repo"
    copy_project_files(repo)
    dispatcher = repo / "ifdsed" / "cli" / "__init__.py"
    dispatcher.write_text('"""COPY: ' + dispatcher.read_text()[3:])     # the first line is the --help description
    for command in ([sys.executable, "-m", "ifdsed", "--help"], [str(IFDSED), "--help"]):
        done = subprocess.run(command, cwd=repo, env=environment(repo), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "COPY: The `ifdsed` command:" in done.stdout, (command, done.stdout)
    # and the checkout's own command is not the copy's
    assert "COPY:" not in ifdsed("--help", cwd=tmp_path).stdout
