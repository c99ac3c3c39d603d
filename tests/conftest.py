"""Shared test helpers: the project root, the shared fixtures folder (skip when absent), tiny params."""
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"


@pytest.fixture
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
