"""Log-mel features, frame labels and the on-disk feature store.

Extraction (`LogMelExtractor`): every clip is decoded, mixed down to mono, resampled to `features.sample_rate`
(soxr HQ, as `librosa.load` does) and cut or zero-padded to `data.clip_duration`. A batched torch STFT
(periodic Hann window of round(window * sr) samples centred in n_fft, hop round(hop * sr), centre padding with
zeros, power 2) is projected on librosa's mel filterbank (Slaney scale and norm, the defaults of
`librosa.feature.melspectrogram`) and logged: log(mel + log_offset), float32. A clip gives
round(clip_duration / hop) frames; frame t is centred at t * hop and is said to cover [t * hop, (t + 1) * hop).
The result matches a plain librosa log-mel of the same file within 0.01 dB (tests/test_features.py; measured
about 1e-4 dB by bench/features.py).

Store (`build_store`, `load_feature_set`), one folder, by default ``data/features/``:

- ``<set>.npy``               log-mel features, float16, [clips, frames, n_mels], rows in clips.tsv order
- ``<set>.tsv``               index: ``row  filename  event_labels``
- ``<set>_tags.npy``          clip tags, uint8 [clips, classes]
- ``<set>_frame_labels.npy``  strong labels, uint8 [clips, frames, classes]; only sets with an events.tsv
- ``normalization.npz``       per-mel-band ``mean`` and ``std`` (float32 [n_mels]) over every frame of the
                              TRAINING sets only (`TRAIN_SETS`)
- ``features.json``           the extraction config, classes and sets: what later stages check

float16 halves the disk and page-cache footprint of a store that training reads at random, and its rounding
(at most 0.008 in log units for |value| < 32, i.e. 0.034 dB) is far below anything a detector can use.
The store is built in a sibling ``.partial`` folder and renamed into place at the end, so an interrupted run
never leaves a folder that looks complete.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import math
import shutil
import zipfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import librosa
import numpy as np
import pandas as pd
import soundfile as sf
import torch

from ifdsed.io.audio import AudioError
from ifdsed.io.tables import read_clips, read_events, read_tags, split_tags

# Set name -> clip-set folder (relative to the project root), in the order the stage writes them.
SET_DIRS = {
    "synthetic_train": Path("data/synthetic/train"),
    "synthetic_test": Path("data/synthetic/test"),
    "realworld_weak": Path("data/realworld/weak"),
    "realworld_validation": Path("data/realworld/validation"),
    "realworld_test": Path("data/realworld/test"),
}
# The only sets normalisation statistics may read.
TRAIN_SETS = ("synthetic_train", "realworld_weak")
STORE_DIR = Path("data/features")
STORE_DTYPE = np.float16
STORE_FORMAT = 1
STD_FLOOR = 1e-3  # log units; a band with less spread than float16 resolution is not scaled up into noise
MEL_GROUPS = 4  # band groups of the mel projection (the fastest split for 64 bands, measured on a CPU)
_RESAMPLE_MARGIN = 0.1  # s of audio read past the clip end when resampling, so the resampler's tail is the file's
_FIX = ("the clip sets are written by the synthesize and realworld stages, which check every file: if it changed "
        "since, rerun them (`dvc repro -f realworld`)")


class FeatureError(RuntimeError):
    """A clip cannot be turned into features; the message starts with the file's path and says why. The store
    is left unfinished (only the ``.partial`` folder), never taken as complete."""


# ----------------------------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class LogMelConfig:
    """Everything that determines the features; `frames` and the sample counts are derived from it."""
    sample_rate: int
    n_fft: int
    window: float        # s
    hop: float           # s
    n_mels: int
    fmin: float
    fmax: float
    log_offset: float
    clip_duration: float  # s

    @classmethod
    def from_params(cls, features, clip_duration: float) -> "LogMelConfig":
        """From a `FeaturesParams` (params.yaml `features`) and `data.clip_duration`."""
        return cls(sample_rate=features.sample_rate, n_fft=features.n_fft, window=features.window,
                   hop=features.hop, n_mels=features.n_mels, fmin=features.fmin, fmax=features.fmax,
                   log_offset=features.log_offset, clip_duration=clip_duration)

    def __post_init__(self) -> None:
        if self.win_length > self.n_fft:
            raise ValueError(f"window {self.window} s ({self.win_length} samples) is longer than n_fft {self.n_fft}")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(f"need 0 <= fmin < fmax <= sample_rate / 2, got {self.fmin}, {self.fmax}")
        if self.hop_length < 1 or self.frames < 1:
            raise ValueError(f"hop {self.hop} s gives no frame at {self.sample_rate} Hz")

    @property
    def win_length(self) -> int:
        return round(self.window * self.sample_rate)

    @property
    def hop_length(self) -> int:
        return round(self.hop * self.sample_rate)

    @property
    def clip_samples(self) -> int:
        return round(self.clip_duration * self.sample_rate)

    @property
    def stft_samples(self) -> int:
        """Samples the STFT sees: the clip, plus zeros in the rare case where rounding the hop to whole samples
        would leave a centred STFT (1 + samples // hop_length frames) short of `frames`."""
        return max(self.clip_samples, (self.frames - 1) * self.hop_length)

    @property
    def frames(self) -> int:
        """Frames per clip: round(clip_duration / hop) (250 for 10 s at 40 ms, 500 at 20 ms)."""
        return round(self.clip_duration / self.hop)

    @property
    def frame_hop(self) -> float:
        """The true frame period in seconds (hop_length / sample_rate)."""
        return self.hop_length / self.sample_rate

    def describe(self) -> dict:
        """The parameters and the derived sizes, as written to features.json."""
        return {**asdict(self), "win_length": self.win_length, "hop_length": self.hop_length,
                "clip_samples": self.clip_samples, "frames": self.frames, "frame_hop": self.frame_hop}


# --------------------------------------------------------------------------------------------------- extractor
class LogMelExtractor(torch.nn.Module):
    """Waveforms at `config.sample_rate` -> log-mel features. Move it with `.to(device)` to run on a GPU."""

    def __init__(self, config: LogMelConfig):
        super().__init__()
        self.config = config
        window = torch.hann_window(config.win_length, periodic=True, dtype=torch.float32)  # [win_length]
        mel = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels,
                                  fmin=config.fmin, fmax=config.fmax)                    # [n_mels, n_fft//2+1]
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("mel_basis", torch.from_numpy(mel.T.copy()), persistent=False)  # [freqs, n_mels]
        # The filterbank is banded: forward projects each run of mel bands on the bins it covers only.
        self.mel_bins = [bins for _, bins in _mel_groups(mel, MEL_GROUPS)]
        for i, (bands, bins) in enumerate(_mel_groups(mel, MEL_GROUPS)):
            self.register_buffer(f"mel_block{i}", self.mel_basis[bins, bands].contiguous(),  # [bins, bands]
                                 persistent=False)

    @classmethod
    def from_params(cls, features, clip_duration: float) -> "LogMelExtractor":
        return cls(LogMelConfig.from_params(features, clip_duration))

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        """[batch, samples] float -> [batch, frames, n_mels] float32.

        Samples past `config.clip_samples` are dropped and shorter input is zero-padded, so every clip gives
        exactly `config.frames` frames.
        """
        cfg = self.config
        if waveforms.dim() != 2:
            raise ValueError(f"expected waveforms [batch, samples], got shape {tuple(waveforms.shape)}")
        clip = waveforms[:, :cfg.clip_samples].to(torch.float32)                 # [batch, <= clip_samples]
        x = _fit_length(clip, cfg.stft_samples)                                  # [batch, stft_samples]
        spec = torch.stft(x, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                          window=self.window, center=True, pad_mode="constant",
                          return_complex=True)                                   # [batch, freqs, >= frames]
        spec = spec[..., :cfg.frames].transpose(1, 2)                            # [batch, frames, freqs]
        power = spec.real.square() + spec.imag.square()                          # [batch, frames, freqs]
        blocks = [power[..., bins] @ self.get_buffer(f"mel_block{i}")           # [batch, frames, bands]
                  for i, bins in enumerate(self.mel_bins)]
        mel = torch.cat(blocks, dim=-1)                                          # [batch, frames, n_mels]
        return torch.log(mel + cfg.log_offset)


def _mel_groups(mel: np.ndarray, groups: int) -> list[tuple[slice, slice]]:
    """Split the bands of a [n_mels, freqs] filterbank into `groups` runs of consecutive bands, each with the
    range of frequency bins where it is non-zero. Projecting each run on its bins only gives the same sums as
    the full product (the other weights are zeros) in about a quarter of the operations."""
    n_mels, count = mel.shape[0], min(groups, mel.shape[0])
    out = []
    for g in range(count):
        bands = slice(g * n_mels // count, (g + 1) * n_mels // count)
        bins = np.flatnonzero(mel[bands].any(axis=0))
        out.append((bands, slice(int(bins[0]), int(bins[-1]) + 1) if bins.size else slice(0, 0)))
    return out


def _fit_length(x: torch.Tensor, samples: int) -> torch.Tensor:
    """Cut or right-pad with zeros the last axis to `samples` (no copy when it already has that length)."""
    if x.shape[-1] >= samples:
        return x[..., :samples]
    return torch.nn.functional.pad(x, (0, samples - x.shape[-1]))


# ---------------------------------------------------------------------------------------------------- decoding
def load_clip(path: str | Path, config: LogMelConfig, out: np.ndarray | None = None) -> np.ndarray:
    """One audio file -> mono float32 [clip_samples] at `config.sample_rate`, cut or zero-padded.

    Same samples as ``librosa.fix_length(librosa.load(path, sr=config.sample_rate)[0], size=clip_samples)``:
    mixed down by a channel mean, resampled with soxr HQ. Only the part of the file the clip uses is read.
    `out`, a float32 [clip_samples] array (a row of a batch), receives the samples when given.
    """
    if out is None:
        out = np.empty(config.clip_samples, dtype=np.float32)
    with sf.SoundFile(str(path)) as audio:
        if audio.samplerate == config.sample_rate:
            count = _read_mono(audio, min(config.clip_samples, audio.frames), out)
            _check_finite(path, out[:count], audio.samplerate)
        else:
            wanted = math.ceil((config.clip_duration + _RESAMPLE_MARGIN) * audio.samplerate)
            native = np.empty(min(wanted, audio.frames), dtype=np.float32)
            _read_mono(audio, len(native), native)
            _check_finite(path, native, audio.samplerate)
            resampled = librosa.resample(native, orig_sr=audio.samplerate, target_sr=config.sample_rate,
                                         res_type="soxr_hq")[:config.clip_samples]
            count = len(resampled)
            out[:count] = resampled
    out[count:] = 0.0
    return out


def _check_finite(path, samples: np.ndarray, sample_rate: int) -> None:
    """Raise AudioError naming the file and the time of the first NaN or Inf sample."""
    finite = np.isfinite(samples)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise AudioError(f"{path}: holds NaN or Inf samples (the first at {first / sample_rate:.3f} s)")


def _read_mono(audio: sf.SoundFile, frames: int, out: np.ndarray) -> int:
    """Read up to `frames` frames into out[:n] as mono float32 in [-1, 1); returns n.

    16-bit PCM is read as int16 and scaled by 2**-15, which is exactly what libsndfile's float conversion
    gives, at a fraction of its cost and without a float copy.
    """
    pcm16 = audio.subtype == "PCM_16"
    data = audio.read(frames, dtype="int16" if pcm16 else "float32", always_2d=True)   # [n, channels]
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)   # [n]
    if pcm16:
        np.multiply(mono, np.float32(2.0 ** -15), out=out[:len(mono)], dtype=np.float32)
    else:
        out[:len(mono)] = mono
    return len(mono)


# -------------------------------------------------------------------------------------------------- extraction
def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_batch_size(config: LogMelConfig, device: torch.device) -> int:
    """Clips per STFT batch: 64 on a GPU; on a CPU as many as keep a batch's complex spectrogram within 2 MB
    (2 clips at the defaults, 1 at Lin's settings): larger batches leave the cache and run slower per clip."""
    if device.type != "cpu":
        return 64
    spectrogram_bytes = config.frames * (config.n_fft // 2 + 1) * 8                # complex64 [frames, freqs]
    return max(1, (2 << 20) // spectrogram_bytes)


@contextlib.contextmanager
def torch_threads(count: int):
    """Set torch's intra-op thread count for a block, then restore it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def extract_files(paths: Sequence[str | Path], extractor: LogMelExtractor, *, workers: int = 2,
                  batch_size: int | None = None) -> Iterator[np.ndarray]:
    """Log-mel of audio files, yielded in input order as float32 [batch, frames, n_mels] arrays.

    `workers` threads each take a batch of files, decode it and run the extractor on it (on the extractor's
    device). Decoding (libsndfile, soxr) and torch both release the GIL, so the threads use separate cores;
    on a CPU torch gets one intra-op thread per worker thread so the cores are not oversubscribed. At most
    2 * workers batches are in flight. Batches depend only on `batch_size`, never on `workers`.
    """
    device = next(extractor.buffers()).device
    batch_size = batch_size or default_batch_size(extractor.config, device)
    batches = [list(paths[start:start + batch_size]) for start in range(0, len(paths), batch_size)]

    def decode(path, out: np.ndarray) -> None:
        try:
            load_clip(path, extractor.config, out)
        except AudioError as error:
            raise FeatureError(f"{error}: the features stage stops here; {_FIX}") from None
        except Exception as error:  # noqa: BLE001 - libsndfile and soxr raise many types; name the file
            raise FeatureError(f"{path}: cannot decode: {error}: the features stage stops here; {_FIX}") from None

    def run(batch: list) -> np.ndarray:
        audio = np.empty((len(batch), extractor.config.clip_samples), dtype=np.float32)  # [batch, samples]
        for row, path in enumerate(batch):
            decode(path, audio[row])
        with torch.inference_mode():
            features = extractor(torch.from_numpy(audio).to(device))              # [batch, frames, n_mels]
            finite = torch.isfinite(features).flatten(1).all(dim=1).cpu().numpy()  # [batch]
            if not finite.all():
                path = batch[int(np.flatnonzero(~finite)[0])]
                peak = float(np.abs(audio[int(np.flatnonzero(~finite)[0])]).max())
                raise FeatureError(f"{path}: gives non-finite log-mel features (samples up to {peak:.3g}, far "
                                   f"beyond full scale?): the features stage stops here; {_FIX}")
            return features.cpu().numpy()

    # torch's thread count is per OS thread (OpenMP): each worker sets its own, and the caller's is restored.
    threads = 1 if device.type == "cpu" else torch.get_num_threads()
    with torch_threads(threads), ThreadPoolExecutor(max(1, workers), initializer=torch.set_num_threads,
                                                    initargs=(threads,)) as pool:
        queue = iter(batches)
        pending = deque(pool.submit(run, batch) for batch in itertools.islice(queue, 2 * workers))
        while pending:
            result = pending.popleft().result()
            pending.extend(pool.submit(run, batch) for batch in itertools.islice(queue, 1))
            yield result


# ------------------------------------------------------------------------------------------------------ labels
def _class_index(labels: Iterable[str], classes: Sequence[str], where: str) -> np.ndarray:
    lookup = {name: i for i, name in enumerate(classes)}
    unknown = sorted({label for label in labels if label not in lookup})
    if unknown:
        raise ValueError(f"{where}: labels not in the class list: {unknown}")
    return np.array([lookup[label] for label in labels], dtype=np.int64)


def clip_tags(tags: pd.DataFrame, filenames: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """A tags table (filename, event_labels) -> uint8 [clips, classes], rows in `filenames` order."""
    by_name = dict(zip(tags["filename"], tags["event_labels"]))
    missing = [name for name in filenames if name not in by_name]
    if missing:
        raise ValueError(f"tags: {len(missing)} clips have no row, e.g. {missing[:3]}")
    pairs = [(row, label) for row, name in enumerate(filenames) for label in split_tags(by_name[name])]
    out = np.zeros((len(filenames), len(classes)), dtype=np.uint8)
    if pairs:
        rows, labels = zip(*pairs)
        out[np.array(rows), _class_index(labels, classes, "tags")] = 1
    return out


def frame_labels(events: pd.DataFrame, filenames: Sequence[str], classes: Sequence[str], frames: int,
                 hop: float) -> np.ndarray:
    """Strong labels -> uint8 [clips, frames, classes]; frame t covers [t * hop, (t + 1) * hop).

    A frame is active for a class when an event of that class overlaps it by more than zero time. Events are
    clipped to the clip; rows with an empty label (DESED's "no event" rows) are skipped. Vectorised: +1 at each
    event's first frame and -1 past its last, then a cumulative sum over frames.
    """
    events = events[events["event_label"].astype(str).str.len() > 0]
    lookup = {name: row for row, name in enumerate(filenames)}
    unknown = sorted(set(events["filename"]) - set(lookup))
    if unknown:
        raise ValueError(f"events: {len(unknown)} filenames are not in the clip list, e.g. {unknown[:3]}")
    rows = events["filename"].map(lookup).to_numpy(dtype=np.int64)                          # [events]
    cols = _class_index(list(events["event_label"]), classes, "events")                     # [events]
    tolerance = 1e-6  # of a frame: times written to the millisecond must not spill into the next frame
    start = np.floor(events["onset"].to_numpy(float) / hop + tolerance).astype(np.int64)
    stop = np.ceil(events["offset"].to_numpy(float) / hop - tolerance).astype(np.int64)
    start, stop = np.clip(start, 0, frames), np.clip(stop, 0, frames)
    keep = stop > start
    delta = np.zeros((len(filenames), frames + 1, len(classes)), dtype=np.int32)            # [clips, frames+1, C]
    np.add.at(delta, (rows[keep], start[keep], cols[keep]), 1)
    np.add.at(delta, (rows[keep], stop[keep], cols[keep]), -1)
    return (np.cumsum(delta, axis=1)[:, :frames] > 0).astype(np.uint8)                      # [clips, frames, C]


# ------------------------------------------------------------------------------------------------------- store
@dataclass
class FeatureSet:
    """One set of the store. `features` [clips, frames, n_mels] float16, `tags` [clips, classes] uint8,
    `frame_labels` [clips, frames, classes] uint8 or None (weakly labelled sets), `index` (row, filename,
    event_labels)."""
    name: str
    features: np.ndarray
    tags: np.ndarray
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


def _write_labels(name: str, set_dir: Path, out: Path, filenames: list[str], classes: Sequence[str],
                  config: LogMelConfig) -> bool:
    """A set's index table, clip tags and, when it has an events.tsv, frame labels; returns whether it has."""
    tags_table = read_tags(set_dir / "tags.tsv")
    np.save(out / f"{name}_tags.npy", clip_tags(tags_table, filenames, classes))
    tag_text = dict(zip(tags_table["filename"], tags_table["event_labels"]))
    index = pd.DataFrame({"row": range(len(filenames)), "filename": filenames,
                          "event_labels": [tag_text[filename] for filename in filenames]})
    index.to_csv(out / f"{name}.tsv", sep="\t", index=False, lineterminator="\n")
    strong = (set_dir / "events.tsv").is_file()
    if strong:
        events = read_events(set_dir / "events.tsv")
        np.save(out / f"{name}_frame_labels.npy",
                frame_labels(events, filenames, classes, config.frames, config.frame_hop))
    return strong


def _write_features(path: Path, audio: list[Path], extractor: LogMelExtractor, workers: int,
                    batch_size: int | None, sums: _MomentSums | None,
                    progress: Callable[[int], None] | None) -> None:
    """Features of `audio` into a new .npy written through a memory map (never all in RAM); the stored
    (float16) values are added to `sums` when given."""
    cfg = extractor.config
    store = np.lib.format.open_memmap(path, mode="w+", dtype=STORE_DTYPE,
                                      shape=(len(audio), cfg.frames, cfg.n_mels))  # [clips, frames, n_mels]
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
    return {"clips": len(filenames), "frames": extractor.config.frames, "n_mels": extractor.config.n_mels,
            "frame_labels": strong, "source": str(set_dir)}


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Like numpy.savez, but byte-for-byte reproducible (numpy stamps each member with the current time)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            member = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(member, "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.asanyarray(value), allow_pickle=False)


def build_store(sets: Mapping[str, str | Path], out_dir: str | Path, config: LogMelConfig,
                classes: Sequence[str], *, train_sets: Sequence[str] = TRAIN_SETS, root: str | Path = ".",
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
    _save_npz(partial / "normalization.npz", mean=mean, std=std, frames=np.int64(sums.count),
              sets=np.array(list(train_sets)))
    info = {"format": STORE_FORMAT, "dtype": np.dtype(STORE_DTYPE).name, "config": config.describe(),
            "classes": list(classes), "train_sets": list(train_sets), "sets": summaries}
    (partial / "features.json").write_text(json.dumps(info, indent=2) + "\n")

    shutil.rmtree(out_dir, ignore_errors=True)
    partial.rename(out_dir)
    return info


def read_store_info(root: str | Path = STORE_DIR) -> dict:
    """features.json of a complete store (raises FileNotFoundError for a missing or unfinished one)."""
    path = Path(root) / "features.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no complete feature store here (run `dvc repro features`)")
    return json.loads(path.read_text())


def check_store(root: str | Path, config: LogMelConfig, classes: Sequence[str]) -> dict:
    """Raise ValueError when the store at `root` was built with other settings or classes; return its info."""
    info = read_store_info(root)
    expected = json.loads(json.dumps(config.describe()))
    if info["config"] != expected or info["classes"] != list(classes):
        raise ValueError(f"{root}: features were built with {info['config']} and classes {info['classes']}, "
                         f"not {expected} and {list(classes)}: rerun the features stage")
    return info


def load_feature_set(root: str | Path, name: str, mmap: bool = True) -> FeatureSet:
    """One set of the store; with `mmap` the arrays are read-only memory maps (nothing loaded up front)."""
    root = Path(root)
    info = read_store_info(root)
    if name not in info["sets"]:
        raise KeyError(f"{root}: no set {name!r}; the store has {sorted(info['sets'])}")
    mode = "r" if mmap else None
    labels = root / f"{name}_frame_labels.npy"
    index = pd.read_csv(root / f"{name}.tsv", sep="\t", dtype={"filename": str, "event_labels": str},
                        keep_default_na=False)
    return FeatureSet(name=name, features=np.load(root / f"{name}.npy", mmap_mode=mode),
                      tags=np.load(root / f"{name}_tags.npy", mmap_mode=mode),
                      frame_labels=np.load(labels, mmap_mode=mode) if labels.is_file() else None, index=index)


def load_normalization(root: str | Path = STORE_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Per-mel-band (mean, std), float32 [n_mels], from the training sets: normalise as (x - mean) / std."""
    with np.load(Path(root) / "normalization.npz") as stats:
        return stats["mean"], stats["std"]
