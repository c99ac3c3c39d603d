"""Shared test helpers: the project root, the shared fixtures folder (skip when absent), tiny params, and
throw-away copies of the project in which to run the DVC pipeline."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import project_copy

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """../shared/fixtures, the real DCASE metadata and recordings; tests that need it skip without it."""
    if not FIXTURES.is_dir():
        pytest.skip(f"{FIXTURES} is absent (it sits beside a developer checkout, not in a user's clone)")
    return FIXTURES


@pytest.fixture
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def tiny_params() -> dict:
    """The project's params.yaml shrunk so a whole data pipeline runs in seconds (copy it before editing)."""
    return project_copy.tiny_params()


def run_command(args, cwd) -> str:
    """Run a command with this interpreter's environment first on PATH; fail the test with its output."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", PYTHONPATH=str(cwd))
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def copy_project(repo: Path, params: dict) -> Path:
    """The working tree's project files, committed to a fresh git repo at `repo`, with `params`."""
    project_copy.copy_project_files(repo)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    run_command(["git", "init", "-q"], repo)
    run_command(git + ["add", "-A"], repo)
    run_command(git + ["commit", "-qm", "tiny"], repo)
    return repo
