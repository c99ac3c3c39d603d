"""The simulated real-world sets (ifdsed.scenes.realworld) follow the DCASE 2018 label statistics they are drawn
from, and are byte-identical run after run."""
import json

import numpy as np
import pandas as pd
import pytest

from ifdsed.config import DCASE_CLASSES, RealworldParams, parse_params
from ifdsed.dcase.stats import load_stats
from ifdsed.scenes.planning import clip_rng
from ifdsed.scenes.realworld import REALWORLD_SETS, STATISTICS, plan_realworld_clip
from ifdsed.soundbank.backgrounds import BACKGROUND_LEVELS_DB, QUIET_ROOM_DB
from ifdsed.soundbank.bank import build_embedded_bank
from ifdsed.soundbank.manifest import load_sources
from tests.helpers import CLASSES, SR, digests

N_CLIPS = 1500


def fake_sources() -> pd.DataFrame:
    """Every class with sources of 0.5 s to 10 s, and one background."""
    rows = [("foreground", label, f"{label}_{seconds}.wav", float(seconds))
            for label in DCASE_CLASSES for seconds in (0.5, 1, 2, 4, 10)]
    rows.append(("background", "room_tone", "bed.wav", 12.0))
    return pd.DataFrame(rows, columns=["role", "label", "file", "duration"])


@pytest.fixture(scope="module")
def planned():
    """N_CLIPS plans per set (no audio), as the realworld stage draws them."""
    stats, sources = load_stats(), fake_sources()
    foregrounds, backgrounds = sources[sources.role == "foreground"], sources[sources.role == "background"]
    plans = {}
    for set_index, name in enumerate(REALWORLD_SETS):
        event_stats = stats["strong_pooled"] if STATISTICS[name] == "weak" else stats["sets"][name]
        plans[name] = [plan_realworld_clip(f"c{i}", clip_rng(7, set_index, i), foregrounds, backgrounds,
                                           stats["sets"][STATISTICS[name]], event_stats, RealworldParams(), 10.0)
                       for i in range(N_CLIPS)]
    return stats, plans


@pytest.mark.parametrize("name", REALWORLD_SETS)
def test_class_frequencies_match_dcase2018(planned, name):
    stats, plans = planned
    target = stats["sets"][STATISTICS[name]]["class_frequency"]   # the unlabelled set: the weak set's
    tagged = np.array([[any(e.label == c for e in plan.events) for c in DCASE_CLASSES] for plan in plans[name]])
    for c, frequency in zip(DCASE_CLASSES, tagged.mean(axis=0)):
        assert frequency == pytest.approx(target[c], abs=0.035), c


@pytest.mark.parametrize("name", REALWORLD_SETS)
def test_tags_per_clip_and_cooccurrence_match(planned, name):
    stats, plans = planned
    counts = np.array([len({e.label for e in plan.events}) for plan in plans[name]])
    target = stats["sets"][STATISTICS[name]]["tags_per_clip"]
    for k, fraction in target.items():
        assert np.mean(counts == int(k)) == pytest.approx(fraction, abs=0.04), f"{k} tags"
    # the most frequent tag set of the real set is also the most frequent here
    top = tuple(stats["sets"][STATISTICS[name]]["tagsets"][0]["labels"])
    drawn = pd.Series([tuple(sorted({e.label for e in plan.events})) for plan in plans[name]]).value_counts()
    assert drawn.index[0] == top


@pytest.mark.parametrize("name", ["validation", "test"])
def test_event_durations_follow_the_quantiles(planned, name):
    stats, plans = planned
    for c in ["Dog", "Speech", "Vacuum_cleaner", "Dishes"]:
        durations = [e.duration for plan in plans[name] for e in plan.events if e.label == c]
        median = stats["sets"][name]["duration_quantiles"][c][10]
        assert np.median(durations) == pytest.approx(median, rel=0.2, abs=0.1), c


def test_events_stay_inside_the_clip_under_the_polyphony_cap(planned):
    _, plans = planned
    for plan in plans["test"][:300]:
        for event in plan.events:
            assert 0 <= event.onset and event.onset + event.duration <= 10.0 + 1e-6
            active = sum(other.onset <= event.onset < other.onset + other.duration for other in plan.events)
            assert active <= RealworldParams().max_polyphony


# ------------------------------------------------------------------------------------------- determinism
def test_simulated_realworld_sets_are_byte_identical_run_after_run(tmp_path, tiny_params):
    from ifdsed.scenes.realworld import simulate_sets
    raw = json.loads(json.dumps(tiny_params))
    raw["realworld"].update(weak_clips=2, validation_clips=1, test_clips=1, unlabelled_clips=1)
    build_embedded_bank(tmp_path / "bank", CLASSES, 2, 2, 11.0, SR, seed=0, workers=1,
                        background_kinds=["exercise_machine", "rain"], non_target_clips=1)   # as the default has
    sources, fg_dir, bg_dir = load_sources("realworld", tmp_path / "bank" / "manifest.tsv")

    def simulate(name: str, workers: int, seed: int = 7) -> dict[str, str]:
        params = json.loads(json.dumps(raw))
        params["realworld"].update(workers=workers, seed=seed)
        out = tmp_path / name
        simulate_sets(parse_params(params), sources, fg_dir, bg_dir, out, out / "hidden")
        return digests(out, skip=("clips.tsv",))           # clips.tsv holds the output folder's path

    first = simulate("a", workers=1)
    assert len([name for name in first if name.endswith(".wav")]) == 5
    assert simulate("b", workers=2) == first
    other = simulate("c", workers=1, seed=8)
    assert other.keys() == first.keys() and all(other[name] != first[name] for name in first if ".wav" in name)


def test_non_target_events_and_background_levels_change_only_what_they_should():
    """max_non_target adds unlabelled events; background_levels lowers every SNR of a clip by one boost, drawn
    from the bed's kind (at most its loudest level above QUIET_ROOM_DB), and moves no event."""
    stats, sources = load_stats(), fake_sources()
    extra = pd.DataFrame([("non_target", kind, f"{kind}.wav", 3.0) for kind in ("door", "music")]
                         + [("background", "fan", "fan.wav", 12.0)], columns=sources.columns)
    sources = pd.concat([sources, extra], ignore_index=True)
    foregrounds, backgrounds = sources[sources.role == "foreground"], sources[sources.role == "background"]
    non_targets = sources[sources.role == "non_target"]
    rich = RealworldParams(max_non_target=3, background_levels=True)
    plain_params = RealworldParams(max_non_target=0, background_levels=False)
    counts, boosts = [], {"room_tone": [], "fan": []}
    for i in range(200):
        plain = plan_realworld_clip("c", clip_rng(7, 1, i), foregrounds, backgrounds, stats["sets"]["validation"],
                                    stats["sets"]["validation"], plain_params, 10.0, non_targets)
        other = plan_realworld_clip("c", clip_rng(7, 1, i), foregrounds, backgrounds, stats["sets"]["validation"],
                                    stats["sets"]["validation"], rich, 10.0, non_targets)
        assert plain.non_target == () and plain.background == other.background
        assert [(e.label, e.onset, e.duration) for e in plain.events] == \
            [(e.label, e.onset, e.duration) for e in other.events]
        shifts = {round(a.snr - b.snr, 2) for a, b in zip(plain.events, other.events)}
        assert len(shifts) <= 1
        if shifts:
            boosts[other.background.label].append(shifts.pop())
        counts.append(len(other.non_target))
        assert {event.label for event in other.non_target} <= {"door", "music"}
        assert all(0 <= event.onset and event.onset + event.duration <= 10.0 for event in other.non_target)
    assert set(counts) == {0, 1, 2, 3}
    low, high = BACKGROUND_LEVELS_DB["fan"]
    assert 0 <= min(boosts["fan"]) and max(boosts["fan"]) <= high - QUIET_ROOM_DB + 0.01
    assert np.mean(boosts["fan"]) > np.mean(boosts["room_tone"]) + 5        # loud beds bury events deeper
    assert max(boosts["room_tone"]) <= BACKGROUND_LEVELS_DB["room_tone"][1] - QUIET_ROOM_DB + 0.01


def test_simulated_non_target_events_reach_no_label_table(tmp_path, tiny_params):
    from ifdsed.scenes.realworld import simulate_sets
    from ifdsed.io.tables import read_events, read_tags, split_tags
    raw = json.loads(json.dumps(tiny_params))
    raw["realworld"].update(weak_clips=3, validation_clips=2, test_clips=2, unlabelled_clips=2, max_non_target=3,
                            background_levels=True, workers=2)
    build_embedded_bank(tmp_path / "bank", CLASSES, 2, 2, 11.0, SR, seed=0, workers=1,
                        background_kinds=["fan", "babble"], non_target_clips=1)
    sources, fg_dir, bg_dir = load_sources("realworld", tmp_path / "bank" / "manifest.tsv")
    out = tmp_path / "out"
    simulate_sets(parse_params(raw), sources, fg_dir, bg_dir, out, out / "hidden")
    tables = [out / name / "events.tsv" for name in ("validation", "test")] + [out / "hidden" / "weak_events.tsv"]
    labels = set().union(*(set(read_events(path)["event_label"]) for path in tables))
    assert not (out / "unlabelled" / "tags.tsv").exists() and not (out / "unlabelled" / "events.tsv").exists()
    tags = {tag for name in ("weak", "validation", "test") for row in read_tags(out / name / "tags.tsv").itertuples()
            for tag in split_tags(row.event_labels)}
    assert labels and labels | tags <= set(CLASSES)
