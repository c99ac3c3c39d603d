"""Shared test helpers: the project root, the shared fixtures folder (skip when absent), tiny params, and
throw-away copies of the project in which to run the DVC pipeline."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["soundbank"].update(clips_per_class=3, backgrounds=2, background_duration=11.0)
    raw["synth"].update(train_clips=6, test_clips=3, workers=2)
    raw["realworld"].update(weak_clips=6, validation_clips=4, test_clips=4, workers=2)
    raw["model"].update(channels=[8, 8, 8])
    raw["train"].update(seeds=[1, 2], epochs=1, batch_size=4)
    raw["eval"].update(piano_roll_clips=1)
    return raw


PROJECT_FILES = ["dvc.yaml", "params.yaml", "pyproject.toml", "ifdsed", "pipeline", "models", ".dvc/config",
                 ".dvcignore", ".gitignore"]


def run_command(args, cwd) -> str:
    """Run a command with this interpreter's environment first on PATH; fail the test with its output."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", PYTHONPATH=str(cwd))
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def copy_project(repo: Path, params: dict) -> Path:
    """The working tree's project files, committed to a fresh git repo at `repo`, with `params`."""
    repo.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, repo / name)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    run_command(["git", "init", "-q"], repo)
    run_command(git + ["add", "-A"], repo)
    run_command(git + ["commit", "-qm", "tiny"], repo)
    return repo
