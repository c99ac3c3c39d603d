"""The procedural sound bank: synthesizers, the embedded bank on disk, the index of a real soundbank, the stage."""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from ifdsed.soundbank.bank import build_embedded_bank, index_soundbank
from ifdsed.soundbank.manifest import MANIFEST_COLUMNS, read_manifest
from ifdsed.soundbank.synthesizers import BACKGROUND_SYNTHESIZERS, CLASS_DURATIONS, CLASS_SYNTHESIZERS

SR = 16000
SEEDS = range(6)
CLASSES = list(CLASS_SYNTHESIZERS)


@pytest.fixture(scope="module")
def clips() -> dict[str, list[np.ndarray]]:
    """Six clips per class (seeds 0-5), made once for all the synthesizer tests."""
    return {label: [CLASS_SYNTHESIZERS[label](np.random.default_rng(seed), SR) for seed in SEEDS]
            for label in CLASSES}


def _centroid(x: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    return float(np.sum(power * np.fft.rfftfreq(len(x), 1 / SR)) / np.sum(power))


def _frame_rms_db(x: np.ndarray, frame: int) -> np.ndarray:
    frames = x[: len(x) // frame * frame].reshape(-1, frame).astype(float)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)


def _band_profile(x: np.ndarray) -> np.ndarray:
    """A crude timbre feature: mean log energy in 12 log-spaced bands (level removed), plus loudness spread."""
    frames = np.lib.stride_tricks.sliding_window_view(x, 1024)[::512] * np.hanning(1024)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freq = np.fft.rfftfreq(1024, 1 / SR)
    edges = np.geomspace(100, 7000, 13)
    bands = np.log(np.stack([power[:, (freq >= lo) & (freq < hi)].sum(1).mean() for lo, hi in
                             zip(edges[:-1], edges[1:])]) + 1e-12)
    return np.append(bands - bands.mean(), 0.5 * np.std(np.log(power.sum(1) + 1e-12)))


# ---------------------------------------------------------------------------------------------------------------
# Synthesizers
# ---------------------------------------------------------------------------------------------------------------

def test_every_dcase_class_has_a_synthesizer_and_a_duration_range():
    from ifdsed.config import DCASE_CLASSES
    assert set(CLASS_SYNTHESIZERS) == set(DCASE_CLASSES) == set(CLASS_DURATIONS)
    assert set(BACKGROUND_SYNTHESIZERS) == {"room_tone", "mains_hum", "ventilation", "distant_rumble"}


@pytest.mark.parametrize("label", CLASSES)
def test_synthesizer_output_is_valid(clips, label):
    low, high = CLASS_DURATIONS[label]
    for x in clips[label]:
        assert x.dtype == np.float32 and x.ndim == 1
        assert np.all(np.isfinite(x))
        assert low * SR - 1 <= len(x) <= high * SR + 1, f"{label}: {len(x) / SR:.3f} s outside {low}-{high} s"
        assert 0.4 <= np.max(np.abs(x)) <= 0.9
        assert np.sqrt(np.mean(x.astype(float) ** 2)) > 1e-3, f"{label}: nearly silent"


@pytest.mark.parametrize("label", CLASSES)
def test_synthesizer_is_deterministic_and_varied(clips, label):
    again = CLASS_SYNTHESIZERS[label](np.random.default_rng(0), SR)
    np.testing.assert_array_equal(again, clips[label][0])
    durations = {len(x) for x in clips[label]}
    centroids = np.array([_centroid(x) for x in clips[label]])
    assert len(durations) >= 4, f"{label}: durations hardly vary"
    assert np.std(centroids) > 0.03 * np.mean(centroids), f"{label}: timbre hardly varies ({centroids.round()})"


def test_short_events_are_shorter_than_long_ones(clips):
    mean_duration = {label: np.mean([len(x) / SR for x in clips[label]]) for label in CLASSES}
    short = ["Dog", "Cat", "Dishes", "Speech"]
    long_ = ["Blender", "Vacuum_cleaner", "Frying", "Running_water", "Electric_shaver_toothbrush"]
    assert max(mean_duration[label] for label in short) < min(mean_duration[label] for label in long_)


def test_classes_are_distinct(clips):
    """Frying is brighter than voices; a nearest-mean classifier on band energies beats chance by far."""
    centroid = {label: np.median([_centroid(x) for x in clips[label]]) for label in CLASSES}
    for voice in ("Dog", "Cat", "Speech"):
        assert centroid["Frying"] > 2 * centroid[voice]
    assert centroid["Dishes"] > centroid["Speech"]

    means = {label: np.mean([_band_profile(x) for x in clips[label]], axis=0) for label in CLASSES}
    correct = 0
    for label in CLASSES:
        for seed in (100, 101, 102):                          # clips the class means never saw
            feature = _band_profile(CLASS_SYNTHESIZERS[label](np.random.default_rng(seed), SR))
            correct += min(CLASSES, key=lambda other: np.sum((means[other] - feature) ** 2)) == label
    assert correct / (3 * len(CLASSES)) >= 0.5               # chance: 0.1


@pytest.mark.parametrize("kind", list(BACKGROUND_SYNTHESIZERS))
def test_backgrounds_are_quiet_stationary_and_varied(clips, kind):
    beds = [BACKGROUND_SYNTHESIZERS[kind](np.random.default_rng(seed), SR, 4.0) for seed in (0, 1)]
    loudest_foreground_frame = min(np.max(_frame_rms_db(x, SR // 10)) for xs in clips.values() for x in xs)
    for bed in beds:
        assert bed.dtype == np.float32 and len(bed) == 4 * SR and np.all(np.isfinite(bed))
        assert 0 < np.max(np.abs(bed)) < 0.15
        assert np.max(_frame_rms_db(bed, SR // 10)) < loudest_foreground_frame - 6
        levels = _frame_rms_db(bed[SR // 10: -SR // 10], SR // 2)   # half-second frames, fades excluded
        assert np.ptp(levels) < 6.0, f"{kind}: level swings {np.ptp(levels):.1f} dB"
    assert not np.array_equal(beds[0], beds[1])


# ---------------------------------------------------------------------------------------------------------------
# The embedded bank on disk
# ---------------------------------------------------------------------------------------------------------------

BANK = dict(classes=["Dog", "Speech", "Frying"], clips_per_class=2, backgrounds=3, background_duration=1.5,
            sample_rate=SR)


def _hashes(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*.wav"))}


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("bank")
    return root, build_embedded_bank(root, seed=0, workers=2, **BANK)


def test_bank_layout_and_manifest(bank):
    root, manifest = bank
    assert list(manifest.columns) == MANIFEST_COLUMNS
    wavs = sorted(str(path.relative_to(root)) for path in root.rglob("*.wav"))
    assert sorted(manifest["path"]) == wavs
    assert not [path for path in root.rglob("*") if path.name.endswith(".tmp")]
    for partition in ("synthetic", "realworld"):
        for label in BANK["classes"]:
            assert sorted(p.name for p in (root / partition / "foreground" / label).iterdir()) == \
                [f"{label}_000.wav", f"{label}_001.wav"]
        kinds = sorted(p.name for p in (root / partition / "background").iterdir())
        assert kinds == sorted(["room_tone", "mains_hum", "ventilation"])
    counts = manifest.groupby(["partition", "role"]).size().to_dict()
    assert counts == {("realworld", "background"): 3, ("realworld", "foreground"): 6,
                      ("synthetic", "background"): 3, ("synthetic", "foreground"): 6}
    for row in manifest.itertuples():
        info = sf.info(str(root / row.path))
        assert info.samplerate == row.sample_rate == SR and info.subtype == "PCM_16" and info.channels == 1
        assert abs(info.frames / info.samplerate - row.duration) <= 0.0005
        assert row.label in Path(row.path).parts and row.role in Path(row.path).parts
    on_disk = read_manifest(root / "manifest.tsv")
    pd.testing.assert_frame_equal(on_disk, manifest)
    background = manifest[manifest["role"] == "background"]
    assert np.allclose(background["duration"], BANK["background_duration"])


def test_bank_manifest_is_sorted_tab_separated_to_the_millisecond(bank):
    root, manifest = bank
    lines = (root / "manifest.tsv").read_text().splitlines()
    assert lines[0] == "\t".join(MANIFEST_COLUMNS)
    assert all(len(line.split("\t")) == 6 and len(line.split("\t")[4].split(".")[1]) == 3 for line in lines[1:])
    assert lines[1:] == sorted(lines[1:], key=lambda line: line.split("\t")[:4])


def test_bank_partitions_are_disjoint(bank):
    root, _ = bank
    hashes = _hashes(root)
    synthetic = {h for path, h in hashes.items() if path.startswith("synthetic")}
    realworld = {h for path, h in hashes.items() if path.startswith("realworld")}
    assert len(synthetic) == len(realworld) == 9
    assert not synthetic & realworld


def test_bank_bytes_do_not_depend_on_workers_but_on_seed(bank, tmp_path):
    root, manifest = bank
    serial = build_embedded_bank(tmp_path / "serial", seed=0, workers=1, **BANK)
    assert _hashes(tmp_path / "serial") == _hashes(root)
    assert (tmp_path / "serial" / "manifest.tsv").read_bytes() == (root / "manifest.tsv").read_bytes()
    pd.testing.assert_frame_equal(serial, manifest)

    other = build_embedded_bank(tmp_path / "other", seed=1, workers=1, **BANK)
    assert not set(_hashes(tmp_path / "other").values()) & set(_hashes(root).values())
    assert list(other["path"]) == list(manifest["path"])


def test_bank_clip_does_not_depend_on_the_other_classes(bank, tmp_path):
    root, _ = bank
    build_embedded_bank(tmp_path, classes=["Speech"], clips_per_class=1, backgrounds=1, background_duration=1.5,
                        sample_rate=SR, seed=0, workers=1)
    path = "synthetic/foreground/Speech/Speech_000.wav"
    assert (tmp_path / path).read_bytes() == (root / path).read_bytes()


def test_bank_rebuild_replaces_old_files(tmp_path):
    stale = tmp_path / "synthetic" / "foreground" / "Dog" / "Dog_099.wav"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    build_embedded_bank(tmp_path, classes=["Dog"], clips_per_class=1, backgrounds=1, background_duration=1.0,
                        sample_rate=SR, seed=0, workers=1)
    assert not stale.exists()


def test_bank_unknown_class_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"classes.*'Doorbell'"):
        build_embedded_bank(tmp_path, classes=["Dog", "Doorbell"], clips_per_class=1, backgrounds=1,
                            background_duration=1.0, sample_rate=SR, seed=0, workers=1)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------------------------
# Indexing a user's real soundbank
# ---------------------------------------------------------------------------------------------------------------

def _tone(seconds: float, sr: int) -> np.ndarray:
    return 0.1 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * sr)) / sr)


@pytest.fixture
def real_bank(tmp_path) -> Path:
    root = tmp_path / "soundbank"
    for label, files in {"Dog": [("a.wav", 1.0, 44100), ("b.flac", 0.5, 22050)],
                         "Cat": [("c.wav", 2.0, 44100)]}.items():
        (root / "foreground" / label).mkdir(parents=True)
        for name, seconds, sr in files:
            sf.write(root / "foreground" / label / name, _tone(seconds, sr), sr)
    (root / "foreground" / "Dog" / "broken.wav").write_bytes(b"RIFF not really a wav")
    (root / "foreground" / "Dog" / "notes.txt").write_text("not audio")
    (root / "background" / "sins").mkdir(parents=True)
    sf.write(root / "background" / "sins" / "bed.wav", _tone(3.0, 16000), 16000)
    return root


def test_index_soundbank(real_bank):
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        manifest = index_soundbank(real_bank, ["Cat", "Dog"])
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert set(manifest["partition"]) == {"synthetic"}
    assert all(Path(path).is_absolute() and Path(path).exists() for path in manifest["path"])
    rows = {Path(row.path).name: row for row in manifest.itertuples()}
    assert sorted(rows) == ["a.wav", "b.flac", "bed.wav", "c.wav"]
    assert (rows["b.flac"].duration, rows["b.flac"].sample_rate, rows["b.flac"].label) == (0.5, 22050, "Dog")
    assert (rows["bed.wav"].role, rows["bed.wav"].label, rows["bed.wav"].duration) == ("background", "sins", 3.0)
    assert manifest.attrs["skipped"] == [str((real_bank / "foreground" / "Dog" / "broken.wav").absolute())]


def test_index_soundbank_clean_bank_has_no_warning(real_bank):
    (real_bank / "foreground" / "Dog" / "broken.wav").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert index_soundbank(real_bank, ["Dog"]).attrs["skipped"] == []


def test_index_soundbank_missing_class_folder(real_bank):
    with pytest.raises(ValueError, match=r"foreground.Speech.*'Speech'"):
        index_soundbank(real_bank, ["Dog", "Speech"])


def test_index_soundbank_class_without_audio(real_bank):
    (real_bank / "foreground" / "Blender").mkdir()
    (real_bank / "foreground" / "Blender" / "readme.txt").write_text("empty")
    with pytest.raises(ValueError, match=r"no readable audio.*Blender"):
        index_soundbank(real_bank, ["Blender"])


def test_index_soundbank_without_background(real_bank):
    (real_bank / "background" / "sins" / "bed.wav").unlink()
    with pytest.raises(ValueError, match="background"):
        index_soundbank(real_bank, ["Dog"])


# ---------------------------------------------------------------------------------------------------------------
# The DVC stage
# ---------------------------------------------------------------------------------------------------------------

def _write_params(folder: Path, **sections) -> None:
    params = {"classes": ["Cat", "Dishes"], "data": {"source": "embedded", "sample_rate": SR},
              "soundbank": {"seed": 3, "clips_per_class": 2, "backgrounds": 2, "background_duration": 1.0}}
    params.update(sections)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def test_stage_embedded(tmp_path, monkeypatch, capsys):
    from pipeline import soundbank as stage
    monkeypatch.chdir(tmp_path)
    _write_params(tmp_path)
    (tmp_path / "data" / "soundbank" / "old").mkdir(parents=True)
    assert stage.main() == 0
    out = tmp_path / "data" / "soundbank"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.tsv", "realworld", "synthetic"]
    manifest = read_manifest(out / "manifest.tsv")
    assert len(manifest) == 2 * (2 * 2 + 2) and all((out / path).exists() for path in manifest["path"])
    assert "synthetic" in capsys.readouterr().out


def test_stage_real(tmp_path, monkeypatch, real_bank, capsys):
    from pipeline import soundbank as stage
    monkeypatch.chdir(tmp_path)
    _write_params(tmp_path, classes=["Cat", "Dog"], data={"source": "real", "sample_rate": SR},
                  real={"soundbank": str(real_bank), "dcase2018": str(tmp_path)})
    with pytest.warns(UserWarning):
        assert stage.main() == 0
    out = tmp_path / "data" / "soundbank"
    assert [p.name for p in out.iterdir()] == ["manifest.tsv"]
    manifest = read_manifest(out / "manifest.tsv")
    assert len(manifest) == 4 and all((out / path).exists() for path in manifest["path"])
    assert "broken.wav" in capsys.readouterr().out
