"""The diagnostic arm `model.ifd_labels: oracle`: IFD pairs the real weak clips' frames by their hidden
labels instead of the pseudo labels the model makes, an upper bound of what IFD can do with correct real frame
labels. It is never one of the paper's variants (a run reports itself as "<variant> (oracle IFD labels)").

`oracle_frame_labels` reads the simulated weak set's hidden timestamps (`ORACLE_EVENTS`, data.source: embedded
only) and turns them into frame labels with `ifdsed.features.labels.frame_labels`, the function that makes the
feature store's frame labels of the strongly labelled sets. `with_oracle_labels` adds each batch's rows of them as
`oracle_frame_labels`, which the IFD loss alone reads (`ifdsed.models.sed_model.SEDModel.weak_frame_labels`): the
ATP and SEDB losses still see only the clip tags of the real clips. Training reads the file in this arm only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Sequence

import torch

from ifdsed import paths as layout
from ifdsed.errors import InputError
from ifdsed.features.labels import frame_labels
from ifdsed.features.store import FeatureSet
from ifdsed.io.tables import read_events

ORACLE_EVENTS = layout.HIDDEN / "weak_events.tsv"   # DESED format: filename, onset, offset, event_label

Batch = dict[str, torch.Tensor]


def oracle_frame_labels(path: Path, weak: FeatureSet, classes: Sequence[str], frame_hop: float) -> torch.Tensor:
    """The weak set's hidden frame labels, uint8 [N, T, C] in the store's clip order, from the event table at
    `path` (frames and hop as the store's: a frame is active where an event overlaps it)."""
    if not Path(path).is_file():
        raise InputError(f"model.ifd_labels is oracle, but {path} (the simulated weak set's hidden timestamps, "
                         "written by the realworld stage with data.source: embedded) does not exist")
    labels = frame_labels(read_events(path), list(weak.index["filename"]), classes, weak.features.shape[1],
                          frame_hop)                                                   # [N, T, C] uint8
    return torch.from_numpy(labels)


def with_oracle_labels(batches: Iterable[Batch], labels: torch.Tensor) -> Iterator[Batch]:
    """The batches of `batches` (`ifdsed.training.batches.MixedBatches`), each with "oracle_frame_labels"
    [B, T, C] float: the rows of `labels` [N, T, C] of its real clips (by clip_index), zeros for its synthetic
    clips."""
    for batch in batches:
        real = ~batch["is_synthetic"].bool()                                           # [B]
        if "is_unlabelled" in batch:                                                   # a mean teacher's clips
            real = real & ~batch["is_unlabelled"].bool()
        rows = torch.where(real, batch["clip_index"], torch.zeros_like(batch["clip_index"]))   # [B] valid rows
        oracle = labels[rows].float() * real[:, None, None]                            # [B, T, C]
        yield {**batch, "oracle_frame_labels": oracle}
