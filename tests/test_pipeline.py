"""The DVC pipeline end to end, with tiny params, in a throw-away git repository."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


PROJECT_FILES = ["dvc.yaml", "params.yaml", "pyproject.toml", "ifdsed", "pipeline", "models", ".dvc/config",
                 ".dvcignore", ".gitignore"]


def run(args, cwd):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", PYTHONPATH=str(cwd))
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_params):
    """A copy of the working tree's project files, committed to a fresh git repo, with tiny params."""
    repo = tmp_path_factory.mktemp("pipeline") / "repo"
    repo.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, repo / name)
    (repo / "params.yaml").write_text(yaml.safe_dump(tiny_params, sort_keys=False))
    run(["git", "init", "-q"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "tiny"], repo)
    return repo


def test_repro_then_status_is_clean(project):
    output = run(["dvc", "repro"], project)
    assert "synthetic train: 6 clips" in output
    for set_dir in ["synthetic/train", "synthetic/test", "realworld/weak", "realworld/validation",
                    "realworld/test"]:
        assert (project / "data" / set_dir / "clips.tsv").is_file()
    assert not (project / "data/realworld/weak/events.tsv").exists()  # weak labels only
    status = run(["dvc", "status"], project)
    assert "up to date" in status.lower()


def test_new_synth_seed_reruns_only_synthesis(project):
    before = {path.name: path.read_bytes() for path in (project / "data/realworld/test/audio").iterdir()}
    old_tags = (project / "data/synthetic/train/tags.tsv").read_bytes()
    output = run(["dvc", "exp", "run", "-S", "synth.seed=7"], project)
    assert "Running stage 'synthesize'" in output
    assert "Running stage 'soundbank'" not in output and "Running stage 'realworld'" not in output
    assert (project / "data/synthetic/train/tags.tsv").read_bytes() != old_tags
    after = {path.name: path.read_bytes() for path in (project / "data/realworld/test/audio").iterdir()}
    assert after == before
