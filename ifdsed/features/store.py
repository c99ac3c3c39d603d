"""The on-disk feature store (`build_store`, `load_feature_set`), one folder, by default ``data/features/``:

- ``<set>.npy``               log-mel features, float32, [clips, frames, n_mels], rows in clips.tsv order
- ``<set>.tsv``               index: ``row  filename  event_labels`` (an unlabelled set: ``row  filename``)
- ``<set>_tags.npy``          clip tags, uint8 [clips, classes]; not for the unlabelled set
- ``<set>_frame_labels.npy``  strong labels, uint8 [clips, frames, classes]; only sets with an events.tsv
- ``normalization.npz``       per-mel-band ``mean`` and ``std`` (float32 [n_mels]) over every frame of the
                              TRAINING sets only (`TRAIN_SETS`)
- ``features.json``           the extraction config, classes and sets: what later stages check

float32, the extractor's own precision: prediction on audio then needs no rounding step, and the exported ONNX
detector (whose STFT differs from torch's in the last bit) reproduces the probabilities to 1e-4 on every frame
(float16 rounding would turn such a last-bit difference into a whole float16 step).
The store is built in a sibling ``.partial`` folder and renamed into place at the end, so an interrupted run
never leaves a folder that looks complete.
"""
from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ifdsed import paths
from ifdsed.errors import IfdsedError
from ifdsed.features.labels import clip_tags, frame_labels
from ifdsed.features.config import FeatureError, LogMelConfig
from ifdsed.io.tables import join_tags, read_clips, read_events, read_tags

if TYPE_CHECKING:   # the extractor (torch, librosa) is imported where a store is built, not where one is read
    import torch

    from ifdsed.features.logmel import LogMelExtractor

STORE_DTYPE = np.float32
STORE_FORMAT = 2
INFO_FILE, NORMALIZATION_FILE = "features.json", "normalization.npz"
STD_FLOOR = 1e-3  # log units; a band with (almost) no spread is not scaled up into noise


class MissingStoreError(IfdsedError, FileNotFoundError):
    """There is no complete feature store where one is read: the features stage has not run, or was interrupted."""


class StoreMismatchError(IfdsedError, ValueError):
    """The feature store was built with other settings or classes than the ones asked for."""


@dataclass
class FeatureSet:
    """One set of the store. `features` [clips, frames, n_mels] float16, `tags` [clips, classes] uint8 or None
    (an unlabelled set), `frame_labels` [clips, frames, classes] uint8 or None (weakly labelled and unlabelled
    sets), `index` (row, filename and, for a labelled set, event_labels)."""
    name: str
    features: np.ndarray
    tags: np.ndarray | None
    frame_labels: np.ndarray | None
    index: pd.DataFrame


@dataclass
class _MomentSums:
    """Running per-band sums for the normalisation statistics (float64)."""
    total: np.ndarray
    squares: np.ndarray
    count: int = 0

    @classmethod
    def zeros(cls, n_mels: int) -> "_MomentSums":
        return cls(np.zeros(n_mels), np.zeros(n_mels))

    def add(self, features: np.ndarray) -> None:
        values = features.reshape(-1, features.shape[-1]).astype(np.float64)     # [clips * frames, n_mels]
        self.total += values.sum(axis=0)
        self.squares += np.square(values).sum(axis=0)
        self.count += values.shape[0]

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.count:
            raise ValueError("the training sets have no clips: no normalisation statistics")
        mean = self.total / self.count
        std = np.sqrt(np.maximum(self.squares / self.count - mean ** 2, 0.0))
        return mean.astype(np.float32), np.maximum(std, STD_FLOOR).astype(np.float32)


def _resolve(path: str, root: Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else root / path


# ---------------------------------------------------------------- the store's files, one writer for each
# build_store writes a store through these; so do the benchmarks and the tests that make a store by hand.

def open_set_features(out: Path, name: str, clips: int, frames: int, n_mels: int) -> np.memmap:
    """<name>.npy: a new [clips, frames, n_mels] array of the store's dtype, a memory map to fill."""
    return np.lib.format.open_memmap(out / f"{name}.npy", mode="w+", dtype=STORE_DTYPE,
                                     shape=(clips, frames, n_mels))


def write_set_labels(out: Path, name: str, filenames: Sequence[str], event_labels: Sequence[str],
                     tags: np.ndarray, strong_labels: np.ndarray | None = None) -> None:
    """<name>.tsv (row, filename, event_labels: the comma-joined tags), <name>_tags.npy (tags [clips, C], uint8)
    and, for a strongly labelled set, <name>_frame_labels.npy (strong_labels [clips, T, C], uint8)."""
    np.save(out / f"{name}_tags.npy", np.asarray(tags, np.uint8))
    index = pd.DataFrame({"row": range(len(filenames)), "filename": list(filenames),
                          "event_labels": list(event_labels)})
    index.to_csv(out / f"{name}.tsv", sep="\t", index=False, lineterminator="\n")
    if strong_labels is not None:
        np.save(out / f"{name}_frame_labels.npy", np.asarray(strong_labels, np.uint8))


def tag_labels(tags: np.ndarray, classes: Sequence[str]) -> list[str]:
    """Each clip's tags [clips, C] as the index table writes them (DCASE's sorted, comma-separated names)."""
    return [join_tags(classes[c] for c in np.flatnonzero(row)) for row in tags]


def write_store_info(out: Path, config: LogMelConfig, classes: Sequence[str], train_sets: Sequence[str],
                     sets: Mapping[str, dict], mean: np.ndarray, std: np.ndarray, frames: int) -> dict:
    """normalization.npz (the training sets' per-band mean and std [n_mels], over `frames` frames) and
    features.json (the settings, the classes and each set's summary `sets`); returns features.json's content."""
    _save_npz(out / NORMALIZATION_FILE, mean=mean, std=std, frames=np.int64(frames), sets=np.array(list(train_sets)))
    info = {"format": STORE_FORMAT, "dtype": np.dtype(STORE_DTYPE).name, "config": config.describe(),
            "classes": list(classes), "train_sets": list(train_sets), "sets": dict(sets)}
    (out / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return info


def set_summary(clips: int, config: LogMelConfig, strong: bool, source: str | Path | None = None) -> dict:
    """A set's entry in features.json."""
    summary = {"clips": clips, "frames": config.frames, "n_mels": config.n_mels, "frame_labels": strong}
    return summary | ({"source": str(source)} if source is not None else {})


def _write_labels(name: str, set_dir: Path, out: Path, filenames: list[str], classes: Sequence[str],
                  config: LogMelConfig) -> bool:
    """A set's index table, clip tags and, when it has an events.tsv, frame labels; returns whether it has. A set
    without tags.tsv (the unlabelled set) gets an index table of row and filename only."""
    if not (set_dir / "tags.tsv").is_file():
        pd.DataFrame({"row": range(len(filenames)), "filename": filenames}).to_csv(
            out / f"{name}.tsv", sep="\t", index=False, lineterminator="\n")
        return False
    tags_table = read_tags(set_dir / "tags.tsv")
    tag_text = dict(zip(tags_table["filename"], tags_table["event_labels"]))
    strong = (set_dir / "events.tsv").is_file()
    strong_labels = (frame_labels(read_events(set_dir / "events.tsv"), filenames, classes, config.frames,
                                  config.frame_hop) if strong else None)
    write_set_labels(out, name, filenames, [tag_text[filename] for filename in filenames],
                     clip_tags(tags_table, filenames, classes), strong_labels)
    return strong


def _write_features(path: Path, audio: list[Path], extractor: LogMelExtractor, workers: int,
                    batch_size: int | None, sums: _MomentSums | None,
                    progress: Callable[[int], None] | None) -> None:
    """Features of `audio` into a new .npy written through a memory map (never all in RAM); the stored
    (float16) values are added to `sums` when given."""
    from ifdsed.features.logmel import extract_files   # torch: only where a store is built

    cfg = extractor.config
    store = open_set_features(path.parent, path.stem, len(audio), cfg.frames, cfg.n_mels)   # [clips, frames, n_mels]
    row = 0
    for batch in extract_files(audio, extractor, workers=workers, batch_size=batch_size):
        stored = batch.astype(STORE_DTYPE)                                         # [batch, frames, n_mels]
        store[row:row + len(stored)] = stored
        row += len(stored)
        if sums is not None:
            sums.add(stored)
        if progress:
            progress(len(stored))
    assert row == len(audio), (row, len(audio))
    store.flush()
    del store


def _write_set(name: str, set_dir: Path, out: Path, extractor: LogMelExtractor, classes: Sequence[str],
               root: Path, workers: int, batch_size: int | None, sums: _MomentSums | None,
               progress: Callable[[int], None] | None) -> dict:
    """Extract one clip set into `out`; add its stored features to `sums` when given. Returns its summary."""
    clips = read_clips(set_dir / "clips.tsv")
    filenames = list(clips["filename"])
    try:
        strong = _write_labels(name, set_dir, out, filenames, classes, extractor.config)
    except (ValueError, KeyError) as error:
        raise FeatureError(f"{set_dir}: its tables disagree: {error}: rerun the stage that wrote it") from None
    audio = [_resolve(path, root) for path in clips["path"]]
    _write_features(out / f"{name}.npy", audio, extractor, workers, batch_size, sums, progress)
    return set_summary(len(filenames), extractor.config, strong, set_dir)


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Like numpy.savez, but byte-for-byte reproducible (numpy stamps each member with the current time)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            member = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(member, "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.asanyarray(value), allow_pickle=False)


def build_store(sets: Mapping[str, str | Path], out_dir: str | Path, config: LogMelConfig,
                classes: Sequence[str], *, train_sets: Sequence[str] = paths.TRAIN_SETS, root: str | Path = ".",
                workers: int = 2, batch_size: int | None = None, device: torch.device | str | None = None,
                progress: Callable[[int], None] | None = None) -> dict:
    """Extract every clip set of `sets` (name -> folder) into the store `out_dir`; returns features.json.

    Clip paths relative in clips.tsv are taken relative to `root`. Normalisation statistics are accumulated
    from the `train_sets` only, while they are extracted; no other set's features are ever added.
    `progress` is called with the number of clips done after each batch.
    """
    out_dir, root = Path(out_dir), Path(root)
    missing = [name for name in train_sets if name not in sets]
    if missing:
        raise ValueError(f"training sets {missing} are not among the sets to extract")
    import torch

    from ifdsed.devices import default_device
    from ifdsed.features.logmel import LogMelExtractor

    extractor = LogMelExtractor(config).to(torch.device(device) if device else default_device())
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)

    sums = _MomentSums.zeros(config.n_mels)
    summaries = {}
    for name, set_dir in sets.items():
        summaries[name] = _write_set(name, Path(set_dir), partial, extractor, classes, root, workers,
                                     batch_size, sums if name in train_sets else None, progress)
    mean, std = sums.mean_std()
    info = write_store_info(partial, config, classes, train_sets, summaries, mean, std, sums.count)

    shutil.rmtree(out_dir, ignore_errors=True)
    partial.rename(out_dir)
    return info


def read_store_info(root: str | Path = paths.FEATURES) -> dict:
    """features.json of a complete store (raises FileNotFoundError for a missing or unfinished one)."""
    path = Path(root) / INFO_FILE
    if not path.is_file():
        raise MissingStoreError(f"{path}: no complete feature store here (run `dvc repro features`)")
    return json.loads(path.read_text())


def store_config(root: str | Path = paths.FEATURES) -> LogMelConfig:
    """The LogMelConfig the store at `root` was built with (its features.json)."""
    described = read_store_info(root)["config"]
    return LogMelConfig(**{name: described[name] for name in LogMelConfig.__dataclass_fields__})


def check_store(root: str | Path, config: LogMelConfig, classes: Sequence[str]) -> dict:
    """Raise ValueError when the store at `root` was built with other settings or classes; return its info."""
    info = read_store_info(root)
    expected = json.loads(json.dumps(config.describe()))
    if info["config"] != expected or info["classes"] != list(classes):
        raise StoreMismatchError(f"{root}: features were built with {info['config']} and classes {info['classes']}, "
                         f"not {expected} and {list(classes)}: rerun the features stage")
    return info


def load_feature_set(root: str | Path, name: str, mmap: bool = True) -> FeatureSet:
    """One set of the store; with `mmap` the arrays are read-only memory maps (nothing loaded up front)."""
    root = Path(root)
    info = read_store_info(root)
    if name not in info["sets"]:
        raise KeyError(f"{root}: no set {name!r}; the store has {sorted(info['sets'])}")
    mode = "r" if mmap else None
    labels, tags = root / f"{name}_frame_labels.npy", root / f"{name}_tags.npy"
    index = pd.read_csv(root / f"{name}.tsv", sep="\t", dtype={"filename": str, "event_labels": str},
                        keep_default_na=False)
    return FeatureSet(name=name, features=np.load(root / f"{name}.npy", mmap_mode=mode),
                      tags=np.load(tags, mmap_mode=mode) if tags.is_file() else None,
                      frame_labels=np.load(labels, mmap_mode=mode) if labels.is_file() else None, index=index)


def load_normalization(root: str | Path = paths.FEATURES) -> tuple[np.ndarray, np.ndarray]:
    """Per-mel-band (mean, std), float32 [n_mels], from the training sets: normalise as (x - mean) / std."""
    with np.load(Path(root) / NORMALIZATION_FILE) as stats:
        return stats["mean"], stats["std"]

