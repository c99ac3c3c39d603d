"""Sound event detection on any audio file with a trained checkpoint (`python -m pipeline.predict`).

Everything the detector needs comes from the checkpoint (`ifdsed.inference.settings.detector_settings`): classes, the
log-mel settings, the normalisation statistics and the post-processing (thresholds, per-class median windows).
params.yaml is never read.

A file goes through:

1. decoding (`decode`): any format libsndfile reads (wav, flac, ogg, ...), any sample rate and channel count,
   mixed down by a channel mean and resampled with soxr HQ to the features' sample rate, exactly as the
   training features were made (`ifdsed.features.store.load_clip`);
2. windows (`split_windows`): consecutive, non-overlapping windows of `clip_duration` (the length the model was
   trained on); the last one, or a file shorter than one window, is zero-padded; a tail shorter than one frame
   hop past the last full window is dropped (a 10 s clip resampled to 10 s + 1 sample stays one window);
3. features and model (`Detector.window_outputs`): log-mel, (x - mean) / std, the ATP branch -> frame
   probabilities [windows, frames, C] and clip probabilities [windows, C], batches of windows from many files;
   the model runs as `optimize_for_inference` rewrites it (BatchNorm folded into the convolutions: the same
   outputs to float rounding, faster on a CPU);
4. post-processing (`Detector.postprocess`): in each window the clip tags gate the frames (p_t,c > threshold
   where P_c > tag threshold), the windows of a file are joined, frames that start in the padding are dropped,
   each class is median-filtered over the whole file and runs of active frames become events. Times are seconds
   of the original file: frame k of window w starts at w * clip_duration + k * frame_hop, an event ends one
   frame_hop after its last frame start, cut at the file's duration.

`predict_files` runs this over many files with a pool of worker threads: each takes a group of files, decodes
them and runs features, model and post-processing on their windows, so decoding one group overlaps the compute
of another. On a CPU each worker uses one torch thread (`workers` threads fill `workers` cores); on a GPU the
model runs there and the workers only decode. Batches depend on `batch_size` only, never on `workers` or timing,
so the output is the same whatever the thread count.
"""
from __future__ import annotations

import copy
import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import librosa
import numpy as np
import pandas as pd
import soundfile as sf
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ifdsed.inference.settings import DetectorSettings, detector_settings
from ifdsed.features.store import LogMelExtractor, default_device, torch_threads
from ifdsed.inference.postprocess import decisions_to_events, gated_decisions, median_filter_decisions
from ifdsed.io.audio import CLIP_RUN, SILENCE_DBFS, clip_runs, full_scale
from ifdsed.io.tables import EVENT_COLUMNS
from models import checkpoint
from models.encoder import ConvBlock
from models.sed_model import SEDModel

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
STD_FLOOR = 1e-5            # as ifdsed.training.loop.Normalizer
CPU_BATCH = 8               # windows per model call on a CPU: the fastest per window (the activations stay in cache)
GPU_BATCH = 64
MAX_PEAK = 1e6              # samples beyond this many times full scale are not audio (their log-mel overflows)


# ---------------------------------------------------------------------------------------------------- decoding
def decode(path: str | Path, sample_rate: int) -> tuple[np.ndarray, float]:
    """One audio file -> (mono float32 [samples] at `sample_rate`, duration of the original file in s).

    Channels are averaged; another sample rate is converted with soxr HQ (`librosa.resample`), as
    `ifdsed.features.store.load_clip` does for the training clips. Raises ValueError for a file with NaN or Inf
    samples or samples absurdly beyond full scale, and whatever libsndfile raises for a file it cannot read.
    """
    signal, duration, _ = decode_checked(path, sample_rate)
    return signal, duration


def decode_checked(path: str | Path, sample_rate: int) -> tuple[np.ndarray, float, list[str]]:
    """`decode`, plus notes on a file that is used but suspicious: no samples, silent, clipped."""
    with sf.SoundFile(str(path)) as handle:
        subtype = handle.subtype
        data = handle.read(dtype="float32", always_2d=True)                      # [n, channels]
        native_rate = handle.samplerate
    finite = np.isfinite(data)
    if not finite.all():
        first = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise ValueError(f"holds NaN or Inf samples (the first at {first / native_rate:.3f} s)")
    peak = float(np.abs(data).max()) if data.size else 0.0
    if peak > MAX_PEAK:
        raise ValueError(f"holds samples up to {peak:.3g} times full scale: not audio at any usual level")
    notes = []
    if not data.size:
        notes.append("holds no samples")
    elif peak < 10 ** (SILENCE_DBFS / 20):
        notes.append(f"is silent (peak below {SILENCE_DBFS:g} dBFS): no events are expected")
    clipped = clip_runs(data, full_scale(subtype) - 1e-9)
    if clipped:
        notes.append(f"is clipped ({clipped} runs of {CLIP_RUN}+ samples at full scale): events may be missed")
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)  # [n]
    duration = len(mono) / native_rate
    if native_rate != sample_rate and len(mono):
        mono = librosa.resample(mono, orig_sr=native_rate, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(mono, dtype=np.float32), duration, notes


def split_windows(signal: np.ndarray, window_samples: int, min_tail: int = 0) -> np.ndarray:
    """[samples] -> [windows, window_samples]: consecutive windows, the last zero-padded; at least one window.

    A tail of fewer than `min_tail` samples past the last full window gets no window of its own (it is dropped):
    a 10 s clip resampled to one sample more than 10 s must not give a second window of padding."""
    count = max(1, math.ceil(max(len(signal) - min_tail, 0) / window_samples))
    out = np.zeros(count * window_samples, dtype=np.float32)
    used = min(len(signal), len(out))
    out[:used] = signal[:used]
    return out.reshape(count, window_samples)


# ---------------------------------------------------------------------------------------------------- the model
def optimize_for_inference(model: SEDModel) -> SEDModel:
    """An eval-mode copy of `model` that computes the same outputs faster: each encoder block's BatchNorm is
    folded into its convolution. Blocks of another shape are left as they are."""
    fast = copy.deepcopy(model).eval()
    for block in fast.modules():
        if not isinstance(block, ConvBlock):
            continue
        if isinstance(block.bn, nn.BatchNorm2d) and block.bn.track_running_stats:
            block.conv, block.bn = fuse_conv_bn_eval(block.conv, block.bn), nn.Identity()
    return fast


@dataclass
class Prediction:
    """What `predict_files` gives for one file. `error` is None when the file was read and processed; `notes`
    then says what was suspicious about it (silence, clipping, no samples), if anything.

    frame_probs [frames, C]: the ATP frame probabilities of the frames that start inside the file, in time
    order; frame_starts [frames] their start times (s); clip_probs [windows, C]; log_mel [frames, n_mels] (the
    un-normalised features, only with keep_features)."""
    filename: str
    path: Path
    duration: float = 0.0
    events: pd.DataFrame | None = None
    frame_probs: np.ndarray | None = None
    frame_starts: np.ndarray | None = None
    clip_probs: np.ndarray | None = None
    log_mel: np.ndarray | None = None
    error: str | None = None
    notes: list[str] | None = None     # the file was processed, but is suspicious (silent, clipped, empty)


class Detector:
    """A checkpoint's model with its feature extractor, normalisation and post-processing, on one device."""

    def __init__(self, model: SEDModel, settings: DetectorSettings, device: torch.device | str | None = None):
        self.device = torch.device(device) if device is not None else default_device()
        self.settings = settings
        features, classes = settings.features, settings.classes
        config = model.config
        if config.n_mels != features.n_mels or config.n_classes != len(classes):
            raise ValueError(f"the model expects {config.n_mels} mel bands and {config.n_classes} classes, the "
                             f"detector settings give {features.n_mels} and {len(classes)}")
        if len(settings.median_windows) != len(classes):
            raise ValueError(f"{len(settings.median_windows)} median windows for {len(classes)} classes")
        self.model = optimize_for_inference(model).to(self.device)
        self.extractor = LogMelExtractor(features).to(self.device)
        self.mean = torch.as_tensor(settings.mean, dtype=torch.float32, device=self.device)        # [n_mels]
        self.std = torch.as_tensor(np.maximum(settings.std, STD_FLOOR), dtype=torch.float32,
                                   device=self.device)                                             # [n_mels]

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: torch.device | str | None = None) -> "Detector":
        """Load a training checkpoint (best.pt) that carries its detector settings in extra["detector"]."""
        device = torch.device(device) if device is not None else default_device()
        loaded = checkpoint.load(path, map_location=device)
        return cls(loaded.model, detector_settings(loaded.extra), device)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.settings.classes

    @property
    def batch_size(self) -> int:
        """Default windows per model call for this device."""
        return CPU_BATCH if self.device.type == "cpu" else GPU_BATCH

    # ---- model -----------------------------------------------------------------------------------------------
    def window_outputs(self, windows: np.ndarray, batch_size: int | None = None,
                       keep_features: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """windows [W, clip_samples] float32 -> frame_probs [W, T, C], clip_probs [W, C] and, with
        keep_features, log_mel [W, T, n_mels] (before normalisation), all float32 numpy arrays."""
        batch_size = batch_size or self.batch_size
        frames, clips, mels = [], [], []
        with torch.inference_mode():
            for start in range(0, len(windows), batch_size):
                audio = torch.from_numpy(windows[start:start + batch_size]).to(self.device)  # [b, samples]
                log_mel = self.extractor(audio)                                             # [b, T, n_mels]
                outputs = self.model((log_mel - self.mean) / self.std)
                frames.append(outputs["frame_probs"].float().cpu().numpy())                 # [b, T, C]
                clips.append(outputs["clip_probs"].float().cpu().numpy())                   # [b, C]
                if keep_features:
                    mels.append(log_mel.cpu().numpy())                                      # [b, T, n_mels]
        return (np.concatenate(frames), np.concatenate(clips),
                np.concatenate(mels) if keep_features else None)

    # ---- post-processing -------------------------------------------------------------------------------------
    def frame_starts(self, windows: int) -> np.ndarray:
        """Start time (s) of every frame of `windows` consecutive windows, float64 [windows * frames]."""
        features = self.settings.features
        window_start = features.clip_samples / features.sample_rate                   # s between windows
        frame = np.arange(features.frames) * features.frame_hop                        # [T]
        return (np.arange(windows)[:, None] * window_start + frame[None, :]).reshape(-1)

    def postprocess(self, frame_probs: Sequence[np.ndarray], clip_probs: Sequence[np.ndarray],
                    durations: Sequence[float], filenames: Sequence[str]) -> list[tuple[pd.DataFrame, np.ndarray]]:
        """The windows' outputs of several files -> per file (events table, kept-frame mask [W_i * T]).

        frame_probs[i] [W_i, T, C] and clip_probs[i] [W_i, C]: file i's windows. Each window's tags gate its
        frames; frames starting at or past the file's duration (padding) are dropped; the median filter and the
        run lengths see each file's frames joined. Files are handled together (one median filter call per
        class for all files of one length, one run-length pass), which costs far less than file by file."""
        settings, classes = self.settings, self.settings.classes
        starts, kept = [], []                                                   # per file: [F_i], [F_i, C]
        masks = []
        for probs, tags, duration in zip(frame_probs, clip_probs, durations):
            decisions = gated_decisions(probs, tags, settings.frame_threshold, settings.tag_threshold)  # [W,T,C]
            grid = self.frame_starts(len(probs))                                # [W * T]
            keep = grid < duration                                              # [W * T]
            masks.append(keep)
            starts.append(grid[keep])
            kept.append(decisions.reshape(-1, len(classes))[keep])              # [F_i, C]
        lengths = np.array([len(s) for s in starts], dtype=np.int64)           # [N]
        joined = np.zeros((len(kept), max(lengths.max(initial=0), 1), len(classes)), dtype=bool)  # [N, F, C]
        for length in np.unique(lengths[lengths > 0]):                          # files of equal length at once
            rows = np.flatnonzero(lengths == length)
            joined[rows, :length] = median_filter_decisions(np.stack([kept[r] for r in rows]),
                                                            settings.median_windows)
        # Run lengths of all files at once; keys in file order, since the table is sorted by filename.
        keys = [f"{row:09d}" for row in range(len(kept))]
        runs = decisions_to_events(joined, keys, classes, frame_hop=1.0, decimals=0)
        row = runs["filename"].to_numpy().astype(np.int64)                      # [E] file of each event
        first = runs["onset"].to_numpy(np.int64)                                # [E] first frame
        last = runs["offset"].to_numpy(np.int64) - 1                            # [E] last frame
        padded = np.zeros(joined.shape[:2])                                     # [N, F] frame start times (s)
        for r, file_starts in enumerate(starts):
            padded[r, :len(file_starts)] = file_starts
        durations = np.asarray(durations, dtype=np.float64)                     # [N]
        events = pd.DataFrame({
            "filename": np.asarray(filenames, dtype=object)[row],
            "onset": padded[row, first],
            "offset": np.minimum(padded[row, last] + settings.frame_hop, durations[row]),
            "event_label": runs["event_label"].to_numpy()}, columns=EVENT_COLUMNS)
        bounds = np.searchsorted(row, np.arange(len(kept) + 1))                 # events of file r: rows
        return [(events.iloc[bounds[r]:bounds[r + 1]].reset_index(drop=True), masks[r])  # bounds[r]:bounds[r+1]
                for r in range(len(kept))]

    # ---- one group of files ----------------------------------------------------------------------------------
    def predict_group(self, items: Sequence[tuple[str | Path, str]], batch_size: int | None = None,
                      keep_features: bool = False) -> list[Prediction]:
        """(path, filename) pairs -> one Prediction each, in order. A file that cannot be decoded gets a
        Prediction with `error` set; the windows of the others are batched together."""
        results, decoded = [], []
        for path, filename in items:
            result = Prediction(filename=filename, path=Path(path))
            try:
                signal, result.duration, result.notes = decode_checked(path, self.settings.features.sample_rate)
                features = self.settings.features
                decoded.append((result, split_windows(signal, features.clip_samples, features.hop_length)))
            except Exception as error:  # noqa: BLE001 - any decoding failure skips the file, named
                result.error = f"{type(error).__name__}: {error}".strip()
            results.append(result)
        if not decoded:
            return results
        windows = np.concatenate([w for _, w in decoded])                                  # [W_all, samples]
        frame_probs, clip_probs, log_mel = self.window_outputs(windows, batch_size, keep_features)
        spans = np.cumsum([0] + [len(w) for _, w in decoded])                              # window offsets
        per_file = [slice(a, b) for a, b in zip(spans[:-1], spans[1:])]
        processed = self.postprocess([frame_probs[s] for s in per_file], [clip_probs[s] for s in per_file],
                                     [r.duration for r, _ in decoded], [r.filename for r, _ in decoded])
        for (result, _), span, (events, keep) in zip(decoded, per_file, processed):
            result.events = events
            result.frame_probs = frame_probs[span].reshape(-1, frame_probs.shape[-1])[keep]    # [F, C]
            result.frame_starts = self.frame_starts(span.stop - span.start)[keep]              # [F]
            result.clip_probs = clip_probs[span]                                               # [W, C]
            if keep_features:
                result.log_mel = log_mel[span].reshape(-1, log_mel.shape[-1])[keep]            # [F, n_mels]
        return results


# ------------------------------------------------------------------------------------------------ many files
def window_count(path: str | Path, window: float) -> int:
    """Windows a file will take, from its header only (1 when the header cannot be read: decoding will say why)."""
    try:
        return max(1, math.ceil(sf.info(str(path)).duration / window))
    except Exception:  # noqa: BLE001 - reported when the file is decoded
        return 1


def plan_groups(items: Iterable[tuple[str | Path, str]], window: float,
                batch_size: int) -> Iterator[list[tuple[str | Path, str]]]:
    """Consecutive files, grouped until a group holds at least `batch_size` windows (a long file may fill a group
    on its own), so the groups are of similar cost. Depends on the files and `batch_size` only."""
    group, windows = [], 0
    for item in items:
        group.append(item)
        windows += window_count(item[0], window)
        if windows >= batch_size:
            yield group
            group, windows = [], 0
    if group:
        yield group


def predict_files(items: Iterable[tuple[str | Path, str]], detector: Detector, *, workers: int | None = None,
                  batch_size: int | None = None, keep_features: bool = False) -> Iterator[Prediction]:
    """Predictions for (path, filename) pairs, yielded one per file in input order.

    Files are grouped by `plan_groups` (about `batch_size` windows a group; default `detector.batch_size`);
    `workers` threads (default: the CPU count, at most 8) each take a group, decode it and run the detector on
    its windows in batches of `batch_size`. At most 2 * workers groups are in flight. On a CPU every worker runs
    torch on one thread.
    """
    batch_size = batch_size or detector.batch_size
    workers = max(1, workers or min(os.cpu_count() or 1, 8))
    groups = plan_groups(items, detector.settings.features.clip_duration, batch_size)
    threads = 1 if detector.device.type == "cpu" else torch.get_num_threads()

    def run(group):
        return detector.predict_group(group, batch_size, keep_features)

    # torch's thread count is per OS thread: each worker sets its own, and the caller's is restored.
    with torch_threads(threads), ThreadPoolExecutor(workers, initializer=torch.set_num_threads,
                                                    initargs=(threads,)) as pool:
        pending: deque = deque(pool.submit(run, group) for _, group in zip(range(2 * workers), groups))
        while pending:
            done = pending.popleft().result()
            group = next(groups, None)
            if group is not None:
                pending.append(pool.submit(run, group))
            yield from done


def find_audio(path: str | Path) -> list[tuple[Path, str]]:
    """A file -> [(file, its name)]; a folder -> its .wav/.flac/.ogg files (any case, searched recursively,
    sorted) with names relative to the folder, as posix paths. Raises FileNotFoundError for neither."""
    path = Path(path)
    if path.is_file():
        return [(path, path.name)]
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or folder: {path}")
    found = [(file, file.relative_to(path).as_posix()) for file in path.rglob("*")
             if file.suffix.lower() in AUDIO_SUFFIXES and file.is_file()]
    return sorted(found, key=lambda pair: pair[1])


def plot_prediction(result: Prediction, classes: Sequence[str], frame_hop: float, path: str | Path) -> Path:
    """One PNG: the file's log-mel (needs keep_features) above its predicted events as a piano roll."""
    from ifdsed.evaluation.plots import piano_roll  # matplotlib (Agg) only when plots are asked for
    if result.log_mel is None:
        raise ValueError(f"{result.filename}: no log-mel kept (predict with keep_features=True)")
    return piano_roll(result.log_mel, frame_hop, classes, {"predicted": result.events},
                      f"{result.filename} ({result.duration:.2f} s)", Path(path))
