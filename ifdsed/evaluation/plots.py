"""Pictures of results: per-class bars (F1, the domain-gap probe), PSD-ROC curves, and log-mel piano rolls of test
clips and predicted files, with the frame probabilities behind the events."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ifdsed.io.atomic import atomic_path  # noqa: E402


def _save(figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=90, bbox_inches="tight")
    plt.close(figure)
    return path


def per_class_bars(scores: pd.DataFrame, title: str, path: Path, errors: pd.DataFrame | None = None,
                   ylabel: str = "F1", ylim: tuple[float, float] = (0, 1)) -> Path:
    """Grouped bars: one group per class (rows of `scores`), one bar per column (e.g. a test set or a variant),
    with `errors` (same shape, e.g. the std over seeds) as error bars."""
    figure, axis = plt.subplots(figsize=(10, 4))
    positions = np.arange(len(scores))
    width = 0.8 / max(len(scores.columns), 1)
    for i, column in enumerate(scores.columns):
        error = None if errors is None else errors[column].fillna(0).to_numpy()
        axis.bar(positions + i * width, scores[column].fillna(0).to_numpy(), width, yerr=error, capsize=2,
                 label=column)
    axis.set_xticks(positions + 0.4 - width / 2, scores.index, rotation=30, ha="right")
    axis.set_ylim(*ylim)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.legend()
    return _save(figure, path)


def psd_roc(curves: Mapping[str, Mapping[str, dict]], path: Path) -> Path:
    """PSD-ROC curves: {set title: {scenario: {"etpr", "efpr"}}} -> one panel per scenario."""
    scenarios = sorted({scenario for per_set in curves.values() for scenario in per_set})
    figure, axes = plt.subplots(1, max(len(scenarios), 1), figsize=(5 * max(len(scenarios), 1), 4), squeeze=False)
    for axis, scenario in zip(axes[0], scenarios):
        for title, per_set in curves.items():
            curve = per_set.get(scenario)
            if curve is not None and curve.get("efpr") is not None:
                axis.step(curve["efpr"], curve["etpr"], where="post", label=title)
        axis.set_xlabel("eFPR (false alarms per hour)")
        axis.set_ylabel("eTPR")
        axis.set_ylim(0, 1)
        axis.set_title(f"PSD-ROC, {scenario}")
        axis.legend(fontsize=8)
    return _save(figure, path)


def piano_roll_figure(log_mel: np.ndarray, frame_hop: float, classes: Sequence[str],
                      rolls: Mapping[str, pd.DataFrame], title: str, frame_probs: np.ndarray | None = None):
    """A matplotlib figure, its panels on one time axis (seconds; frame t spans [t, t + 1) * frame_hop):
    the log-mel [T, n_mels]; one piano roll per event table in `rolls` (e.g. truth, predicted); with
    `frame_probs` [T, C], the frame probability p(t, c) of every class as a heat map (0 to 1, one row per class,
    in the piano rolls' order), the evidence behind the decided events. The caller saves or closes it."""
    duration = log_mel.shape[0] * frame_hop
    heights = [1.2] + [1] * len(rolls) + ([1] if frame_probs is not None else [])
    figure, axes = plt.subplots(len(heights), 1, figsize=(10, 2.4 + 2.2 * (len(heights) - 1)), sharex=True,
                                gridspec_kw={"height_ratios": heights}, squeeze=False)
    axes = axes[:, 0]
    axes[0].imshow(log_mel.T, origin="lower", aspect="auto", extent=(0, duration, 0, log_mel.shape[1]))
    axes[0].set_ylabel("mel band")
    axes[0].set_title(title)
    for axis, (name, events) in zip(axes[1:], rolls.items()):
        for row in events.itertuples():
            if row.event_label in classes:
                level = list(classes).index(row.event_label)
                axis.broken_barh([(row.onset, row.offset - row.onset)], (level - 0.4, 0.8))
        _class_rows(axis, classes, name)
        axis.grid(axis="x", alpha=0.3)
    if frame_probs is not None:
        if frame_probs.shape != (log_mel.shape[0], len(classes)):
            raise ValueError(f"frame probabilities of shape {frame_probs.shape} for {log_mel.shape[0]} frames and "
                             f"{len(classes)} classes")
        image = axes[-1].imshow(frame_probs.T, origin="lower", aspect="auto", vmin=0.0, vmax=1.0, cmap="magma",
                                interpolation="nearest", extent=(0, duration, -0.5, len(classes) - 0.5))
        _class_rows(axes[-1], classes, "frame probability")
        # the colour bar outside the panel, so that it keeps the width (the time axis) of the panels above it
        figure.colorbar(image, cax=axes[-1].inset_axes((1.005, 0.0, 0.012, 1.0)))
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, duration)
    return figure


def _class_rows(axis, classes: Sequence[str], label: str) -> None:
    """One row per class on the y axis (row c spans c - 0.5 to c + 0.5), labelled with the class names."""
    axis.set_yticks(range(len(classes)), classes, fontsize=7)
    axis.set_ylim(-0.5, len(classes) - 0.5)
    axis.set_ylabel(label)


def piano_roll(log_mel: np.ndarray, frame_hop: float, classes: Sequence[str], rolls: Mapping[str, pd.DataFrame],
               title: str, path: Path, frame_probs: np.ndarray | None = None) -> Path:
    """`piano_roll_figure` written as a PNG to `path` (atomically); returns `path`."""
    return _save(piano_roll_figure(log_mel, frame_hop, classes, rolls, title, frame_probs), Path(path))


def plot_prediction(result, classes: Sequence[str], frame_hop: float, path: str | Path) -> Path:
    """One PNG for an `ifdsed.inference.files.Prediction`: the file's log-mel (needs keep_features) above its
    predicted events as a piano roll and its frame probabilities [frames, C] as a heat map."""
    if result.log_mel is None:
        raise ValueError(f"{result.filename}: no log-mel kept (predict with keep_features=True)")
    return piano_roll(result.log_mel, frame_hop, classes, {"predicted": result.events},
                      f"{result.filename} ({result.duration:.2f} s)", Path(path), result.frame_probs)
