"""Post-processing of model outputs into DESED tables (docs/method.md, "Post-processing and scoring").

1. clip tags: clip_probs > tag_threshold (0.5);
2. frame decisions: frame_probs > threshold (0.5), zeroed for the classes a clip is not tagged with;
3. a median filter along time, one window (in frames) per class;
4. runs of active frames -> events: a run over frames [a, b) gives onset a * hop, offset b * hop
   (frame t covers [t * hop, (t + 1) * hop), as in ifdsed.features.labels.frame_labels).

`file_events` is the chain, for files of any length cut into windows of the model's clip length: each window's
tags gate its own frames, then a file's frames are joined (frames that start in the padding past the file's end
are dropped) before the median filter and the run lengths; times are seconds of the file, rounded to 6 decimals,
an event ending one frame hop after its last frame starts, cut at the file's duration. `detect_events` applies
the same chain to a set of clips of one window each (the evaluation sets). There is no other post-processing.

Median windows (`median_windows_from_labels`) come from TRAINING labels only (the synthetic set's strong labels),
never from the validation or test set. The rule, this project's choice:

    window_c = round(fraction * median duration of class c's training events / frame_hop)  (half up),
    made odd (rounded up), then clipped to [min_frames, max_frames] (max_frames made odd, rounded down).

A class with no training event takes the median duration of all training events; with no training event at
all, every class gets min_frames. The window is odd so the filter is centred (with 0/1 decisions it is a
majority vote over the window): fraction 1/3 removes gaps and blips shorter than about a sixth of a typical
event of the class while keeping events of typical length intact.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter

from ifdsed.io.tables import EVENT_COLUMNS, TAG_COLUMNS, join_tags


def clip_tags(clip_probs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Clip-level decisions [N, C]: clip_probs > threshold."""
    return np.asarray(clip_probs) > threshold


def gated_decisions(frame_probs: np.ndarray, clip_probs: np.ndarray, threshold: float = 0.5,
                    tag_threshold: float = 0.5) -> np.ndarray:
    """Frame decisions [N, T, C]: frame_probs > threshold, and False for classes the clip is not tagged with."""
    frames = np.asarray(frame_probs)
    tags = clip_tags(clip_probs, tag_threshold)
    if frames.ndim != 3 or tags.shape != (frames.shape[0], frames.shape[2]):
        raise ValueError(f"gated_decisions: frame_probs {frames.shape} and clip_probs {tags.shape} do not "
                         f"match ([N, T, C] and [N, C])")
    return (frames > threshold) & tags[:, None, :]


def _odd(value: np.ndarray, up: bool = True) -> np.ndarray:
    """The nearest odd integer at or above (up) or at or below (not up) each value."""
    value = np.asarray(value, dtype=np.int64)
    return np.where(value % 2 == 1, value, value + 1 if up else value - 1)


def median_filter_decisions(decisions: np.ndarray, windows: Sequence[int] | np.ndarray) -> np.ndarray:
    """Median-filter 0/1 decisions [N, T, C] along time, class c with a window of windows[c] frames.

    One scipy.ndimage.median_filter call per class over the [N, T] slab (size (1, w): clips stay independent),
    mode 'nearest' (the first and last frames are repeated, so an event touching a clip edge is not eroded).
    A window of 1 leaves the class unchanged."""
    decisions = np.asarray(decisions).astype(np.uint8)
    windows = np.asarray(windows, dtype=np.int64)
    if decisions.ndim != 3 or windows.shape != (decisions.shape[2],):
        raise ValueError(f"median_filter_decisions: {decisions.shape} decisions and {windows.shape} windows "
                         f"do not match ([N, T, C] and [C])")
    if (windows < 1).any():
        raise ValueError(f"median_filter_decisions: windows must be >= 1 frame, got {windows.tolist()}")
    out = decisions.copy()
    for c, width in enumerate(windows):
        if width > 1:
            out[:, :, c] = median_filter(decisions[:, :, c], size=(1, int(width)), mode="nearest")
    return out.astype(bool)


def decisions_to_events(decisions: np.ndarray, filenames: Sequence[str], classes: Sequence[str],
                        frame_hop: float, decimals: int = 6) -> pd.DataFrame:
    """Runs of True in decisions [N, T, C] -> a DESED event table (filename onset offset event_label).

    Vectorised run-length detection: np.diff of the zero-padded [N, C, T + 2] array marks starts (+1) and ends
    (-1); in C order every (clip, class) row lists its starts and ends alternately, so the k-th start and the
    k-th end are one run. Times are rounded to ``decimals``. Sorted by filename, onset, offset, label."""
    decisions = np.asarray(decisions, dtype=bool)
    if decisions.ndim != 3 or decisions.shape[0] != len(filenames) or decisions.shape[2] != len(classes):
        raise ValueError(f"decisions_to_events: decisions {decisions.shape} do not match {len(filenames)} "
                         f"filenames and {len(classes)} classes")
    padded = np.pad(decisions.transpose(0, 2, 1).astype(np.int8), ((0, 0), (0, 0), (1, 1)))
    edges = np.diff(padded, axis=2)
    clip, cls, start = np.nonzero(edges == 1)
    _, _, stop = np.nonzero(edges == -1)
    events = pd.DataFrame({
        "filename": np.asarray(filenames, dtype=object)[clip],
        "onset": np.round(start * float(frame_hop), decimals),
        "offset": np.round(stop * float(frame_hop), decimals),
        "event_label": np.asarray(classes, dtype=object)[cls],
    }, columns=EVENT_COLUMNS)
    return events.sort_values(EVENT_COLUMNS, kind="mergesort").reset_index(drop=True)


def tags_table(clip_probs: np.ndarray, filenames: Sequence[str], classes: Sequence[str],
               threshold: float = 0.5) -> pd.DataFrame:
    """Predicted clip tags as a DESED weak table (filename event_labels; empty for no tag)."""
    tags = clip_tags(clip_probs, threshold)
    names = np.asarray(classes, dtype=object)
    labels = [join_tags(names[row]) for row in tags]
    return pd.DataFrame({"filename": list(filenames), "event_labels": labels}, columns=TAG_COLUMNS)


def frame_starts(windows: int, frames: int, frame_hop: float, window_seconds: float) -> np.ndarray:
    """Start time (s) of every frame of `windows` consecutive windows of `frames` frames, `window_seconds`
    apart, float64 [windows * frames]."""
    frame = np.arange(frames) * frame_hop                                               # [T]
    return (np.arange(windows)[:, None] * window_seconds + frame[None, :]).reshape(-1)


def file_events(frame_probs: Sequence[np.ndarray], clip_probs: Sequence[np.ndarray], durations: Sequence[float],
                filenames: Sequence[str], classes: Sequence[str], frame_hop: float, window_seconds: float,
                windows: Sequence[int] | np.ndarray, threshold: float = 0.5, tag_threshold: float = 0.5,
                decimals: int = 6) -> list[tuple[pd.DataFrame, np.ndarray]]:
    """The windows' outputs of several files -> per file (DESED events table, kept-frame mask [W_i * T]).

    frame_probs[i] [W_i, T, C] and clip_probs[i] [W_i, C]: file i's windows. Each window's tags gate its frames;
    frames starting at or past the file's duration (padding) are dropped; the median filter (`windows`, one per
    class) and the run lengths see each file's frames joined. Files are handled together (one median filter
    call per class for all files of one length, one run-length pass), which costs far less than file by file."""
    n_classes = len(classes)
    starts, kept, masks = [], [], []                                            # per file: [F_i], [F_i, C]
    for probs, tags, duration in zip(frame_probs, clip_probs, durations):
        decisions = gated_decisions(probs, tags, threshold, tag_threshold)      # [W, T, C]
        grid = frame_starts(len(probs), probs.shape[1], frame_hop, window_seconds)  # [W * T]
        keep = grid < duration                                                  # [W * T]
        masks.append(keep)
        starts.append(grid[keep])
        kept.append(decisions.reshape(-1, n_classes)[keep])                     # [F_i, C]
    lengths = np.array([len(s) for s in starts], dtype=np.int64)               # [N]
    joined = np.zeros((len(kept), max(lengths.max(initial=0), 1), n_classes), dtype=bool)  # [N, F, C]
    for length in np.unique(lengths[lengths > 0]):                              # files of equal length at once
        rows = np.flatnonzero(lengths == length)
        joined[rows, :length] = median_filter_decisions(np.stack([kept[r] for r in rows]), windows)
    # Run lengths of all files at once; keys in file order, since the table is sorted by filename.
    keys = [f"{row:09d}" for row in range(len(kept))]
    runs = decisions_to_events(joined, keys, classes, frame_hop=1.0, decimals=0)
    row = runs["filename"].to_numpy().astype(np.int64)                          # [E] file of each event
    first = runs["onset"].to_numpy(np.int64)                                    # [E] first frame
    last = runs["offset"].to_numpy(np.int64) - 1                                # [E] last frame
    padded = np.zeros(joined.shape[:2])                                         # [N, F] frame start times (s)
    for r, file_starts in enumerate(starts):
        padded[r, :len(file_starts)] = file_starts
    durations = np.asarray(durations, dtype=np.float64)                         # [N]
    events = pd.DataFrame({
        "filename": np.asarray(filenames, dtype=object)[row],
        "onset": np.round(padded[row, first], decimals),
        "offset": np.minimum(np.round(padded[row, last] + frame_hop, decimals), durations[row]),
        "event_label": runs["event_label"].to_numpy()}, columns=EVENT_COLUMNS)
    bounds = np.searchsorted(row, np.arange(len(kept) + 1))                     # events of file r: rows
    return [(events.iloc[bounds[r]:bounds[r + 1]].reset_index(drop=True), masks[r])  # bounds[r]:bounds[r+1]
            for r in range(len(kept))]


def detect_events(frame_probs: np.ndarray, clip_probs: np.ndarray, filenames: Sequence[str],
                  classes: Sequence[str], frame_hop: float, windows: Sequence[int] | np.ndarray,
                  threshold: float = 0.5, tag_threshold: float = 0.5) -> pd.DataFrame:
    """Clips of one window each, frame_probs [N, T, C] and clip_probs [N, C] -> one DESED table, sorted.
    `file_events` with every clip a file of one window, whose frames all lie inside it (no cut at its end)."""
    frame_probs, clip_probs = np.asarray(frame_probs), np.asarray(clip_probs)
    if frame_probs.ndim != 3 or clip_probs.shape != (frame_probs.shape[0], frame_probs.shape[2]):
        raise ValueError(f"detect_events: frame_probs {frame_probs.shape} and clip_probs {clip_probs.shape} do "
                         f"not match ([N, T, C] and [N, C])")
    per_file = file_events(frame_probs[:, None], clip_probs[:, None], [np.inf] * len(frame_probs), filenames,
                           classes, frame_hop, frame_probs.shape[1] * frame_hop, windows, threshold, tag_threshold)
    tables = [events for events, _ in per_file]
    events = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=EVENT_COLUMNS)
    return events.sort_values(EVENT_COLUMNS, kind="mergesort").reset_index(drop=True)


def median_windows_from_labels(events: pd.DataFrame, classes: Sequence[str], frame_hop: float,
                               fraction: float = 1 / 3, min_frames: int = 1,
                               max_frames: int | None = None) -> np.ndarray:
    """Per-class median-filter windows in frames [C] from TRAINING strong labels (see the module docstring).

    ``events``: a DESED event table of the training (synthetic) set; no-event rows and labels outside
    ``classes`` are ignored. Returns odd integers in [min_frames, max_frames]."""
    if frame_hop <= 0 or fraction <= 0 or min_frames < 1:
        raise ValueError("median_windows_from_labels: frame_hop and fraction must be > 0, min_frames >= 1")
    if max_frames is not None and max_frames < min_frames:
        raise ValueError(f"median_windows_from_labels: max_frames {max_frames} < min_frames {min_frames}")
    labelled = events[events["event_label"].fillna("").astype(str).isin(list(classes))]
    durations = labelled["offset"].astype(float) - labelled["onset"].astype(float)
    per_class = durations.groupby(labelled["event_label"]).median()
    fallback = float(durations.median()) if len(durations) else np.nan
    typical = per_class.reindex(list(classes)).fillna(fallback).to_numpy(float)
    if np.isnan(typical).all():
        return np.full(len(classes), int(_odd(min_frames)), dtype=np.int64)
    windows = _odd(np.maximum(np.floor(fraction * typical / frame_hop + 0.5), 1))
    windows = np.maximum(windows, _odd(min_frames))
    if max_frames is not None:
        windows = np.minimum(windows, max(int(_odd(max_frames, up=False)), 1))
    return windows.astype(np.int64)
