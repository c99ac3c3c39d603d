"""Issue 8: bad input never crashes deep inside a library and never loses finished work.

One place that walks through every case of the issue, each asserting that the message names the file (and line,
or key) and says what is wrong. The behaviour is summarised in docs/reliability.md; some cases are also covered
in the module's own tests (named in that table), and are repeated here so the list is complete in one file.

    A. bad audio: in a real soundbank, in real DCASE audio, in the features stage, in prediction input
    B. bad metadata
    C. bad parameters
    D. interruptions and checkpoints
    E. determinism
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml

from conftest import ROOT, copy_project, run_command
from ifdsed.scenes import render
from ifdsed.config import DCASE_CLASSES, ParamsError, parse_params
from ifdsed.dcase.metadata import (MetadataError, MetadataWarning, MissingAudioError, import_set, read_strong_tsv,
                          read_weak_tsv, write_set)
from ifdsed.inference.settings import detector_extra
from ifdsed.features.logmel import FeatureError, LogMelConfig
from ifdsed.features.store import build_store, load_feature_set, read_store_info
from ifdsed.io.audio import read_clip
from ifdsed.scenes.planning import ClipPlan, PlannedBackground, PlannedEvent
from ifdsed.io.audio import decode
from ifdsed.scenes.render import ClipJob, MixSettings, RenderError, render_job, write_set_tables
from ifdsed.soundbank.bank import build_embedded_bank, index_soundbank
from ifdsed.soundbank.manifest import write_manifest
from ifdsed.errors import InputError
from ifdsed.io.audio import inspect_audio
from ifdsed.soundbank.manifest import load_sources
from ifdsed.io.tables import read_clips
from ifdsed.paths import CLIP_SETS
from models import checkpoint
from models.checkpoint import CheckpointError
from models.config import ModelConfig
from models.sed_model import SEDModel
from toy_store import write_toy_store

SR = 16000
CLASSES = list(DCASE_CLASSES)


# ======================================================================================================= helpers
def tone(seconds: float, sr: int = SR, level: float = 0.1, channels: int = 1) -> np.ndarray:
    samples = level * np.sin(2 * np.pi * 440.0 * np.arange(round(seconds * sr)) / sr)
    return samples if channels == 1 else np.stack([samples] * channels, axis=1)


def wav(path: Path, audio: np.ndarray, sr: int = SR, subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr, subtype=subtype)
    return path


def cut(source: Path, path: Path, keep: float) -> Path:
    """`path` holds the first `keep` fraction of `source`'s bytes (a truncated download)."""
    data = source.read_bytes()
    path.write_bytes(data[:round(len(data) * keep)] if keep < 1 else data)
    return path


def make_unusable(folder: Path) -> dict[str, str]:
    """Every kind of audio file that cannot be used, in `folder`: {file name: phrase its message holds}."""
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder.parent / f".{folder.name}_scratch"
    scratch.mkdir(exist_ok=True)
    whole_wav = wav(scratch / "whole.wav", tone(2.0))
    whole_flac = wav(scratch / "whole.flac", tone(2.0))
    whole_ogg = wav(scratch / "whole.ogg", tone(10.0))
    (folder / "empty.wav").write_bytes(b"")
    (folder / "not_audio.wav").write_text("filename\tonset\n a spreadsheet saved as .wav\n")
    cut(whole_wav, folder / "broken_header.wav", 30 / whole_wav.stat().st_size)      # stops inside the header
    cut(whole_wav, folder / "truncated.wav", 0.5)
    cut(whole_flac, folder / "truncated.flac", 0.5)
    cut(whole_ogg, folder / "truncated.ogg", 0.5)
    corrupt = bytearray(whole_flac.read_bytes())
    corrupt[len(corrupt) // 2:len(corrupt) // 2 + 600] = bytes(600)
    (folder / "corrupt.flac").write_bytes(bytes(corrupt))
    wav(folder / "nan.wav", np.where(np.arange(2 * SR) < SR, tone(2.0), np.nan), subtype="FLOAT")
    wav(folder / "inf.wav", np.where(np.arange(2 * SR) < SR // 2, tone(2.0), np.inf), subtype="FLOAT")
    wav(folder / "no_samples.wav", np.zeros(0))
    return {"empty.wav": "cannot be read as audio", "not_audio.wav": "cannot be read as audio",
            "broken_header.wav": "cannot be read as audio", "truncated.wav": "truncated",
            "truncated.flac": "truncated", "truncated.ogg": "truncated", "corrupt.flac": "corrupt",
            "nan.wav": "NaN or Inf samples (the first at 1.000 s)",
            "inf.wav": "NaN or Inf samples (the first at 0.500 s)", "no_samples.wav": "holds no samples"}


def make_odd_but_usable(folder: Path) -> dict[str, str]:
    """Audio that can be used, some of it with a note: {file name: phrase of its note, or "" for none}."""
    wav(folder / "silent.wav", np.zeros(2 * SR))
    wav(folder / "clipped.wav", np.clip(30 * tone(2.0), -1, 1), subtype="PCM_16")
    wav(folder / "beyond_full_scale.wav", 30 * tone(2.0), subtype="FLOAT")      # not clipped: no flat top
    wav(folder / "six_channels_48k.wav", tone(2.0, 48000, channels=6), 48000)
    wav(folder / "stereo_8k.flac", tone(2.0, 8000, channels=2), 8000)
    wav(folder / "long.wav", tone(25.0, 8000), 8000)
    wav(folder / "short.wav", tone(0.3))
    return {"silent.wav": "silent", "clipped.wav": "clipped (", "beyond_full_scale.wav": "beyond full scale",
            "six_channels_48k.wav": "", "stereo_8k.flac": "", "long.wav": "", "short.wav": ""}


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> tuple[Path, dict[str, str], dict[str, str]]:
    folder = tmp_path_factory.mktemp("audio") / "files"
    return folder, make_unusable(folder), make_odd_but_usable(folder)


def write_params(folder: Path, raw: dict) -> None:
    (folder / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def run_stage(module: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", module], cwd=cwd, env=env, capture_output=True, text=True,
                           timeout=300)


def digests(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name not in skip}


# ================================================================================================== A. bad audio
# ---------------------------------------------------------------------------------------- A1. the shared check
def test_every_unusable_file_is_named_with_its_problem(audio):
    folder, unusable, usable = audio
    for name, phrase in unusable.items():
        check = inspect_audio(folder / name)
        assert not check.usable, name
        assert check.describe().startswith(f"{folder / name}: ") and phrase in check.problem, check.describe()
    for name, phrase in usable.items():
        check = inspect_audio(folder / name)
        assert check.usable, check.describe()
        assert (phrase in "; ".join(check.notes)) if phrase else not check.notes, (name, check.notes)
    odd = {name: inspect_audio(folder / name) for name in ("six_channels_48k.wav", "stereo_8k.flac", "long.wav")}
    assert [(c.sample_rate, c.channels) for c in odd.values()] == [(48000, 6), (8000, 2), (8000, 1)]
    assert odd["long.wav"].duration == 25.0
    assert inspect_audio(folder / "long.wav", max_seconds=11.0).checked == 11.0   # decodes what is used only


# ------------------------------------------------------------------------------------ A2. a user's soundbank
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


def test_soundbank_skips_and_lists_every_unusable_file(user_bank):
    root, skipped, kept = user_bank
    with pytest.warns(UserWarning, match=r"kept 2 clipped file\(s\) or file\(s\) beyond full scale, e.g. .*Dog/\w+"):
        with pytest.warns(UserWarning, match=rf"skipped {len(skipped)} unreadable file\(s\), e.g. .*Dog/\w+"):
            manifest = index_soundbank(root, ["Cat", "Dog"])
    names = {Path(path).name: path for path in manifest["path"] if "/Dog/" in path}
    assert sorted(names) == sorted(["good.wav", *kept])          # odd rates, channels and lengths are kept
    reasons = manifest.attrs["skipped_reasons"]
    assert sorted(Path(path).name for path in reasons) == sorted(skipped)
    for path, reason in reasons.items():
        assert skipped[Path(path).name] in reason, (path, reason)
    assert {Path(p).name for p in manifest.attrs["notes"]} == {"clipped.wav", "beyond_full_scale.wav"}
    rows = manifest.set_index(manifest["path"].map(lambda p: Path(p).name))
    assert rows.loc["six_channels_48k.wav", "sample_rate"] == 48000 and rows.loc["long.wav", "duration"] == 25.0


def test_soundbank_stage_lists_skipped_files_with_reasons(user_bank, tmp_path, monkeypatch, capsys, tiny_params):
    from pipeline import soundbank as stage
    root, skipped, _ = user_bank
    raw = json.loads(json.dumps(tiny_params))
    raw["data"]["source"] = "real"
    raw["real"].update(soundbank=str(root), dcase2018=str(tmp_path))
    raw["classes"] = ["Cat", "Dog"]
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, raw)
    with pytest.warns(UserWarning):
        assert stage.main() == 0
    out = capsys.readouterr().out
    for name, phrase in skipped.items():
        assert any(f"/Dog/{name}: " in line and phrase in line for line in out.splitlines()), (name, out)
    assert "clipped.wav: clipped" in out and "Scaper resamples them to 16000 Hz" in out


def test_scaper_mixes_sources_of_other_rates_channels_and_lengths(user_bank, tmp_path):
    root, _, _ = user_bank
    dog = root / "foreground" / "Dog"
    events = tuple(PlannedEvent("Dog", str(dog / name), source_time, onset, 0.8, 10.0, 0.0)
                   for name, source_time, onset in [("six_channels_48k.wav", 0.5, 0.1), ("stereo_8k.flac", 0.0, 1.0),
                                                    ("long.wav", 20.0, 2.0), ("clipped.wav", 0.2, 3.0)])
    plan = ClipPlan("odd_sources", PlannedBackground("home", str(root / "background/home/bed.wav"), 0.0), events)
    mix = MixSettings(str(root / "foreground"), str(root / "background"), SR, 4.0, -50.0)
    out = tmp_path / "audio"
    out.mkdir()
    filename, labels = render_job(ClipJob(plan, 1, mix, str(out), None))
    signal_, rate = sf.read(out / filename)
    assert rate == SR and signal_.shape == (4 * SR,) and np.isfinite(signal_).all() and np.abs(signal_).max() > 0
    assert [label for _, _, label in labels] == ["Dog"] * 4


def test_a_clip_scaper_cannot_mix_names_the_clip_and_its_sources(user_bank, tmp_path):
    root, _, _ = user_bank
    too_short = root / "foreground" / "Dog" / "too_short.wav"     # what the index skips: Scaper fails on it
    plan = ClipPlan("syn_train_00007", PlannedBackground("home", str(root / "background/home/bed.wav"), 0.0),
                    (PlannedEvent("Dog", str(too_short), 0.0, 1.0, 0.005, 10.0, 0.0),))
    mix = MixSettings(str(root / "foreground"), str(root / "background"), SR, 2.0, -50.0)
    with pytest.raises(RenderError) as error:
        render_job(ClipJob(plan, 1, mix, str(tmp_path), None))
    message = str(error.value)
    assert message.startswith("syn_train_00007: Scaper could not mix it from ") and str(too_short) in message
    assert not list(tmp_path.glob("*.wav"))


def test_failures_in_the_rendering_workers_name_the_clip(user_bank, tmp_path):
    root, _, _ = user_bank
    plan = ClipPlan("rw_weak_00001", PlannedBackground("home", str(root / "background/home/bed.wav"), 0.0),
                    (PlannedEvent("Dog", str(root / "foreground/Dog/long.wav"), 0.0, 1.0, 0.5, 10.0, 0.0),))
    mix = MixSettings(str(root / "foreground"), str(root / "background"), SR, 2.0, -50.0)

    def broken_recorder(audio, seed):
        raise RuntimeError("the room model diverged")

    def make_job(set_index, clip_index):
        if set_index == 0:
            raise ValueError("no source audio for class 'Dog'")
        return ClipJob(plan, 1, mix, str(tmp_path / "audio"), None, broken_recorder)

    for workers in (1, 2):
        with pytest.raises(RenderError, match=r"^clip 0 of the weak set could not be planned: ValueError: no "
                                              r"source audio for class 'Dog'$"):
            list(render.render_sets(make_job, {"weak": 2}, workers, "test"))
        with pytest.raises(RenderError, match=r"^rw_weak_00001: RuntimeError: the room model diverged$"):
            list(render.render_sets(make_job, {"weak": 0, "test": 2}, workers, "test"))
    assert not list((tmp_path / "audio").glob("*.wav"))


def test_a_rendering_worker_that_dies_stops_the_stage_instead_of_hanging(tmp_path):
    parent = os.getpid()

    def make_job(set_index, clip_index):
        if os.getpid() != parent:
            os._exit(9)      # what the kernel's out-of-memory killer leaves behind
        raise AssertionError("only the workers plan clips")

    with pytest.raises(RenderError, match="a rendering worker process died"):
        list(render.render_sets(make_job, {"train": 3}, 2, "test"))


def test_synthesis_sources_are_checked_before_scaper(user_bank, tmp_path):
    root, _, _ = user_bank
    manifest_path = tmp_path / "soundbank" / "manifest.tsv"
    with pytest.raises(InputError, match=r"manifest.tsv: not found: run the soundbank stage first"):
        load_sources("synthetic", manifest_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manifest = index_soundbank(root, ["Cat", "Dog"])
    write_manifest(manifest, manifest_path)
    assert len(load_sources("synthetic", manifest_path)[0]) == len(manifest)
    (root / "foreground" / "Cat" / "good.wav").unlink()                     # deleted since indexing
    wav(root / "foreground" / "Dog" / "good.wav", tone(0.5))                # replaced by a shorter file
    with pytest.raises(InputError) as error:
        load_sources("synthetic", manifest_path)
    message = str(error.value)
    assert "2 source file(s) changed since the soundbank stage indexed them" in message
    assert f"{root}/foreground/Cat/good.wav: missing" in message
    assert f"{root}/foreground/Dog/good.wav: 0.500 s long, the manifest says 1.000 s" in message
    assert "dvc repro -f soundbank" in message


# --------------------------------------------------------------------------------------- A3. real DCASE audio
def strong_table(path: Path, names: list[str]) -> Path:
    path.write_text("filename\tonset\toffset\tevent_label\n" + "".join(f"{n}\t0.5\t1.5\tDog\n" for n in names))
    return path


def test_dcase_import_skips_and_reports_unusable_audio(audio, tmp_path):
    folder, unusable, usable = audio
    names = ["good.wav", "absent.wav", *unusable, *usable]
    wav(folder.parent / "dcase" / "good.wav", tone(10.0, 44100), 44100)
    for name in [*unusable, *usable]:
        (folder.parent / "dcase" / name).write_bytes((folder / name).read_bytes())
    tsv = strong_table(tmp_path / "eval.tsv", names)
    out = tmp_path / "out" / "test"
    report = import_set("test", tsv, folder.parent / "dcase", CLASSES, out, strong=True, max_missing_fraction=1.0)
    assert report["missing"] == ["absent.wav"] and report["n_present"] == 1 + len(usable)
    assert sorted(report["unreadable"]) == sorted(unusable)
    for name, phrase in unusable.items():
        assert phrase in report["unreadable_reasons"][name], (name, report["unreadable_reasons"][name])
    notes = report["notes"]
    assert "silent" in notes["silent.wav"] and "clipped (" in notes["clipped.wav"]
    assert notes["long.wav"] == "25.000 s long: only the first 10 s are used"
    assert notes["short.wav"] == "only 0.300 s long: padded with silence"
    assert json.loads((out / "import_report.json").read_text()) == report
    assert sorted(read_clips(out / "clips.tsv")["filename"]) == sorted(["good.wav", *usable])

    # Too much unusable audio: the stage stops, naming the set, the counts and where the lists are.
    with pytest.raises(MissingAudioError) as error:
        import_set("test", tsv, folder.parent / "dcase", CLASSES, tmp_path / "strict", strong=True,
                   max_missing_fraction=0.2)
    assert (f"set 'test': {len(unusable) + 1} of {len(names)} clips have no usable audio "
            f"(1 missing, {len(unusable)} unreadable)") in str(error.value)
    assert str(tmp_path / "strict" / "import_report.json") in str(error.value)


def test_features_of_odd_audio_and_a_nan_clip_that_slipped_in(audio, tmp_path):
    """Other rates, channel counts, very short and long clips, silence and clipping all give finite features;
    a NaN clip in a set (changed after the import checked it) stops the features stage naming it."""
    folder, _, usable = audio
    config = LogMelConfig(sample_rate=SR, n_fft=512, window=0.032, hop=0.1, n_mels=32, fmin=0.0, fmax=8000.0,
                          log_offset=1e-8, clip_duration=4.0)
    set_dir = tmp_path / "set"
    set_dir.mkdir()
    names = sorted(usable)
    pd.DataFrame({"filename": names, "path": [str(folder / n) for n in names], "duration": 4.0}).to_csv(
        set_dir / "clips.tsv", sep="\t", index=False)
    pd.DataFrame({"filename": names, "event_labels": "Dog"}).to_csv(set_dir / "tags.tsv", sep="\t", index=False)
    build_store({"s": set_dir}, tmp_path / "features", config, CLASSES, train_sets=("s",), workers=2, device="cpu")
    stored = load_feature_set(tmp_path / "features", "s").features
    assert stored.shape == (len(names), 40, 32) and np.isfinite(stored.astype(np.float32)).all()

    for bad, phrase in [("nan.wav", "holds NaN or Inf samples (the first at 1.000 s)"),
                        ("huge.wav", "gives non-finite log-mel features (samples up to 1e+29")]:
        if bad == "huge.wav":
            wav(tmp_path / bad, 1e30 * tone(1.0), subtype="DOUBLE")
        path = folder / bad if bad == "nan.wav" else tmp_path / bad
        clips = pd.read_csv(set_dir / "clips.tsv", sep="\t")
        clips.loc[2, "path"] = str(path)
        clips.to_csv(set_dir / "clips.tsv", sep="\t", index=False)
        with pytest.raises(FeatureError) as error:
            build_store({"s": set_dir}, tmp_path / "new", config, CLASSES, train_sets=("s",), workers=2,
                        device="cpu")
        assert str(error.value).startswith(f"{path}: ") and phrase in str(error.value), str(error.value)
        assert "the features stage stops here" in str(error.value)
        assert not (tmp_path / "new").exists()                     # nothing that looks like a store


def test_load_clip_names_a_nan_file(audio):
    folder, _, _ = audio
    config = LogMelConfig(sample_rate=SR, n_fft=512, window=0.032, hop=0.1, n_mels=32, fmin=0.0, fmax=8000.0,
                          log_offset=1e-8, clip_duration=4.0)
    with pytest.raises(InputError, match=rf"^{folder}/inf.wav: holds NaN or Inf samples \(the first at 0.500 s\)"):
        read_clip(folder / "inf.wav", config.sample_rate, config.clip_samples)


# ---------------------------------------------------------------------------------------- A4. prediction input
def tiny_checkpoint(path: Path) -> Path:
    params = parse_params({})
    features = LogMelConfig.from_params(params.features, params.data.clip_duration)
    torch.manual_seed(0)
    model = SEDModel(ModelConfig(n_mels=features.n_mels, n_classes=len(params.classes), channels=(4, 4, 4)))
    extra = detector_extra(params, features, np.full(features.n_mels, -6.0, np.float32),
                           np.full(features.n_mels, 3.0, np.float32), np.full(len(params.classes), 3))
    checkpoint.save(path, model, extra={"detector": extra})
    return path


def test_prediction_input(audio, tmp_path, capsys):
    from pipeline import predict as cli
    folder, unusable, usable = audio
    for name, phrase in [("nan.wav", "holds NaN or Inf samples (the first at 1.000 s)"),
                         ("corrupt.flac", "lost sync")]:
        with pytest.raises(Exception, match=phrase.replace("(", r"\(").replace(")", r"\)")):
            decode(folder / name, SR)
    huge = wav(tmp_path / "huge.wav", 1e30 * tone(1.0), subtype="DOUBLE")
    with pytest.raises(ValueError, match="holds samples up to 1e\\+29 times full scale"):
        decode(huge, SR)
    notes = {name: decode(folder / name, SR)[2] for name in usable}
    assert "is silent" in notes["silent.wav"][0] and "is clipped (" in notes["clipped.wav"][0]
    assert not notes["six_channels_48k.wav"] and not notes["long.wav"]
    assert decode(folder / "long.wav", SR)[1] == 25.0

    inputs = tmp_path / "inputs"
    for name in ["nan.wav", "empty.wav", "truncated.flac", "silent.wav", "clipped.wav", "six_channels_48k.wav",
                 "long.wav", "short.wav"]:
        inputs.mkdir(exist_ok=True)
        (inputs / name).write_bytes((folder / name).read_bytes())
    model = tiny_checkpoint(tmp_path / "best.pt")
    out = tmp_path / "events.tsv"
    assert cli.main([str(inputs), "--model", str(model), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    for name, phrase in [("nan.wav", "NaN or Inf"), ("empty.wav", "Format not recognised"),
                         ("truncated.flac", "lost sync")]:
        assert any(f"skipped {inputs / name}: " in line and phrase in line for line in err.splitlines()), err
    assert f"note: {inputs / 'silent.wav'} is silent" in err and f"note: {inputs / 'clipped.wav'} is clipped" in err
    table = pd.read_csv(out, sep="\t")
    assert set(table["filename"]) <= {"silent.wav", "clipped.wav", "six_channels_48k.wav", "long.wav", "short.wav"}


# ============================================================================================== B. bad metadata
HEADER = "filename\tonset\toffset\tevent_label\n"
BAD_METADATA = {   # case: (reader, table text, line, phrases)
    "missing columns": ("strong", "filename\tonset\tlabel\na.wav\t0\tDog\n", 1,
                        ["missing column(s) ['offset', 'event_label']", "found ['filename', 'onset', 'label']"]),
    "unknown label": ("strong", HEADER + "a.wav\t0\t1\tDog\nb.wav\t0\t1\tDgo\n", 3,
                      ["unknown label 'Dgo'", "did you mean 'Dog'?", "valid classes: Alarm_bell_ringing"]),
    "unknown weak label": ("weak", "filename\tevent_labels\na.wav\tDog,Speach\n", 2, ["unknown label 'Speach'"]),
    "onset after offset": ("strong", HEADER + "a.wav\t3.5\t1.0\tDog\n", 2, ["onset 3.5 is after offset 1.0"]),
    "negative onset": ("strong", HEADER + "a.wav\t-0.5\t1\tDog\n", 2, ["negative onset -0.5"]),
    "negative offset": ("strong", HEADER + "a.wav\t0\t-1\tDog\n", 2, ["negative offset -1.0"]),
    "not a number": ("strong", HEADER + "a.wav\t0\t1,5\tDog\n", 2, ["offset '1,5' is not a number"]),
    "conflicting duplicate": ("weak", "filename\tevent_labels\na.wav\tDog\na.wav\tCat\n", 3,
                              ["clip 'a.wav' is listed again with labels 'Cat' (line 2 gives 'Dog')"]),
    "semicolons": ("strong", "filename;onset;offset;event_label\na.wav;0;1;Dog\n", 1,
                   ["missing column(s)", "looks separated by ';'", "tab- or comma-separated"]),
    "escapes the audio folder": ("strong", HEADER + "a.wav\t0\t1\tDog\n../../x.wav\t0\t1\tDog\n", 3,
                                 ["filename '../../x.wav' contains '..' and would escape the audio folder"]),
    "absolute filename": ("weak", "filename\tevent_labels\n/etc/passwd\tDog\n", 2, ["is an absolute path"]),
    "too many fields": ("strong", HEADER + "a.wav\t0\t1\tDog\tCat\n", 2, ["5 fields but the header has 4"]),
    "empty file": ("weak", "", 1, ["empty file or empty header"]),
}


@pytest.mark.parametrize("case", sorted(BAD_METADATA))
def test_bad_metadata_names_file_line_and_problem(tmp_path, case):
    reader, text, line, phrases = BAD_METADATA[case]
    path = tmp_path / "meta.tsv"
    path.write_text(text)
    with pytest.raises(MetadataError) as error:
        read_strong_tsv(path, CLASSES) if reader == "strong" else read_weak_tsv(path, CLASSES)
    assert str(error.value).startswith(f"{path}:{line}: "), str(error.value)
    for phrase in phrases:
        assert phrase in str(error.value), str(error.value)


def test_duplicate_rows_are_dropped_with_a_warning_naming_their_lines(tmp_path):
    path = tmp_path / "meta.tsv"
    path.write_text(HEADER + "a.wav\t0\t1\tDog\nb.wav\t0\t1\tCat\na.wav\t0\t1\tDog\na.wav\t0\t1\tDog\n")
    with pytest.warns(MetadataWarning, match=rf"{path}: dropped 2 duplicate row\(s\) at line\(s\) \[4, 5\]"):
        events, _ = read_strong_tsv(path, CLASSES)
    assert len(events) == 2


def test_bad_metadata_stops_the_realworld_stage_before_it_deletes_anything(tmp_path, monkeypatch, tiny_params):
    from pipeline import realworld as stage
    desed = tmp_path / "desed"
    (desed / "metadata" / "train").mkdir(parents=True)
    (desed / "metadata" / "train" / "weak.tsv").write_text("filename\tevent_labels\n../../x.wav\tDog\n")
    raw = json.loads(json.dumps(tiny_params))
    raw["data"]["source"] = "real"
    raw["real"].update(soundbank=str(tmp_path), dcase2018=str(desed))
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, raw)
    previous = tmp_path / "data" / "realworld" / "weak" / "clips.tsv"
    previous.parent.mkdir(parents=True)
    previous.write_text("filename\tpath\tduration\n")
    with pytest.raises(MetadataError, match=rf"{desed}/metadata/train/weak.tsv:2: filename '../../x.wav'"):
        stage.main()
    assert previous.is_file()
    done = run_stage("pipeline.realworld", tmp_path)                  # as DVC runs it: one line, no traceback
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith(f"realworld: {desed}/metadata/train/weak.tsv:2: filename '../../x.wav'")


# ============================================================================================ C. bad parameters
BAD_PARAMS = [   # (section, key, value, phrase): each message starts with params.yaml and names the key
    ("synth", "train_clips", "many", "params.yaml: synth.train_clips: Input should be a valid integer"),
    ("features", "n_mels", 2, "params.yaml: features.n_mels: 2 mel bins do not survive the encoder's three (1, 4) "
                              "frequency pools: use n_mels >= 64"),
    ("realworld", "snr_db", [20, 0], "params.yaml: realworld.snr_db: the lower bound 20.0 is above the upper"),
    ("train", "devise", "cpu", "params.yaml: train.devise: unknown key (misspelt?)"),
    (None, "classes", [], "params.yaml: classes: the class list is empty"),
    (None, "classes", ["Dog", "Cat,Dog"], "params.yaml: classes: 'Cat,Dog' is not a usable class name"),
    (None, "classes", ["Dog", "Doorbell"], "params.yaml: classes: 'Doorbell' is not a DCASE class"),
    (None, "data", {"source": "real"}, "params.yaml: data.source is 'real' but real.soundbank or real.dcase2018"),
]


@pytest.mark.parametrize("section, key, value, phrase", BAD_PARAMS, ids=[case[1] for case in BAD_PARAMS])
def test_bad_params_name_the_key(tiny_params, section, key, value, phrase):
    raw = json.loads(json.dumps(tiny_params))
    if section is None:
        raw[key] = value
    else:
        raw[section][key] = value
    with pytest.raises(ParamsError) as error:
        parse_params(raw)
    assert phrase in str(error.value), str(error.value)


def test_a_class_missing_from_the_soundbank_stops_before_any_work(user_bank, tmp_path, monkeypatch, tiny_params):
    """data.source: real and a soundbank without some class: the soundbank stage fails at once, naming
    real.soundbank, the folder and the class, without decoding a file or touching the previous bank."""
    from ifdsed.soundbank.synthesizers import bank
    root, _, _ = user_bank
    decoded = []
    monkeypatch.setattr(bank, "inspect_audio", lambda path, *a: decoded.append(path))
    with pytest.raises(InputError) as error:
        index_soundbank(root, ["Cat", "Dog", "Speech", "Frying"])
    message = str(error.value)
    assert message.startswith("real.soundbank: no foreground folder for 2 class(es) of `classes`: ")
    assert f"{root}/foreground/Speech (class 'Speech')" in message and "(class 'Frying')" in message
    assert decoded == []
    with pytest.raises(InputError, match=rf"real.soundbank: {tmp_path}/nowhere is not a folder"):
        index_soundbank(tmp_path / "nowhere", ["Dog"])

    raw = json.loads(json.dumps(tiny_params))
    raw["data"]["source"] = "real"
    raw["real"].update(soundbank=str(root), dcase2018=str(tmp_path))
    write_params(tmp_path, raw)
    previous = tmp_path / "data" / "soundbank" / "manifest.tsv"
    previous.parent.mkdir(parents=True)
    previous.write_text("partition\trole\tlabel\tpath\tduration\tsample_rate\n")
    done = run_stage("pipeline.soundbank", tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("soundbank: real.soundbank: no foreground folder for 8 class(es)")
    assert "(class 'Alarm_bell_ringing')" in done.stderr and previous.is_file()


# ============================================================================ D. interruptions and checkpoints
def test_a_killed_wav_write_leaves_only_a_temporary_file(tmp_path, monkeypatch):
    def killed(path, data, *args, **kwargs):
        Path(path).write_bytes(b"RIFF\x00\x00")      # half a file under the temporary name, then the kill
        raise KeyboardInterrupt
    monkeypatch.setattr(render.soundfile, "write", killed)
    with pytest.raises(KeyboardInterrupt):
        render.write_wav(tmp_path / "clip.wav", tone(1.0), SR)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.wav.tmp.wav"]


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt   # as if the process were killed here


def complete_sets(root: Path) -> None:
    """The five clip sets of the features stage, each with one clip, under root/data."""
    for name, folder in CLIP_SETS.items():
        events = pd.DataFrame([("a.wav", 0.5, 1.0, "Dog")], columns=["filename", "onset", "offset", "event_label"])
        wav(root / folder / "audio" / "a.wav", tone(1.0))
        write_set_tables(root / folder, ["a.wav"], events, 1.0, expose_events=name != "realworld_weak")


def test_an_interrupted_set_is_never_taken_as_complete(tmp_path, monkeypatch):
    from pipeline import features as stage
    monkeypatch.chdir(tmp_path)
    complete_sets(tmp_path)
    assert stage._check_sets() == 5
    # the realworld stage killed while writing its test set's tables: events and tags are there, clips.tsv not
    test_set = tmp_path / "data" / "realworld" / "test"
    wav(test_set / "audio" / "b.wav.tmp.wav", tone(0.1))
    events = pd.DataFrame([("a.wav", 0.5, 1.0, "Dog")], columns=["filename", "onset", "offset", "event_label"])
    monkeypatch.setattr(render, "write_clips", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_set_tables(test_set, ["a.wav"], events, 1.0)
    assert (test_set / "events.tsv").is_file() and (test_set / "tags.tsv").is_file()
    with pytest.raises(SystemExit, match=r"data/realworld/test/clips.tsv is missing \(the set is absent or "
                                         r"unfinished\): run the stage that writes realworld_test first"):
        stage._check_sets()
    # the same for an imported set
    scanned_dir = tmp_path / "data" / "realworld" / "validation"
    from ifdsed.dcase.metadata import ScannedSet
    from ifdsed.dcase import metadata as dcase
    monkeypatch.setattr(dcase, "write_clips", interrupt)
    scanned = ScannedSet({}, read_clips(scanned_dir / "clips.tsv"), pd.read_csv(scanned_dir / "tags.tsv", sep="\t"),
                         events)
    with pytest.raises(KeyboardInterrupt):
        write_set(scanned, scanned_dir)
    assert not (scanned_dir / "clips.tsv").exists()


def test_an_interrupted_feature_store_is_never_read(tmp_path, monkeypatch):
    import ifdsed.features.store as features
    complete_sets(tmp_path)
    config = LogMelConfig(sample_rate=SR, n_fft=512, window=0.032, hop=0.1, n_mels=32, fmin=0.0, fmax=8000.0,
                          log_offset=1e-8, clip_duration=1.0)
    sets = {name: tmp_path / folder for name, folder in CLIP_SETS.items()}
    real_write_set, calls = features._write_set, []

    def killed_in_third_set(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_write_set(*args, **kwargs)

    monkeypatch.setattr(features, "_write_set", killed_in_third_set)
    with pytest.raises(KeyboardInterrupt):
        build_store(sets, tmp_path / "features", config, CLASSES, root=tmp_path, workers=1, device="cpu")
    assert (tmp_path / "features.partial" / "synthetic_train.npy").is_file()
    assert not (tmp_path / "features").exists()
    with pytest.raises(FileNotFoundError, match=r"features/features.json: no complete feature store here"):
        load_feature_set(tmp_path / "features", "synthetic_train")
    monkeypatch.setattr(features, "_write_set", real_write_set)
    build_store(sets, tmp_path / "features", config, CLASSES, root=tmp_path, workers=1, device="cpu")
    assert read_store_info(tmp_path / "features")["sets"].keys() == sets.keys()
    assert not (tmp_path / "features.partial").exists()


def test_an_interrupted_soundbank_stage_keeps_the_previous_bank(tmp_path, monkeypatch, tiny_params):
    from pipeline import soundbank as stage
    raw = json.loads(json.dumps(tiny_params))
    raw["classes"] = ["Dog"]
    raw["soundbank"].update(clips_per_class=2, backgrounds=2, background_duration=1.0, workers=1)
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, raw)
    manifest = tmp_path / "data" / "soundbank" / "manifest.tsv"
    real_build = stage.build_embedded_bank

    def killed(root, *args, **kwargs):
        wav(Path(root) / "synthetic" / "foreground" / "Dog" / "Dog_000.wav", tone(0.5))
        raise KeyboardInterrupt

    monkeypatch.setattr(stage, "build_embedded_bank", killed)
    with pytest.raises(KeyboardInterrupt):
        stage.main()                                            # the first run is killed: no bank at all
    with pytest.raises(InputError, match="manifest.tsv: not found: run the soundbank stage first"):
        load_sources("synthetic", manifest)
    monkeypatch.setattr(stage, "build_embedded_bank", real_build)
    assert stage.main() == 0
    before = manifest.read_bytes()
    monkeypatch.setattr(stage, "build_embedded_bank", killed)
    with pytest.raises(KeyboardInterrupt):
        stage.main()                                            # a later run is killed: the old bank stays
    assert manifest.read_bytes() == before and len(load_sources("synthetic", manifest)[0]) == 2 + 2


def test_a_killed_checkpoint_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = SEDModel(ModelConfig(channels=(4, 4, 4)))
    path = tmp_path / "last.pt"
    checkpoint.save(path, model, epoch=1)

    def killed(payload, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, model, epoch=2)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"] and checkpoint.load(path).epoch == 1


def leave_marker(path: str) -> None:
    Path(path).touch()


class Payload:
    """Whatever a pickled object does when it is loaded: here, call leave_marker (it could be os.system)."""
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (leave_marker, (self.marker,))


def test_checkpoints_cannot_run_code_and_bad_ones_are_named(tmp_path):
    marker = tmp_path / "code_ran"
    model = SEDModel(ModelConfig(channels=(4, 4, 4)))
    evil = tmp_path / "evil.pt"
    torch.save({"model_config": model.config.to_dict(), "state_dict": model.state_dict(), "optimizer": None,
                "epoch": 1, "extra": {"hook": Payload(str(marker))}}, evil)
    with pytest.raises(CheckpointError) as error:
        checkpoint.load(evil)
    assert str(error.value).startswith(f"{evil}: refused: it holds Python objects other than tensors and plain "
                                       f"values (test_reliability.leave_marker)") and "could run code" in str(error.value)
    assert not marker.exists()

    good = tmp_path / "good.pt"
    checkpoint.save(good, model)
    cut(good, tmp_path / "truncated.pt", 0.5)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    for name, phrase in [("truncated.pt", "not a readable checkpoint (truncated or corrupt?)"),
                         ("list.pt", "not a checkpoint of this project: expected the keys ['model_config'"),
                         ("absent.pt", "no such checkpoint file")]:
        with pytest.raises(CheckpointError) as error:
            checkpoint.load(tmp_path / name)
        assert str(error.value).startswith(f"{tmp_path / name}: {phrase}"), str(error.value)


def test_predict_refuses_an_unsafe_checkpoint(tmp_path, capsys):
    from pipeline import predict as cli
    evil = tmp_path / "evil.pt"
    torch.save({"model_config": {}, "state_dict": {}, "optimizer": None, "epoch": 0,
                "extra": {"hook": Payload(str(tmp_path / "code_ran"))}}, evil)
    wav(tmp_path / "a.wav", tone(1.0))
    assert cli.main([str(tmp_path / "a.wav"), "--model", str(evil), "--out", str(tmp_path / "e.tsv")]) == 1
    assert f"cannot use checkpoint {evil}: {evil}: refused" in capsys.readouterr().err
    assert not (tmp_path / "code_ran").exists()


# ----------------------------------------------------------------------------------- training resume (tiny)
def tiny_store(root: Path) -> Path:
    """The toy store of tests/toy_store.py with a test set, and the event tables scoring reads."""
    return write_toy_store(root, [("synthetic_train", 16, True), ("realworld_weak", 16, False),
                                  ("realworld_validation", 6, True), ("realworld_test", 6, True)],
                           event_tables=True)


def training_params(**train):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["model"].update(channels=[4, 4, 4], ifd=True, sedb=True)
    raw["train"].update(dict(seeds=[1], epochs=3, batch_size=8, threads=1, lr=0.01), **train)
    return parse_params(raw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run straight through, and the store it used."""
    from ifdsed.training.loop import train_seed
    base = tmp_path_factory.mktemp("training")
    store = tiny_store(base / "features")
    summary = train_seed(training_params(), 1, store, base / "straight")
    return base, store, summary


def test_training_resumes_from_its_last_checkpoint(trained, monkeypatch, capsys):
    import ifdsed.training.loop as training
    base, store, _ = trained
    real_score, calls = training.selection_score, []

    def killed_in_epoch_three(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_score(*args)

    monkeypatch.setattr(training, "selection_score", killed_in_epoch_three)
    with pytest.raises(KeyboardInterrupt):
        training.train_seed(training_params(), 1, store, base / "resumed")
    assert checkpoint.load(base / "resumed/checkpoints/last.pt").epoch == 2
    monkeypatch.setattr(training, "selection_score", real_score)
    training.train_seed(training_params(), 1, store, base / "resumed")
    assert f"resuming {base / 'resumed/checkpoints/last.pt'} after epoch 2" in capsys.readouterr().out
    straight = checkpoint.load(base / "straight/checkpoints/last.pt").model.state_dict()
    resumed = checkpoint.load(base / "resumed/checkpoints/last.pt").model.state_dict()
    assert all(torch.equal(straight[key], resumed[key]) for key in straight)


@pytest.mark.skipif(os.environ.get("IFDSED_SKIP_DVC") == "1", reason="IFDSED_SKIP_DVC=1")
def test_dvc_repro_completes_after_a_stage_is_killed(tmp_path, tiny_params):
    """`dvc repro` of the data stages, killed mid-way through synthesis, then run again: it completes, and
    `dvc status` is clean (nothing of the killed run was taken as complete)."""
    raw = json.loads(json.dumps(tiny_params))
    raw["classes"] = ["Dog", "Speech"]
    raw["soundbank"].update(clips_per_class=2, backgrounds=2, workers=1)
    raw["synth"].update(train_clips=4, test_clips=1, workers=1)
    repo = copy_project(tmp_path / "repo", raw)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", PYTHONPATH=str(repo))
    process = subprocess.Popen(["dvc", "repro", "synthesize"], cwd=repo, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    audio = repo / "data" / "synthetic" / "train" / "audio"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (audio.is_dir() and any(audio.glob("*.wav"))):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert audio.is_dir(), "synthesis never started"
    assert not (repo / "data" / "synthetic" / "test" / "clips.tsv").exists()   # killed before the end
    output = run_command(["dvc", "repro", "synthesize"], repo)
    assert "synthetic train: 4 clips" in output
    assert "up to date" in run_command(["dvc", "status", "synthesize"], repo).lower()


# ================================================================================================ E. determinism
def test_simulated_realworld_sets_are_byte_identical_run_after_run(tmp_path, tiny_params):
    from ifdsed.scenes.realworld import simulate_sets
    raw = json.loads(json.dumps(tiny_params))
    raw["realworld"].update(weak_clips=2, validation_clips=1, test_clips=1)
    build_embedded_bank(tmp_path / "bank", CLASSES, 2, 2, 11.0, SR, seed=0, workers=1)
    sources, fg_dir, bg_dir = load_sources("realworld", tmp_path / "bank" / "manifest.tsv")

    def simulate(name: str, workers: int, seed: int = 7) -> dict[str, str]:
        params = json.loads(json.dumps(raw))
        params["realworld"].update(workers=workers, seed=seed)
        out = tmp_path / name
        simulate_sets(parse_params(params), sources, fg_dir, bg_dir, out, out / "hidden")
        return digests(out, skip=("clips.tsv",))           # clips.tsv holds the output folder's path

    first = simulate("a", workers=1)
    assert len([name for name in first if name.endswith(".wav")]) == 4
    assert simulate("b", workers=2) == first
    other = simulate("c", workers=1, seed=8)
    assert other.keys() == first.keys() and all(other[name] != first[name] for name in first if ".wav" in name)


def test_imports_indexes_and_features_are_byte_identical(audio, user_bank, tmp_path):
    folder, unusable, usable = audio
    root, _, _ = user_bank
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manifests = [index_soundbank(root, ["Cat", "Dog"]) for _ in range(2)]
    pd.testing.assert_frame_equal(*manifests)
    assert manifests[0].attrs == manifests[1].attrs
    tsv = strong_table(tmp_path / "eval.tsv", sorted([*unusable, *usable]))
    for run in ("a", "b"):
        import_set("test", tsv, folder, CLASSES, tmp_path / run / "test", strong=True, max_missing_fraction=1.0)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    config = LogMelConfig(sample_rate=SR, n_fft=512, window=0.032, hop=0.1, n_mels=32, fmin=0.0, fmax=8000.0,
                          log_offset=1e-8, clip_duration=4.0)
    for run, workers in (("a", 1), ("b", 2)):
        build_store({"s": tmp_path / run / "test"}, tmp_path / run / "features", config, CLASSES,
                    train_sets=("s",), workers=workers, device="cpu")
    assert digests(tmp_path / "a" / "features", skip=("features.json",)) == digests(tmp_path / "b" / "features",
                                                                                    skip=("features.json",))
    infos = [read_store_info(tmp_path / run / "features") for run in ("a", "b")]   # all but the set's folder
    assert [{**info, "sets": {"s": {**info["sets"]["s"], "source": None}}} for info in infos][0] == \
        {**infos[1], "sets": {"s": {**infos[1]["sets"]["s"], "source": None}}}


@pytest.mark.filterwarnings("ignore:psds")   # the toy set lacks some classes
def test_training_and_scoring_give_identical_metrics_run_after_run(trained, tmp_path):
    from ifdsed.config import EvalParams
    from ifdsed.inference.settings import detector_settings
    from ifdsed.evaluation.sets import score_set
    from ifdsed.training.loop import train_seed
    base, store, summary = trained
    again = train_seed(training_params(), 1, store, tmp_path / "again")
    assert again == summary
    assert (tmp_path / "again/live/metrics.json").read_text() == (base / "straight/live/metrics.json").read_text()
    first = checkpoint.load(base / "straight/checkpoints/best.pt")
    second = checkpoint.load(tmp_path / "again/checkpoints/best.pt")
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(),
                                                 second.model.state_dict().values()))
    settings = detector_settings(first.extra)
    results = [score_set(saved.model, load_feature_set(store, "realworld_test"), base / "sets" / "realworld_test",
                         settings, EvalParams(), torch.device("cpu")) for saved in (first, second)]
    metrics = [json.dumps(result.metrics, sort_keys=True, default=str) for result in results]
    assert metrics[0] == metrics[1] and "event_f1_macro" in metrics[0]
    pd.testing.assert_frame_equal(results[0].predictions, results[1].predictions)
