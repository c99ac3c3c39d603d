"""DCASE 2018 label statistics (ifdsed.dcase.stats): the committed numbers, and sampling from them."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from ifdsed.dcase.stats import derive_stats, load_stats, main, merge_overlaps, sample_clip_labels, stats_path, to_json
from tests.helpers import CLASSES

STRONG_SETS = ("validation", "test")


@pytest.fixture(scope="module")
def stats() -> dict:
    return load_stats()


def test_committed_stats_are_derived_from_the_metadata(metadata, stats):
    assert json.loads(to_json(derive_stats(metadata, CLASSES))) == stats


def test_command_writes_the_committed_bytes(metadata, tmp_path, capsys):
    main([str(metadata), "--out", str(tmp_path / "stats.json")])
    assert (tmp_path / "stats.json").read_bytes() == stats_path().read_bytes()


def test_schema_and_sizes(stats):
    assert stats["classes"] == CLASSES
    assert set(stats["sets"]) == {"weak", "validation", "test"}
    sizes = {name: item["n_clips"] for name, item in stats["sets"].items()}
    assert sizes == {"weak": 1578, "validation": 288, "test": 880}
    for name, item in stats["sets"].items():
        assert sum(tagset["count"] for tagset in item["tagsets"]) == item["n_clips"]
        keys = [(-tagset["count"], tagset["labels"]) for tagset in item["tagsets"]]
        assert keys == sorted(keys)
        assert all(tagset["labels"] == sorted(tagset["labels"]) for tagset in item["tagsets"])
        assert sum(item["tags_per_clip"].values()) == pytest.approx(1, abs=1e-3)
        assert set(item["class_frequency"]) == set(CLASSES)
    for strong in [stats["sets"][name] for name in STRONG_SETS] + [stats["strong_pooled"]]:
        assert set(strong["events_per_clip"]) == set(strong["duration_quantiles"]) == set(CLASSES)
        for cls in CLASSES:
            assert sum(strong["events_per_clip"][cls].values()) == pytest.approx(1, abs=1e-3)
            quantiles = strong["duration_quantiles"][cls]
            assert len(quantiles) == 21 and quantiles == sorted(quantiles)
            assert 0 < quantiles[0] and quantiles[-1] <= 10.0


def test_class_frequencies_match_tagsets(stats):
    for item in stats["sets"].values():
        for cls in CLASSES:
            count = sum(tagset["count"] for tagset in item["tagsets"] if cls in tagset["labels"])
            assert item["class_frequency"][cls] == pytest.approx(count / item["n_clips"], abs=1e-4)


def test_numbers_are_sensible(stats):
    weak = stats["sets"]["weak"]["class_frequency"]
    assert max(weak, key=weak.get) == "Speech"
    assert stats["sets"]["test"]["tagsets"][-1]["count"] >= 1
    empty = {name: next((t["count"] for t in item["tagsets"] if not t["labels"]), 0)
             for name, item in stats["sets"].items()}
    assert empty == {"weak": 0, "validation": 0, "test": 15}
    pooled = stats["strong_pooled"]["duration_quantiles"]
    assert pooled["Dishes"][10] < 1.0 < pooled["Vacuum_cleaner"][10]    # short clatters, long vacuuming
    assert stats["strong_pooled"]["n_events"] == 896 + 3328


def test_merge_overlaps():
    events = pd.DataFrame([("a", 0.0, 2.0, "Dog"), ("a", 1.0, 3.0, "Dog"), ("a", 3.0, 4.0, "Dog"),
                           ("a", 1.0, 2.0, "Cat"), ("b", 0.5, 1.0, "Dog")],
                          columns=["filename", "onset", "offset", "event_label"])
    merged, n_merged = merge_overlaps(events)
    assert n_merged == 1
    assert sorted(merged.itertuples(index=False, name=None)) == [
        ("a", 0.0, 3.0, "Dog"), ("a", 1.0, 2.0, "Cat"), ("a", 3.0, 4.0, "Dog"), ("b", 0.5, 1.0, "Dog")]


@pytest.mark.parametrize("name", ["weak", "validation", "test"])
def test_sampling_reproduces_class_frequencies(stats, name):
    stats_set = stats["sets"][name]
    strong = stats_set if name in STRONG_SETS else stats["strong_pooled"]
    rng = np.random.default_rng(0)
    draws = [sample_clip_labels(stats_set, strong, rng, clip_duration=10.0) for _ in range(3000)]
    present = Counter(cls for clip in draws for cls in {label for label, _ in clip})
    for cls in CLASSES:
        assert present[cls] / len(draws) == pytest.approx(stats_set["class_frequency"][cls], abs=0.03), cls
    durations = np.array([duration for clip in draws for _, duration in clip])
    assert durations.min() >= 0.25 and durations.max() <= 10.0
    if name in STRONG_SETS:
        mean_events = np.mean([len(clip) for clip in draws])
        assert mean_events == pytest.approx(stats_set["mean_events_per_clip"], rel=0.07)


def test_sampled_durations_follow_the_quantiles(stats):
    strong = stats["strong_pooled"]
    only_dishes = {"tagsets": [{"labels": ["Dishes"], "count": 1}]}
    rng = np.random.default_rng(1)
    durations = [duration for _ in range(2000)
                 for _, duration in sample_clip_labels(only_dishes, strong, rng, 10.0, min_duration=0.0)]
    assert np.median(durations) == pytest.approx(strong["duration_quantiles"]["Dishes"][10], rel=0.1)


def test_sampling_is_deterministic_and_handles_empty_clips(stats):
    item, strong = stats["sets"]["test"], stats["sets"]["test"]
    first = [sample_clip_labels(item, strong, np.random.default_rng(5), 10.0) for _ in range(3)]
    again = [sample_clip_labels(item, strong, np.random.default_rng(5), 10.0) for _ in range(3)]
    assert first == again
    empty = {"tagsets": [{"labels": [], "count": 1}]}
    assert sample_clip_labels(empty, strong, np.random.default_rng(0), 10.0) == []
    with pytest.raises(ValueError, match="no event statistics"):
        sample_clip_labels({"tagsets": [{"labels": ["Dog"], "count": 1}]},
                           {"events_per_clip": {}, "duration_quantiles": {}}, np.random.default_rng(0), 10.0)
