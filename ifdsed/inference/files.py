"""Detection on audio files of any length (`ifdsed predict`), through the one `Detector`.

A file goes through:

1. decoding (`ifdsed.io.audio.decode`): any format libsndfile reads (wav, flac, ogg, ...), any sample rate and
   channel count, mixed down by a channel mean and resampled with soxr HQ to the features' sample rate, exactly
   as the training clips were read (`ifdsed.io.audio.read_clip`);
2. windows (`split_windows`): consecutive, non-overlapping windows of `clip_duration` (the length the model was
   trained on); the last one, or a file shorter than one window, is zero-padded; a tail shorter than one frame
   hop past the last full window is dropped (a 10 s clip resampled to 10 s + 1 sample stays one window);
3. features and model (`Detector.audio_outputs`), batches of windows from many files;
4. post-processing (`Detector.file_events`): times are seconds of the original file: frame k of window w starts
   at w * clip_duration + k * frame_hop, an event ends one frame_hop after its last frame start, cut at the
   file's duration.

`predict_files` runs this over many files with a pool of worker threads: each takes a group of files, decodes
them and runs features, model and post-processing on their windows, so decoding one group overlaps the compute
of another. On a CPU each worker uses one torch thread (`workers` threads fill `workers` cores); on a GPU the
model runs there and the workers only decode. Batches depend on `batch_size` only, never on `workers` or timing,
so the output is the same whatever the thread count.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import soundfile as sf

from ifdsed.devices import ordered_thread_map
from ifdsed.inference.detector import Detector
from ifdsed.io.audio import decode

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def split_windows(signal: np.ndarray, window_samples: int, min_tail: int = 0) -> np.ndarray:
    """[samples] -> [windows, window_samples]: consecutive windows, the last zero-padded; at least one window.

    A tail of fewer than `min_tail` samples past the last full window gets no window of its own (it is dropped):
    a 10 s clip resampled to one sample more than 10 s must not give a second window of padding."""
    count = max(1, math.ceil(max(len(signal) - min_tail, 0) / window_samples))
    out = np.zeros(count * window_samples, dtype=np.float32)
    used = min(len(signal), len(out))
    out[:used] = signal[:used]
    return out.reshape(count, window_samples)


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


def predict_group(detector: Detector, items: Sequence[tuple[str | Path, str]], batch_size: int | None = None,
                  keep_features: bool = False) -> list[Prediction]:
    """(path, filename) pairs -> one Prediction each, in order. A file that cannot be decoded gets a
    Prediction with `error` set; the windows of the others are batched together."""
    results, decoded = [], []
    for path, filename in items:
        result = Prediction(filename=filename, path=Path(path))
        try:
            signal, result.duration, result.notes = decode(path, detector.settings.features.sample_rate)
            features = detector.settings.features
            decoded.append((result, split_windows(signal, features.clip_samples, features.hop_length)))
        except Exception as error:  # noqa: BLE001 - any decoding failure skips the file, named
            result.error = f"{type(error).__name__}: {error}".strip()
        results.append(result)
    if not decoded:
        return results
    windows = np.concatenate([w for _, w in decoded])                                  # [W_all, samples]
    frame_probs, clip_probs, log_mel = detector.audio_outputs(windows, batch_size, keep_features)
    spans = np.cumsum([0] + [len(w) for _, w in decoded])                              # window offsets
    per_file = [slice(a, b) for a, b in zip(spans[:-1], spans[1:])]
    processed = detector.file_events([frame_probs[s] for s in per_file], [clip_probs[s] for s in per_file],
                                     [r.duration for r, _ in decoded], [r.filename for r, _ in decoded])
    for (result, _), span, (events, keep) in zip(decoded, per_file, processed):
        result.events = events
        result.frame_probs = frame_probs[span].reshape(-1, frame_probs.shape[-1])[keep]    # [F, C]
        result.frame_starts = detector.frame_starts(span.stop - span.start)[keep]          # [F]
        result.clip_probs = clip_probs[span]                                               # [W, C]
        if keep_features:
            result.log_mel = log_mel[span].reshape(-1, log_mel.shape[-1])[keep]            # [F, n_mels]
    return results


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

    def run(group):
        return predict_group(detector, group, batch_size, keep_features)

    for done in ordered_thread_map(run, groups, workers, detector.device):
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
