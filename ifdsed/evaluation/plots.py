"""Pictures of results: per-class bars (F1, the domain-gap probe), PSD-ROC curves, and log-mel piano rolls of test clips."""
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


def piano_roll(log_mel: np.ndarray, frame_hop: float, classes: Sequence[str], rolls: Mapping[str, pd.DataFrame],
               title: str, path: Path) -> Path:
    """A log-mel [T, n_mels] above one piano roll per event table in `rolls` (e.g. truth, predicted)."""
    duration = log_mel.shape[0] * frame_hop
    figure, axes = plt.subplots(1 + len(rolls), 1, figsize=(10, 2.4 + 2.2 * len(rolls)), sharex=True,
                                gridspec_kw={"height_ratios": [1.2] + [1] * len(rolls)})
    axes[0].imshow(log_mel.T, origin="lower", aspect="auto", extent=(0, duration, 0, log_mel.shape[1]))
    axes[0].set_ylabel("mel band")
    axes[0].set_title(title)
    for axis, (name, events) in zip(axes[1:], rolls.items()):
        for row in events.itertuples():
            if row.event_label in classes:
                level = list(classes).index(row.event_label)
                axis.broken_barh([(row.onset, row.offset - row.onset)], (level - 0.4, 0.8))
        axis.set_yticks(range(len(classes)), classes, fontsize=7)
        axis.set_ylim(-0.6, len(classes) - 0.4)
        axis.set_ylabel(name)
        axis.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, duration)
    return _save(figure, path)


def plot_prediction(result, classes: Sequence[str], frame_hop: float, path: str | Path) -> Path:
    """One PNG for an `ifdsed.inference.files.Prediction`: the file's log-mel (needs keep_features) above its
    predicted events as a piano roll."""
    if result.log_mel is None:
        raise ValueError(f"{result.filename}: no log-mel kept (predict with keep_features=True)")
    return piano_roll(result.log_mel, frame_hop, classes, {"predicted": result.events},
                      f"{result.filename} ({result.duration:.2f} s)", Path(path))
