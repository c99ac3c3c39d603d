"""Labels as arrays: clip tags [clips, classes] and strong frame labels [clips, frames, classes]."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ifdsed.io.tables import split_tags


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

