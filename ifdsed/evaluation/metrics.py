"""Scoring of DCASE-format detections: event- and segment-based F1 (sed_eval), audio tagging F1, PSDS.

Every metric is computed over a FIXED class list (params.yaml `classes`), never over the labels that happen to
occur in the predictions: a class the system never predicts scores F1 = 0 (sed_eval's ``zero_score`` handling
of an empty system output) and still counts in the macro average. A class with neither reference nor predicted
events has an undefined F1 (NaN, written as null in JSON) and is left out of the macro average, as sed_eval does.

Tables are DESED tables (see ifdsed/io/tables.py): ``filename onset offset event_label``; a row with an empty
event_label marks a clip with no event. `read_table` also reads comma-separated files and pandas' index column.

Evaluated files: the union of the files in the reference table (including its no-event rows) and the optional
``filenames``. A file with no detection counts its misses; a reference file with no event counts its false
alarms. Detections in files outside that set are ignored with a warning.

All figures are fractions (0.42, not 42 %).
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ifdsed.io.tables import EVENT_COLUMNS

DURATION_COLUMNS = ["filename", "duration"]
_ALIASES = {"file": "filename", "event_labels": "event_label", "label": "event_label"}

# DCASE 2021 task 4 PSDS scenarios (intersection-based, sed_scores_eval); max_efpr in false alarms per hour.
EVENT_COUNTS = ("Nref", "Nsys", "Ntp")   # sed_eval's class-wise event counts, in `event_based`'s per-file arrays
PSDS_SCENARIOS = {
    "psds1": dict(dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None, alpha_ct=0.0, alpha_st=1.0,
                  max_efpr=100.0),
    "psds2": dict(dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3, alpha_ct=0.5, alpha_st=1.0,
                  max_efpr=100.0),
}


# ----------------------------------------------------------------------------------------------------- tables

def _separator(path: Path) -> str:
    """Tab when the header line holds a tab, comma otherwise."""
    with open(path, encoding="utf-8") as handle:
        header = handle.readline()
    return "\t" if "\t" in header else ","


def _drop_index_column(table: pd.DataFrame) -> pd.DataFrame:
    """Drop a leading index column as pandas' to_csv writes it (unnamed, or named 'index'/'Unnamed: 0')."""
    first = str(table.columns[0])
    if first == "" or first.startswith("Unnamed:") or first == "index":
        return table.drop(columns=table.columns[0])
    return table


def read_table(path: str | Path, columns: Sequence[str] = EVENT_COLUMNS) -> pd.DataFrame:
    """Read a DESED-style table, tab- or comma-separated, with or without a leading index column.

    Column names ``file`` and ``event_labels``/``label`` are accepted for ``filename`` and ``event_label``.
    Returns exactly ``columns``; ``onset``, ``offset`` and ``duration`` become floats (NaN where blank, as on
    the no-event rows of a reference table), the others strings ("" where blank).
    Raises ValueError naming the file when a column is missing or a time is not a number.
    """
    path = Path(path)
    table = pd.read_csv(path, sep=_separator(path), dtype=str, keep_default_na=False)
    table = _drop_index_column(table)
    table.columns = [str(name).strip() for name in table.columns]
    table = table.rename(columns={old: new for old, new in _ALIASES.items()
                                  if old in table.columns and new not in table.columns})
    missing = [name for name in columns if name not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(table.columns)}")
    table = table[list(columns)].copy()
    for name in table.columns:
        table[name] = table[name].str.strip()
        if name in ("onset", "offset", "duration"):
            try:
                table[name] = table[name].replace("", np.nan).astype(float)
            except ValueError as error:
                raise ValueError(f"{path}: column {name!r} is not numeric: {error}") from None
    return table


def durations_dict(durations: pd.DataFrame | Mapping[str, float] | None) -> dict[str, float]:
    """A ``filename duration`` table (or a mapping) as {filename: seconds}; {} for None."""
    if durations is None:
        return {}
    if isinstance(durations, pd.DataFrame):
        return dict(zip(durations["filename"], durations["duration"].astype(float)))
    return {str(key): float(value) for key, value in durations.items()}


def _clean_events(events: pd.DataFrame, classes: Sequence[str], what: str) -> pd.DataFrame:
    """Rows that are events of a listed class; no-event rows dropped, other labels dropped with a warning."""
    labelled = events[events["event_label"].fillna("").astype(str) != ""]
    unknown = sorted(set(labelled["event_label"]) - set(classes))
    if unknown:
        warnings.warn(f"{what}: ignoring events of labels outside the class list: {unknown}", stacklevel=3)
    kept = labelled[labelled["event_label"].isin(list(classes))]
    return kept[EVENT_COLUMNS].astype({"onset": float, "offset": float})


def _evaluated_files(truth: pd.DataFrame, filenames: Iterable[str] | None) -> list[str]:
    """Files in the reference table (no-event rows included) plus ``filenames``, sorted."""
    files = set(truth["filename"].astype(str))
    if filenames is not None:
        files |= {str(name) for name in filenames}
    return sorted(files)


def _per_file_lists(events: pd.DataFrame, files: Sequence[str], what: str) -> dict[str, list[dict]]:
    """{filename: [event dicts]} for every evaluated file (empty list for a file with no event)."""
    outside = sorted(set(events["filename"]) - set(files))
    if outside:
        warnings.warn(f"{what}: ignoring events in {len(outside)} file(s) outside the evaluated set, "
                      f"e.g. {outside[:3]}", stacklevel=3)
    lists: dict[str, list[dict]] = {name: [] for name in files}
    for record in events.to_dict("records"):          # one conversion, in row order (per-group ones cost 1 ms each)
        if record["filename"] in lists:
            lists[record["filename"]].append(record)
    return lists


def _nan_to_none(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


# --------------------------------------------------------------------------------------------- sed_eval metrics

def _sed_eval_results(metric, prefix: str, classes: Sequence[str]) -> dict:
    """Flat dict of a sed_eval metric object's overall (micro), macro and per-class figures."""
    overall = metric.results_overall_metrics()
    macro = metric.results_class_wise_average_metrics()
    per_class = metric.results_class_wise_metrics()
    out = {
        f"{prefix}_f1_macro": macro["f_measure"]["f_measure"],
        f"{prefix}_f1_micro": overall["f_measure"]["f_measure"],
        f"{prefix}_precision_micro": overall["f_measure"]["precision"],
        f"{prefix}_recall_micro": overall["f_measure"]["recall"],
        f"{prefix}_precision_macro": macro["f_measure"]["precision"],
        f"{prefix}_recall_macro": macro["f_measure"]["recall"],
        f"{prefix}_error_rate": overall["error_rate"]["error_rate"],
        f"{prefix}_error_rate_macro": macro["error_rate"]["error_rate"],
    }
    out.update({f"{prefix}_f1/{name}": per_class[name]["f_measure"]["f_measure"] for name in classes})
    return {key: _nan_to_none(value) for key, value in out.items()}


def event_based(truth: pd.DataFrame, predictions: pd.DataFrame, classes: Sequence[str],
                filenames: Iterable[str] | None = None, t_collar: float = 0.2,
                percentage_of_length: float = 0.2, per_file_counts: dict | None = None) -> dict:
    """sed_eval event-based metrics (onset and offset) over the fixed ``classes``, evaluated file by file.

    Keys: event_f1_macro, event_f1_micro, event_error_rate (overall/micro ER), event_precision_micro,
    event_recall_micro, event_precision_macro, event_recall_macro, event_error_rate_macro, event_f1/<class>,
    event_files, event_evaluated_length_s.
    per_file_counts: a dict to fill with {filename: int array [classes, 3]}, each file's sed_eval counts
    (Nref, Nsys, Ntp) per class, from the same evaluation (for `ifdsed.evaluation.bootstrap`).
    """
    import sed_eval

    classes = list(classes)
    files = _evaluated_files(truth, filenames)
    reference = _per_file_lists(_clean_events(truth, classes, "truth"), files, "truth")
    estimated = _per_file_lists(_clean_events(predictions, classes, "predictions"), files, "predictions")
    metric = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=classes, t_collar=t_collar, percentage_of_length=percentage_of_length,
        empty_system_output_handling="zero_score")
    before = np.zeros((len(classes), 3), dtype=np.int64)
    for name in files:
        metric.evaluate(reference_event_list=reference[name], estimated_event_list=estimated[name])
        if per_file_counts is not None:   # sed_eval accumulates: this file's counts are the increase
            after = np.array([[metric.class_wise[label][key] for key in EVENT_COUNTS] for label in classes],
                             dtype=np.int64)                                          # [C, 3]
            per_file_counts[name], before = after - before, after
    out = _sed_eval_results(metric, "event", classes)
    out.update(event_files=len(files), event_evaluated_length_s=float(metric.evaluated_length))
    return out


def _evaluated_length(duration: float | None, reference: list[dict], estimated: list[dict]) -> float | None:
    """Seconds to evaluate in one file: its duration, stretched to cover any event that runs past it.

    With no duration, None (sed_eval then uses the latest offset of the reference and estimated events)."""
    if duration is None:
        return None
    offsets = [event["offset"] for event in reference + estimated]
    return max([float(duration)] + offsets)


def segment_based(truth: pd.DataFrame, predictions: pd.DataFrame, classes: Sequence[str],
                  filenames: Iterable[str] | None = None,
                  durations: pd.DataFrame | Mapping[str, float] | None = None,
                  time_resolution: float = 1.0) -> dict:
    """sed_eval segment-based metrics over the fixed ``classes``, evaluated file by file.

    With ``durations`` each file is evaluated over its whole length (``evaluated_length_seconds`` of
    SegmentBasedMetrics.evaluate; the maximum of the duration and the latest event offset, so that an event
    running slightly past the nominal end is never cut). Without it, sed_eval's default: up to the latest
    offset among the file's reference and estimated events (what DESED_task does). The two differ only by
    trailing empty segments, i.e. true negatives: F1 and error rates are identical, accuracy/specificity not.

    Keys: segment_f1_macro, segment_f1_micro, segment_error_rate, segment_precision_micro, ...,
    segment_f1/<class>, segment_files, segment_evaluated_length_s.
    """
    import sed_eval

    classes = list(classes)
    lengths = durations_dict(durations)
    files = _evaluated_files(truth, filenames)
    reference = _per_file_lists(_clean_events(truth, classes, "truth"), files, "truth")
    estimated = _per_file_lists(_clean_events(predictions, classes, "predictions"), files, "predictions")
    if lengths:
        absent = [name for name in files if name not in lengths]
        if absent:
            raise ValueError(f"durations: no duration for {len(absent)} evaluated file(s), e.g. {absent[:3]}")
    metric = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=classes,
                                                      time_resolution=float(time_resolution))
    # The constructor (sed_eval 0.2.1) takes no empty_system_output_handling, but the metric methods read the
    # attribute: set it so a never-predicted class scores F1 = 0 rather than NaN, as in event_based.
    metric.empty_system_output_handling = "zero_score"
    for name in files:
        length = _evaluated_length(lengths.get(name), reference[name], estimated[name])
        metric.evaluate(reference_event_list=reference[name], estimated_event_list=estimated[name],
                        evaluated_length_seconds=length)
    out = _sed_eval_results(metric, "segment", classes)
    out.update(segment_files=len(files), segment_evaluated_length_s=float(metric.evaluated_length_seconds))
    return out


# ---------------------------------------------------------------------------------------------------- tagging

def tagging_f1(truth_tags: np.ndarray, predicted_tags: np.ndarray,
               classes: Sequence[str] | None = None) -> dict:
    """Audio tagging F1 from 0/1 matrices [N, C].

    Per class F1 = 2 TP / (2 TP + FP + FN) (NaN for a class with no true and no predicted tag, left out of the
    macro mean); micro F1 pools the counts of all classes. Keys: tagging_f1_macro, tagging_f1_micro,
    tagging_f1/<class> (class names default to the column index).
    """
    truth = np.asarray(truth_tags).astype(bool)
    predicted = np.asarray(predicted_tags).astype(bool)
    if truth.shape != predicted.shape or truth.ndim != 2:
        raise ValueError(f"tagging_f1: expected two [N, C] matrices of one shape, got {truth.shape} "
                         f"and {predicted.shape}")
    names = [str(c) for c in range(truth.shape[1])] if classes is None else list(classes)
    if len(names) != truth.shape[1]:
        raise ValueError(f"tagging_f1: {len(names)} class names for {truth.shape[1]} columns")
    tp = (truth & predicted).sum(axis=0).astype(float)
    fp = (~truth & predicted).sum(axis=0).astype(float)
    fn = (truth & ~predicted).sum(axis=0).astype(float)
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(denominator > 0, 2 * tp / denominator, np.nan)
    pooled = 2 * tp.sum() + fp.sum() + fn.sum()
    out = {
        "tagging_f1_macro": float(np.nanmean(per_class)) if np.isfinite(per_class).any() else float("nan"),
        "tagging_f1_micro": float(2 * tp.sum() / pooled) if pooled > 0 else float("nan"),
    }
    out.update({f"tagging_f1/{name}": float(value) for name, value in zip(names, per_class)})
    return {key: _nan_to_none(value) for key, value in out.items()}


# ------------------------------------------------------------------------------------------------------- PSDS

def frame_scores_to_sed_scores(frame_probs: np.ndarray, frame_hop_s: float,
                               classes: Sequence[str]) -> pd.DataFrame:
    """Frame scores [T, C] -> sed_scores_eval's score DataFrame: onset, offset (frame t covers
    [t * hop, (t + 1) * hop)), then one column per class (as its ``create_score_dataframe`` builds it)."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    scores = np.asarray(frame_probs, dtype=float)
    if scores.ndim != 2 or scores.shape[1] != len(classes):
        raise ValueError(f"frame_scores_to_sed_scores: expected [T, {len(classes)}] scores, got {scores.shape}")
    timestamps = np.round(np.arange(scores.shape[0] + 1) * float(frame_hop_s), 6)
    return create_score_dataframe(scores, timestamps, list(classes))


def sed_scores_from_probs(frame_probs: np.ndarray, filenames: Sequence[str], frame_hop_s: float,
                          classes: Sequence[str]) -> dict[str, pd.DataFrame]:
    """A set's frame scores [N, T, C] -> {filename: score DataFrame}, the input of `psds`."""
    return {str(name): frame_scores_to_sed_scores(probs, frame_hop_s, classes)
            for name, probs in zip(filenames, np.asarray(frame_probs))}


def _merge_overlaps(events: pd.DataFrame) -> pd.DataFrame:
    """Union of overlapping or touching events of one class in one file (sed_scores_eval rejects them)."""
    if events.empty:
        return events
    ordered = events.sort_values(["filename", "event_label", "onset", "offset"], kind="mergesort")
    keys = ordered["filename"] + "\x00" + ordered["event_label"]
    running_end = ordered.groupby(keys.to_numpy(), sort=False)["offset"].cummax()
    previous_end = running_end.groupby(keys.to_numpy(), sort=False).shift()
    starts_new = previous_end.isna() | (ordered["onset"] > previous_end)
    group = starts_new.cumsum()
    merged = ordered.groupby(group.to_numpy()).agg(
        filename=("filename", "first"), onset=("onset", "min"), offset=("offset", "max"),
        event_label=("event_label", "first"))
    return merged[EVENT_COLUMNS].reset_index(drop=True)


def psds_ground_truth(truth: pd.DataFrame, files: Sequence[str], classes: Sequence[str]) -> dict[str, list]:
    """{filename: [(onset, offset, label), ...]} for every scored file, overlapping same-class events merged
    and zero-length events dropped."""
    events = _clean_events(truth, classes, "truth")
    events = events[events["offset"] > events["onset"]]
    outside = sorted(set(events["filename"]) - set(files))
    if outside:
        raise ValueError(f"psds: the truth has events in {len(outside)} file(s) without scores, "
                         f"e.g. {outside[:3]}")
    ground_truth: dict[str, list] = {name: [] for name in files}
    for row in _merge_overlaps(events).itertuples(index=False):
        ground_truth[row.filename].append((float(row.onset), float(row.offset), row.event_label))
    return ground_truth


def psds(scores: Mapping[str, pd.DataFrame], truth: pd.DataFrame,
         durations: pd.DataFrame | Mapping[str, float], classes: Sequence[str],
         scenarios: Mapping[str, dict] = PSDS_SCENARIOS) -> tuple[dict, dict]:
    """DCASE 2021 PSDS scenarios 1 and 2 with sed_scores_eval.intersection_based.psds.

    ``scores``: {filename: score DataFrame (onset, offset, one column per class in ``classes`` order)}; the
    evaluated files are its keys. Returns (metrics, curves): metrics has ``psds1``, ``psds2`` and per-class
    ``psds1/<class>``...; curves has, per scenario, the PSD-ROC ``etpr`` and ``efpr`` (false alarms per hour)
    arrays, for plots. sed_scores_eval refuses a class without reference events: such classes are left out
    (with a warning) and their per-class values are None; with fewer than two classes left, all are None.
    """
    from sed_scores_eval import intersection_based

    classes = list(classes)
    files = sorted(scores)
    for name in files:
        columns = list(scores[name].columns[2:])
        if columns != classes:
            raise ValueError(f"psds: scores of {name} have class columns {columns}, expected {classes}")
    lengths = durations_dict(durations)
    absent = [name for name in files if name not in lengths]
    if absent:
        raise ValueError(f"psds: no duration for {len(absent)} scored file(s), e.g. {absent[:3]}")
    ground_truth = psds_ground_truth(truth, files, classes)
    lengths = {name: lengths[name] for name in files}
    present = sorted({event[2] for events in ground_truth.values() for event in events}, key=classes.index)
    if len(present) < len(classes):
        warnings.warn(f"psds: no reference event for {sorted(set(classes) - set(present))}; PSDS is computed "
                      f"over the {len(present)} other classes (sed_scores_eval needs events in every class)",
                      stacklevel=2)
    metrics = {key: None for key in scenarios} | {f"{key}/{name}": None for key in scenarios for name in classes}
    curves: dict = {}
    if len(present) < 2:
        warnings.warn("psds: fewer than two classes have reference events; sed_scores_eval 0.0.4 cannot "
                      "score that (its cross-trigger statistics need another class): PSDS is None", stacklevel=2)
        return metrics, curves
    kept = {name: frame[["onset", "offset", *present]] for name, frame in scores.items()}
    for key, setting in scenarios.items():
        value, per_class, (etpr, efpr), _ = intersection_based.psds(
            scores=kept, ground_truth=ground_truth, audio_durations=lengths, **setting)
        metrics[key] = float(value)
        metrics.update({f"{key}/{name}": float(per_class[name]) for name in present})
        curves[key] = {"etpr": np.asarray(etpr), "efpr": np.asarray(efpr)}
    return metrics, curves


# ---------------------------------------------------------------------------------------------- all at once

def score_tables(truth: pd.DataFrame, predictions: pd.DataFrame, classes: Sequence[str],
                 durations: pd.DataFrame | Mapping[str, float] | None = None,
                 filenames: Iterable[str] | None = None) -> dict:
    """Event-based (collar 0.2 s, 20 % of length) and segment-based (1 s) metrics, one flat dict.

    With ``durations``, the evaluated files also include every file listed there."""
    files = set(filenames or [])
    if durations is not None:
        files |= set(durations_dict(durations))
    files = sorted(files) if files else None
    metrics = event_based(truth, predictions, classes, filenames=files)
    metrics.update(segment_based(truth, predictions, classes, filenames=files, durations=durations))
    return metrics
