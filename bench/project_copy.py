"""The project as the benchmarks and the end-to-end tests copy it: the files a throw-away repository needs
(PROJECT_FILES, `copy_project_files`) and params.yaml shrunk so a whole pipeline runs in seconds
(`tiny_params`). Here, not in tests/, so that the benchmarks import no test code (tests import this)."""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

PROJECT_FILES = ["dvc.yaml", "params.yaml", "pyproject.toml", "ifdsed", "pipeline", ".dvc/config", ".dvcignore",
                 ".gitignore"]


def tiny_params() -> dict:
    """The project's params.yaml shrunk so a whole data pipeline runs in seconds (a fresh dict each call)."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    # 3 files in every group (a class, the one bed kind, a non-target kind): one each for the held-out pools
    raw["soundbank"].update(clips_per_class=3, backgrounds=3, background_kinds=["room_tone"], background_duration=11.0,
                            non_target_clips=3)
    raw["synth"].update(train_clips=6, test_clips=3, workers=2)
    raw["realworld"].update(weak_clips=6, validation_clips=4, test_clips=4, unlabelled_clips=4, workers=2)
    raw["model"].update(channels=[8, 8, 8])
    # compile off: every training stage is a new process, and compiling there costs seconds to tens of seconds
    # per process; the compiled bfloat16 path is tested in process (tests/training/), where one compile serves all
    # energy off: codecarbon costs about 2 s per training (tests/end_to_end/test_repro.py turns it on once);
    # 2 bootstrap shuffles instead of 20: the intervals' path runs, at a tenth of the PSDS evaluations
    raw["train"].update(seeds=[1, 2], epochs=1, batch_size=4, compile=False, track_energy=False)
    raw["eval"].update(piano_roll_clips=1, bootstrap_iterations=2)
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
