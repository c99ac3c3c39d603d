"""Fixtures shared across test folders (helpers are in tests/helpers.py): the project root, the shared fixtures
folder (skip when absent), tiny params, audio files of every odd and unusable kind, a user's soundbank, and tiny
random detectors."""
from pathlib import Path

import numpy as np
import pytest

pytest.register_assert_rewrite("tests.helpers")   # before its import: its checks report like a test's asserts

from ifdsed.inference.detector import Detector  # noqa: E402
from tests import helpers  # noqa: E402
from tests.helpers import FIXTURES, METADATA, ROOT, SR, make_odd_but_usable, make_unusable, tone, wav  # noqa: E402


# ============================================================================================= the project
@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """../shared/fixtures, the real DCASE metadata and recordings; tests that need it skip without it."""
    if not FIXTURES.is_dir():
        pytest.skip(f"{FIXTURES} is absent (it sits beside a developer checkout, not in a user's clone)")
    return FIXTURES


@pytest.fixture
def metadata() -> Path:
    """../shared/fixtures/dcase_metadata, the real DCASE 2018 tables; tests that need it skip without it."""
    if not (METADATA / "weak.tsv").is_file():
        pytest.skip(f"real DCASE metadata fixtures not found at {METADATA} (shared/ is absent in a fresh clone)")
    return METADATA


@pytest.fixture
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def tiny_params() -> dict:
    """The project's params.yaml shrunk so a whole data pipeline runs in seconds (copy it before editing)."""
    return helpers.tiny_params()


# ======================================================================================================= audio
@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> tuple[Path, dict[str, str], dict[str, str]]:
    """A folder of every unusable and every odd but usable audio file, with the phrase each one's message holds."""
    folder = tmp_path_factory.mktemp("audio") / "files"
    return folder, make_unusable(folder), make_odd_but_usable(folder)


@pytest.fixture
def user_bank(tmp_path, audio) -> tuple[Path, dict[str, str], dict[str, str]]:
    """A real-soundbank layout: Dog holds every odd and unusable file, Cat one good file, one background."""
    folder, unusable, usable = audio
    root = tmp_path / "user_bank"
    dog = root / "foreground" / "Dog"
    for name in list(unusable) + list(usable):
        dog.mkdir(parents=True, exist_ok=True)
        (dog / name).write_bytes((folder / name).read_bytes())
    wav(dog / "good.wav", tone(1.0))
    wav(dog / "too_short.wav", tone(0.005))
    wav(root / "foreground" / "Cat" / "good.wav", tone(1.5, 44100), 44100)
    wav(root / "background" / "home" / "bed.wav", 0.01 * np.random.default_rng(0).standard_normal(12 * SR))
    skipped = {**unusable, "silent.wav": "silent (peak -inf dBFS", "too_short.wav": "too short (5 ms"}
    return root, skipped, {name: phrase for name, phrase in usable.items() if name != "silent.wav"}


@pytest.fixture
def real_bank(tmp_path) -> Path:
    """A small real soundbank: Dog (two files of other rates, a broken wav, a text file), Cat, one background."""
    root = tmp_path / "soundbank"
    for label, files in {"Dog": [("a.wav", 1.0, 44100), ("b.flac", 0.5, 22050)],
                         "Cat": [("c.wav", 2.0, 44100)]}.items():
        (root / "foreground" / label).mkdir(parents=True)
        for name, seconds, sr in files:
            wav(root / "foreground" / label / name, tone(seconds, sr), sr)
    (root / "foreground" / "Dog" / "broken.wav").write_bytes(b"RIFF not really a wav")
    (root / "foreground" / "Dog" / "notes.txt").write_text("not audio")
    (root / "background" / "sins").mkdir(parents=True)
    wav(root / "background" / "sins" / "bed.wav", tone(3.0, 16000), 16000)
    return root


# ================================================================================================ prediction
@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    """Default features (16 kHz, 40 ms hop, 10 s windows)."""
    return helpers.make_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.pt", helpers.default_features())


@pytest.fixture(scope="module")
def detector(model_path) -> Detector:
    return Detector.from_checkpoint(model_path, "cpu")


@pytest.fixture
def audio_dir(fixtures_dir) -> Path:
    return fixtures_dir / "real_audio"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small trained-shape checkpoint at 40 ms frames and its ONNX export: (best.pt, detector.onnx)."""
    from ifdsed.features.logmel import LogMelConfig
    from ifdsed.inference.onnx_detector import export_onnx
    features = LogMelConfig(sample_rate=16000, n_fft=1024, window=0.04, hop=0.04, n_mels=64, fmin=0.0, fmax=8000.0,
                            log_offset=1e-8, clip_duration=10.0)
    folder = tmp_path_factory.mktemp("onnx")
    checkpoint = helpers.make_checkpoint(folder / "best.pt", features)
    return checkpoint, export_onnx(checkpoint, folder / "detector.onnx")
