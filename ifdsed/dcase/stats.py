"""Label statistics of the real DCASE 2018 task 4 sets, written down as numbers for the simulated real domain.

`derive_stats` reads the DESED ``data/real/metadata`` tables (``weak.tsv``: the 1,578-clip weak set;
``test_dcase2018.tsv``: the paper's 288-clip validation set; ``eval_dcase2018.tsv``: the paper's 880-clip test
set) and summarises them; ``python -m ifdsed.dcase.stats METADATA_DIR`` writes the summary to
``ifdsed/dcase/dcase2018_stats.json``, which is committed (the metadata is not) and read back by `load_stats`.
`sample_clip_labels` draws one clip's labels from it.

Schema (every fraction is over clips; floats rounded to 4 decimals in the file)::

    {"classes": [...], "derived_from": "...",
     "sets": {
       "weak":       {"n_clips", "tagsets": [{"labels": [sorted], "count"}], "class_frequency": {cls: frac},
                      "tags_per_clip": {"0": frac, "1": frac, ...}},
       "validation": {the same, plus "n_events", "n_merged_overlaps", "mean_events_per_clip",
                      "events_per_clip": {cls: {"1": frac, ...}}, "duration_quantiles": {cls: [21 floats]}},
       "test":       {as validation}},
     "strong_pooled": {"n_events", "events_per_clip", "duration_quantiles"}}

Choices:

- Tagsets are sorted by (-count, labels); the empty tagset (a clip with no event) is included where it occurs.
- ``events_per_clip[cls]`` is the distribution of the number of ``cls`` events in a clip, given the clip is
  tagged ``cls``. ``mean_events_per_clip`` is over all clips, empty ones included.
- ``duration_quantiles[cls]`` are the 0, 5, ..., 100th percentiles (numpy's linear interpolation) of event
  durations in seconds.
- Offsets past the clip end are clipped to 10 s by the reader (ifdsed.dcase.metadata). Overlapping events of the same
  class in a clip are merged into one before counting and measuring (``n_merged_overlaps`` says how many were
  merged away; none in the 2018 sets): the simulator never overlaps two events of one class, and two overlapping
  annotations of one class are heard as one longer event. Events that merely touch are kept apart.
- ``strong_pooled`` pools validation and test; it stands in for the weak set, whose timestamps are unknown.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ifdsed.config import DCASE_CLASSES
from ifdsed.io.atomic import write_text
from ifdsed.dcase.metadata import read_strong_tsv, read_weak_tsv
from ifdsed.io.tables import split_tags, tags_from_events

METADATA_FILES = {"weak": "weak.tsv", "validation": "test_dcase2018.tsv", "test": "eval_dcase2018.tsv"}
DERIVED_FROM = "DESED data/real/metadata: weak.tsv, test_dcase2018.tsv, eval_dcase2018.tsv"
STATS_FILE = "dcase2018_stats.json"
QUANTILE_LEVELS = np.linspace(0.0, 100.0, 21)   # percentiles kept per class
DIGITS = 4
CLIP_DURATION = 10.0


def merge_overlaps(events: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Merge strictly overlapping events of the same class in a clip; return (events, number merged away)."""
    merged, n_merged = [], 0
    ordered = events.sort_values(["filename", "event_label", "onset", "offset"], kind="mergesort")
    for (filename, label), group in ordered.groupby(["filename", "event_label"], sort=False):
        current = None
        for onset, offset in zip(group["onset"], group["offset"]):
            if current is not None and onset < current[1]:
                current[1] = max(current[1], offset)
                n_merged += 1
                continue
            if current is not None:
                merged.append((filename, *current, label))
            current = [onset, offset]
        merged.append((filename, *current, label))
    table = pd.DataFrame(merged, columns=["filename", "onset", "offset", "event_label"])
    return table.astype({"onset": float, "offset": float}), n_merged


def _fractions(counter: Counter, total: int) -> dict[str, float]:
    """{str(key): count / total}, keys in increasing order."""
    return {str(key): counter[key] / total for key in sorted(counter)}


def tag_stats(tags: pd.DataFrame, classes) -> dict:
    """n_clips, tagsets, class_frequency and tags_per_clip of a table of clip tags (filename, event_labels)."""
    tagsets = [tuple(split_tags(text)) for text in tags["event_labels"]]
    n_clips = len(tagsets)
    counts = Counter(tagsets)
    return {
        "n_clips": n_clips,
        "tagsets": [{"labels": list(labels), "count": count}
                    for labels, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))],
        "class_frequency": {cls: sum(cls in labels for labels in tagsets) / n_clips for cls in classes},
        "tags_per_clip": _fractions(Counter(len(labels) for labels in tagsets), n_clips),
    }


def event_stats(events: pd.DataFrame, classes) -> dict:
    """events_per_clip (given the class is tagged) and duration_quantiles per class, for classes with events."""
    per_clip = events.groupby(["event_label", "filename"]).size()
    durations = (events["offset"] - events["onset"]).to_numpy()
    labels = events["event_label"].to_numpy()
    present = [cls for cls in classes if (labels == cls).any()]
    return {
        "events_per_clip": {cls: _fractions(Counter(per_clip[cls].tolist()), len(per_clip[cls])) for cls in present},
        "duration_quantiles": {cls: np.percentile(durations[labels == cls], QUANTILE_LEVELS).tolist()
                               for cls in present},
    }


def strong_set_stats(events: pd.DataFrame, filenames, classes) -> dict:
    """tag_stats plus event counts and durations of a strongly-labelled set (events already merged)."""
    stats = tag_stats(tags_from_events(events, filenames), classes)
    stats.update(event_stats(events, classes))
    stats["n_events"] = len(events)
    stats["mean_events_per_clip"] = len(events) / len(filenames)
    return stats


def metadata_file(metadata_dir: Path, name: str) -> Path:
    """A set's table in metadata_dir, flat or in DESED's layout (metadata/train/weak.tsv,
    metadata/validation/*_dcase2018.tsv)."""
    filename = METADATA_FILES[name]
    candidates = [metadata_dir / filename, metadata_dir / ("train" if name == "weak" else "validation") / filename]
    return next((path for path in candidates if path.is_file()), candidates[0])


def derive_stats(metadata_dir: str | Path, classes=DCASE_CLASSES) -> dict:
    """Label statistics of the DCASE 2018 task 4 weak, validation and test sets (full precision)."""
    metadata_dir = Path(metadata_dir)
    classes = list(classes)
    sets = {"weak": tag_stats(read_weak_tsv(metadata_file(metadata_dir, "weak"), classes), classes)}
    pooled = []
    for name in ("validation", "test"):
        events, filenames = read_strong_tsv(metadata_file(metadata_dir, name), classes, CLIP_DURATION)
        events, n_merged = merge_overlaps(events)
        sets[name] = strong_set_stats(events, filenames, classes)
        sets[name]["n_merged_overlaps"] = n_merged
        pooled.append(events.assign(filename=name + "/" + events["filename"]))
    pooled_events = pd.concat(pooled, ignore_index=True)
    strong_pooled = event_stats(pooled_events, classes)
    strong_pooled["n_events"] = len(pooled_events)
    return {"classes": classes, "derived_from": DERIVED_FROM, "sets": sets, "strong_pooled": strong_pooled}


def rounded(value, digits: int = DIGITS):
    """A copy of a JSON-like structure with every float rounded (ints, strings and bools untouched)."""
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(item, digits) for item in value]
    if isinstance(value, float):
        return round(value, digits)
    return value


def to_json(stats: dict) -> str:
    """The stats as the committed file holds them: floats rounded, indent 1, sorted keys."""
    return json.dumps(rounded(stats), indent=1, sort_keys=True) + "\n"


def stats_path() -> Path:
    """Where the committed statistics live (ifdsed/dcase/dcase2018_stats.json)."""
    return Path(str(resources.files("ifdsed.dcase").joinpath(STATS_FILE)))


def load_stats() -> dict:
    """The committed DCASE 2018 statistics."""
    return json.loads(resources.files("ifdsed.dcase").joinpath(STATS_FILE).read_text())


# --------------------------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------------------------

def _draw_tagset(stats_set: dict, rng: np.random.Generator) -> list[str]:
    counts = np.array([item["count"] for item in stats_set["tagsets"]], dtype=float)
    return stats_set["tagsets"][rng.choice(len(counts), p=counts / counts.sum())]["labels"]


def _draw_count(distribution: dict[str, float], rng: np.random.Generator) -> int:
    values = np.array([int(key) for key in distribution])
    weights = np.array(list(distribution.values()), dtype=float)
    return int(rng.choice(values, p=weights / weights.sum()))


def _inverse_cdf(quantiles: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise linear interpolation of (n, K) quantile tables at levels u in [0, 1]."""
    position = u * (quantiles.shape[1] - 1)
    low = np.minimum(position.astype(int), quantiles.shape[1] - 2)
    rows = np.arange(len(u))
    frac = position - low
    return quantiles[rows, low] + frac * (quantiles[rows, low + 1] - quantiles[rows, low])


def sample_clip_labels(stats_set: dict, strong: dict, rng: np.random.Generator, clip_duration: float,
                       min_duration: float = 0.25) -> list[tuple[str, float]]:
    """Draw one clip's events as [(label, duration in s)], grouped by label in tagset order.

    stats_set gives the tagset distribution (``stats["sets"][name]``); strong gives ``events_per_clip`` and
    ``duration_quantiles`` (the set itself for validation/test, ``stats["strong_pooled"]`` for weak). A tagset is
    drawn by count, then a number of events per tagged class, then each duration by inverse-CDF interpolation
    between the class's quantiles, clipped to [min_duration, clip_duration]. An empty tagset gives [].
    """
    labels = _draw_tagset(stats_set, rng)
    missing = [cls for cls in labels if cls not in strong["events_per_clip"] or cls not in strong["duration_quantiles"]]
    if missing:
        raise ValueError(f"no event statistics for {missing} in the strong statistics given")
    per_event = [cls for cls in labels for _ in range(_draw_count(strong["events_per_clip"][cls], rng))]
    if not per_event:
        return []
    quantiles = np.array([strong["duration_quantiles"][cls] for cls in per_event], dtype=float)
    durations = np.clip(_inverse_cdf(quantiles, rng.random(len(per_event))), min_duration, clip_duration)
    return [(cls, float(duration)) for cls, duration in zip(per_event, durations)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ifdsed.dcase.stats", description=__doc__.split("\n\n")[0])
    parser.add_argument("metadata_dir", type=Path, help="DESED data/real/metadata folder (or one holding "
                        "weak.tsv, test_dcase2018.tsv and eval_dcase2018.tsv)")
    parser.add_argument("--out", type=Path, default=None, help=f"output JSON (default: ifdsed/dcase/{STATS_FILE})")
    args = parser.parse_args(argv)
    out = args.out or stats_path()
    write_text(out, to_json(derive_stats(args.metadata_dir, DCASE_CLASSES)))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
