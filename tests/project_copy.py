"""The project's files copied into a throw-away folder, and params small enough for a whole pipeline in a minute
or two: shared by the tests (tests/conftest.py) and the pipeline benchmark (bench/pipeline.py)."""
import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ["dvc.yaml", "params.yaml", "pyproject.toml", "ifdsed", "pipeline", "models", ".dvc/config",
                 ".dvcignore", ".gitignore"]


def tiny_params() -> dict:
    """The project's params.yaml shrunk so a whole data pipeline runs in seconds (a fresh dict each call)."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["soundbank"].update(clips_per_class=3, backgrounds=2, background_duration=11.0)
    raw["synth"].update(train_clips=6, test_clips=3, workers=2)
    raw["realworld"].update(weak_clips=6, validation_clips=4, test_clips=4, workers=2)
    raw["model"].update(channels=[8, 8, 8])
    raw["train"].update(seeds=[1, 2], epochs=1, batch_size=4)
    raw["eval"].update(piano_roll_clips=1)
    return raw


def copy_project_files(repo: Path, extra: tuple[str, ...] = ()) -> None:
    """The working tree's PROJECT_FILES (and `extra` ones) into a new folder `repo`, without __pycache__."""
    repo.mkdir(parents=True)
    for name in PROJECT_FILES + list(extra):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, repo / name)
