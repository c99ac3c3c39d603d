"""Helpers shared by the tests (fixtures are in conftest.py). Import them as `from tests.helpers import ...`.

- the project: its root, the shared fixtures folder, tiny params, throw-away copies of the project in a git
  repository (also used by bench/repro.py: `copy_project_files`, `tiny_params`), running commands and stages;
- audio files: tones, wav writers, every kind of unusable or odd file, digests of a folder;
- features: the default log-mel settings and our extractor on one file, clip sets with their tables;
- a tiny, learnable hand-made feature store in the features stage's layout (the training and scoring tests);
- models and checkpoints: random batches, a training step, the tensors a checkpoint file holds, tiny
  detectors, a pickled payload that runs code;
- prediction on files: running the detector, and the checks every result must pass;
- a real-soundbank layout for the real-audio sanity sets (`sanity_bank`).
"""
from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml

from bench.project_copy import PROJECT_FILES, copy_project_files, tiny_params  # noqa: F401 - used by tests
from ifdsed.config import DCASE_CLASSES, FeaturesParams, parse_params
from ifdsed.features.logmel import LogMelConfig, LogMelExtractor
from ifdsed.features.store import open_set_features, set_summary, tag_labels, write_set_labels, write_store_info
from ifdsed.inference.files import predict_files
from ifdsed.inference.settings import detector_extra
from ifdsed.io.audio import read_clip
from ifdsed.models import checkpoint
from ifdsed.models.config import ModelConfig
from ifdsed.models.sed_model import SEDModel
from ifdsed.models.training_data import KEY as TRAINING_DATA, TrainingData
from ifdsed.paths import CLIP_SETS, TRAIN_SETS, VALIDATION_SET
from ifdsed.scenes.render import write_set_tables

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"          # real DCASE metadata and recordings, beside a checkout
METADATA = FIXTURES / "dcase_metadata"
SR = 16000
CLASSES = list(DCASE_CLASSES)


# ============================================================================== the project and its commands
IFDSED = Path(sys.executable).parent / "ifdsed"        # this environment's `ifdsed` command (pyproject's scripts)
def environment(cwd) -> dict:
    """The environment commands run in: this interpreter's bin first on PATH, `cwd` on PYTHONPATH. In a copy of
    the project, `python -m ifdsed ...` (and `ifdsed ...`) and the stages (`python -m pipeline.<stage>`) thus run
    the copy's code, not the checkout's, where the editable install points."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", PYTHONPATH=str(cwd))


def run_command(args, cwd) -> str:
    """Run a command with this interpreter's environment first on PATH; fail the test with its output."""
    done = subprocess.run(args, cwd=cwd, env=environment(cwd), capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def copy_project(repo: Path, params: dict) -> Path:
    """The working tree's project files, committed to a fresh git repo at `repo`, with `params`."""
    copy_project_files(repo)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    run_command(["git", "init", "-q"], repo)
    run_command(git + ["add", "-A"], repo)
    run_command(git + ["commit", "-qm", "tiny"], repo)
    return repo


def write_params(folder: Path, raw: dict) -> None:
    (folder / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def run_stage(module: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m module [args]` in `cwd`, as DVC runs a stage (the project on PYTHONPATH); not checked."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


# ====================================================================================================== audio
def tone(seconds: float, sr: int = SR, level: float = 0.1, channels: int = 1) -> np.ndarray:
    """A 440 Hz sine, [samples] (or [samples, channels])."""
    samples = level * np.sin(2 * np.pi * 440.0 * np.arange(round(seconds * sr)) / sr)
    return samples if channels == 1 else np.stack([samples] * channels, axis=1)


def wav(path: Path, audio: np.ndarray, sr: int = SR, subtype: str | None = None) -> Path:
    """`audio` written as is (soundfile's default subtype unless given), parent folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr, subtype=subtype)
    return path


def noisy_tones(seconds: float, sample_rate: int, seed: int = 0, channels: int = 1, level: float = 0.3):
    """Noise plus two tones, float32 [samples] (or [samples, channels])."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    mono = (level * (np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1830 * t))
            + 0.02 * rng.standard_normal(t.size))
    if channels == 1:
        return mono.astype(np.float32)
    return np.stack([mono * (1 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32)


def write_wav(path: Path, audio, sample_rate: int) -> Path:
    """`audio` clipped to full scale and written as 16-bit PCM, parent folders made."""
    return wav(path, np.clip(audio, -1, 1), sample_rate, "PCM_16")


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


def digests(folder: Path, skip: tuple[str, ...] = (), suffixes: tuple[str, ...] | None = None) -> dict[str, str]:
    """{path relative to `folder`: sha256} of every file below it, but those named in `skip` (and, with
    `suffixes`, those with another suffix)."""
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name not in skip
            and (suffixes is None or path.suffix in suffixes)}


# =================================================================================================== features
DEFAULT_LOGMEL = LogMelConfig.from_params(FeaturesParams(), clip_duration=10.0)


def our_logmel(path, config: LogMelConfig) -> np.ndarray:
    """The project's log-mel of one file (read_clip, then the extractor), [frames, n_mels]."""
    with torch.inference_mode():
        clip = torch.from_numpy(read_clip(path, config.sample_rate, config.clip_samples))
        return LogMelExtractor(config)(clip[None])[0].numpy()


def strong_table(path: Path, names: list[str]) -> Path:
    """A strong-label table with one Dog event (0.5 s to 1.5 s) per file name."""
    path.write_text("filename\tonset\toffset\tevent_label\n" + "".join(f"{n}\t0.5\t1.5\tDog\n" for n in names))
    return path


def complete_sets(root: Path) -> None:
    """The five clip sets of the features stage, each with one clip, under root/data."""
    for name, folder in CLIP_SETS.items():
        events = pd.DataFrame([("a.wav", 0.5, 1.0, "Dog")], columns=["filename", "onset", "offset", "event_label"])
        wav(root / folder / "audio" / "a.wav", tone(1.0))
        write_set_tables(root / folder, ["a.wav"], events, 1.0, expose_events=name != "realworld_weak")


# ================================================================================== a tiny hand-made feature store
# Class c lights up mel band c during its events (5 frames of 20, two classes per clip), so a few epochs of a
# tiny model learn it. Written by the store's own writers (`ifdsed.features.store`: open_set_features,
# write_set_labels, write_store_info), so it has the layout `build_store` writes.
FRAMES, MELS = 20, 64
FRAME_SECONDS = 0.5  # the store's hop: 20 frames make a 10 s clip
TOY_CONFIG = LogMelConfig(sample_rate=16000, n_fft=1024, window=0.04, hop=FRAME_SECONDS, n_mels=MELS, fmin=0.0,
                          fmax=8000.0, log_offset=1e-8, clip_duration=10.0)
TRAINING_SETS = [("synthetic_train", 24, True), ("realworld_weak", 24, False), ("realworld_validation", 8, True)]


def write_toy_set(root: Path, name: str, n_clips: int, rng: np.random.Generator, strong: bool) -> dict:
    """One set's arrays and table; returns its entry of features.json's "sets"."""
    tags = np.zeros((n_clips, len(CLASSES)), np.uint8)
    frames = np.zeros((n_clips, FRAMES, len(CLASSES)), np.uint8)
    features = rng.normal(0, 0.3, size=(n_clips, FRAMES, MELS)).astype(np.float32)
    for clip in range(n_clips):
        for c in rng.choice(len(CLASSES), size=2, replace=False):
            start = rng.integers(0, FRAMES - 5)
            frames[clip, start:start + 5, c] = 1
            tags[clip, c] = 1
            features[clip, start:start + 5, c] += 3.0
    stored = open_set_features(root, name, n_clips, FRAMES, MELS)
    stored[:] = features
    stored.flush()
    del stored
    write_set_labels(root, name, [f"{name}_{i}.wav" for i in range(n_clips)],
                     tag_labels(tags, CLASSES), tags,
                     frames if strong else None)
    return set_summary(n_clips, TOY_CONFIG, strong)


def write_event_tables(folder: Path, name: str, frames: np.ndarray) -> None:
    """The clip-set folder scoring reads (events.tsv, clips.tsv) for a strong set's frame labels."""
    folder.mkdir(parents=True)
    n_clips = len(frames)
    rows = [(f"{name}_{i}.wav", round(s * FRAME_SECONDS, 3), round((s + 5) * FRAME_SECONDS, 3), CLASSES[c])
            for i in range(n_clips) for c in range(len(CLASSES))
            for s in np.flatnonzero(np.diff(np.r_[0, frames[i, :, c]]) == 1)]
    pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"]).to_csv(
        folder / "events.tsv", sep="\t", index=False)
    pd.DataFrame({"filename": [f"{name}_{i}.wav" for i in range(n_clips)], "path": "x",
                  "duration": 10.0}).to_csv(folder / "clips.tsv", sep="\t", index=False)


def write_toy_store(root: Path, sets: list[tuple[str, int, bool]], event_tables: bool = False) -> Path:
    """A store at `root` with the (name, clips, strong) sets, drawn in order from one seed-0 generator.

    With event_tables, every strong set also gets the clip-set folder root.parent/sets/<name> that scoring
    reads."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    entries = {name: write_toy_set(root, name, n_clips, rng, strong) for name, n_clips, strong in sets}
    if event_tables:
        for name, _, strong in sets:
            if strong:
                write_event_tables(root.parent / "sets" / name, name, np.load(root / f"{name}_frame_labels.npy"))
    training = [name for name in TRAIN_SETS if name in entries]
    write_store_info(root, TOY_CONFIG, CLASSES, training, entries, np.zeros(MELS, np.float32),
                     np.ones(MELS, np.float32), frames=0)
    return root


def toy_validation(store: Path) -> Path:
    """The validation set's clip-set folder (events.tsv, clips.tsv) that `write_toy_store(..., event_tables=True)`
    writes beside the store: what training's `validation_folder` is in the tests."""
    return store.parent / "sets" / VALIDATION_SET


def forced_scores(monkeypatch, event_f1: list[float], frame_f1: list[float] | None = None,
                  after_epoch: int = 0, kill_in_epoch: int | None = None) -> list[int]:
    """Training's validation scores forced (`ifdsed.training.loop.validation_scores` replaced): epoch e scores
    event_f1[e - 1] and frame_f1[e - 1] (0.5 unless given). `after_epoch`: the epochs a resumed run has behind
    it; `kill_in_epoch`: that epoch's validation raises KeyboardInterrupt (after last.pt of the epoch before was
    written). Returns the epochs scored, a list that grows as the training validates."""
    import ifdsed.training.loop as training
    scored: list[int] = []

    def scores(*args):
        epoch = after_epoch + len(scored) + 1
        if epoch == kill_in_epoch:
            raise KeyboardInterrupt
        scored.append(epoch)
        return {"event_f1": event_f1[epoch - 1], "frame_f1": 0.5 if frame_f1 is None else frame_f1[epoch - 1]}

    monkeypatch.setattr(training, "validation_scores", scores)
    return scored


def tiny_store(root: Path) -> Path:
    """The toy store with a test set, and the event tables scoring reads."""
    return write_toy_store(root, [("synthetic_train", 16, True), ("realworld_weak", 16, False),
                                  ("realworld_validation", 6, True), ("realworld_test", 6, True)],
                           event_tables=True)


def training_params(channels=(8, 8, 8), **train):
    """params.yaml for a tiny SEDB & IFD model trained for a few epochs on the toy store (train.* overridable)."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["model"].update(channels=list(channels), ifd=True, sedb=True)
    raw["train"].update(dict(seeds=[1], epochs=3, batch_size=8, synthetic_fraction=0.5, threads=1, lr=0.01,
                             track_energy=False), **train)
    return parse_params(raw)


# ========================================================================================= models, checkpoints
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_batch(n_clips=6, n_frames=16, n_mels=64, n_classes=10, seed=0, device=DEVICE):
    """Random features, half synthetic clips with strong labels, half weak clips (zero frame labels)."""
    gen = torch.Generator().manual_seed(seed)
    tags = (torch.rand(n_clips, n_classes, generator=gen) < 0.3).float()
    frame_labels = (torch.rand(n_clips, n_frames, n_classes, generator=gen) < 0.5).float() * tags[:, None, :]
    is_synthetic = torch.arange(n_clips) < n_clips // 2
    frame_labels[~is_synthetic] = 0
    batch = {"features": torch.randn(n_clips, n_frames, n_mels, generator=gen), "clip_tags": tags,
             "frame_labels": frame_labels, "is_synthetic": is_synthetic,
             "clip_index": torch.arange(n_clips) % (n_clips // 2)}   # each half: rows 0.. of its own set
    return {key: value.to(device) for key, value in batch.items()}


def train_step(model, optimizer, batch):
    """One optimizer step on the total loss; the loss before it."""
    optimizer.zero_grad()
    loss = model.losses(model(batch["features"]), batch)["total"]
    loss.backward()
    optimizer.step()
    return loss.item()


def stored_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint file as it was written (not as a model loads it: load_state_dict would
    convert), by its place in the file: {"state_dict/encoder.conv.weight": ..., "optimizer/state/0/exp_avg": ...}."""
    def walk(value, place: str):
        if torch.is_tensor(value):
            yield place, value
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from walk(item, f"{place}/{key}" if place else str(key))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                yield from walk(item, f"{place}/{index}")

    return dict(walk(torch.load(path, map_location="cpu", weights_only=True), ""))


def leave_marker(path: str) -> None:
    Path(path).touch()


class Payload:
    """Whatever a pickled object does when it is loaded: here, call leave_marker (it could be os.system)."""
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (leave_marker, (self.marker,))


# ============================================================================================ prediction
ALWAYS, NEVER = "Alarm_bell_ringing", "Blender"
SHORT_DIGIT = "eight_0b09edd3_nohash_0.wav"  # 0.768 s


def default_features() -> LogMelConfig:
    params = parse_params({})
    return LogMelConfig.from_params(params.features, params.data.clip_duration)


def make_checkpoint(path: Path, features: LogMelConfig, seed: int = 0,
                    training_data: TrainingData | None = None) -> Path:
    """A tiny random detector: class 0 (ALWAYS) always on, class 1 (NEVER) never, the rest random; with
    `training_data`, its record in extra (as training writes it); without, a checkpoint of unknown training data."""
    params = parse_params({})
    torch.manual_seed(seed)
    model = SEDModel(ModelConfig(n_mels=features.n_mels, n_classes=len(params.classes), channels=(8, 8, 8)))
    with torch.no_grad():
        model.atp.w.normal_(0.0, 1.0)
        model.atp.d.fill_(3.0)
        model.atp.w[:2] = 0.0
        model.atp.v[:2] = 0.0
        model.atp.b[:2] = torch.tensor([30.0, -30.0])
        model.atp.d[:2] = torch.tensor([30.0, 30.0])
    windows = np.full(len(params.classes), 5, dtype=np.int64)
    mean, std = np.full(features.n_mels, -6.0, np.float32), np.full(features.n_mels, 3.0, np.float32)
    extra = detector_extra(params.classes, params.postprocess, features, mean, std, windows)
    recorded = {TRAINING_DATA: training_data.to_dict()} if training_data is not None else {}
    checkpoint.save(path, model, extra={"detector": extra, **recorded})
    return path


def predict(detector, paths, **kwargs) -> list:
    """predict_files on `paths`, each named by its file name."""
    return list(predict_files([(Path(p), Path(p).name) for p in paths], detector, **kwargs))


def always_event(result) -> tuple[float, float]:
    rows = result.events[result.events.event_label == ALWAYS]
    assert len(rows) == 1, result.events
    return float(rows.onset.iloc[0]), float(rows.offset.iloc[0])


def check_result(result, detector, duration: float) -> None:
    """Frames cover the whole file and nothing past it; events lie inside it; the hand-set classes hold."""
    hop, window = detector.settings.frame_hop, detector.settings.features.clip_duration
    assert result.error is None
    assert result.duration == pytest.approx(duration, abs=1e-9)
    # Every frame that starts in the file, except a tail shorter than one hop past the last full window.
    kept = duration - hop if duration > window and duration % window < hop else duration
    assert len(result.frame_probs) == len(result.frame_starts) == math.ceil(kept / hop - 1e-9)
    assert len(result.clip_probs) == max(1, math.ceil(kept / window - 1e-9))
    assert np.allclose(np.diff(result.frame_starts), hop) and result.frame_starts[-1] < duration
    events = result.events
    assert list(events.columns) == ["filename", "onset", "offset", "event_label"]
    assert (events.onset >= 0).all() and (events.offset <= duration + 1e-9).all()
    assert (events.offset > events.onset).all()
    assert always_event(result) == pytest.approx((0.0, min(duration, len(result.frame_probs) * hop)))
    assert NEVER not in set(events.event_label)


def sanity_bank(root: Path, sr: int) -> Path:
    """A real-soundbank layout for the sanity sets: two Dog and one Speech tone, a 25 s street ambience."""
    rng = np.random.default_rng(0)
    for label, seconds in (("Dog", 0.8), ("Dog", 1.5), ("Speech", 2.0)):
        folder = root / "foreground" / label
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"{label}_{len(list(folder.iterdir()))}.wav",
                 0.5 * np.sin(np.arange(int(seconds * sr)) * 0.1 * rng.uniform(1, 2)), sr)
    (root / "background" / "street").mkdir(parents=True)
    sf.write(root / "background" / "street" / "street.wav", 0.05 * rng.standard_normal(25 * sr), sr)
    return root
