"""Scaper synthesis of the synthetic domain: the recipe's constraints, the layout, and byte-level determinism."""
from functools import partial

import jams
import pytest
import soundfile

from ifdsed.config import parse_params
from ifdsed.soundbank.manifest import load_sources
from ifdsed.soundbank.bank import build_embedded_bank
from ifdsed.soundbank.non_target import NON_TARGET_SYNTHESIZERS
from ifdsed.scenes.synthesis import synthesize_sets
from ifdsed.io.tables import read_clips, read_events, read_tags, split_tags
from tests import helpers


@pytest.fixture(scope="module")
def bank(tmp_path_factory, tiny_params):
    root = tmp_path_factory.mktemp("bank")
    bank = tiny_params["soundbank"]
    build_embedded_bank(root, tiny_params["classes"], bank["clips_per_class"], bank["backgrounds"],
                        bank["background_duration"], 16000, bank["seed"], workers=1,
                        background_kinds=bank["background_kinds"], non_target_clips=bank["non_target_clips"])
    return root


def synthesize(bank, tiny_params, out, **synth):
    raw = {**tiny_params, "synth": {**tiny_params["synth"], "train_clips": 8, "test_clips": 2, **synth}}
    sources, fg_dir, bg_dir = load_sources("synthetic", bank / "manifest.tsv")
    synthesize_sets(parse_params(raw), sources, fg_dir, bg_dir, out)
    return out


# the audio, JAMS and tables of a synthesized folder; clips.tsv holds the output folder's path
digests = partial(helpers.digests, skip=("clips.tsv",), suffixes=(".wav", ".jams", ".tsv"))


@pytest.fixture(scope="module")
def first(bank, tiny_params, tmp_path_factory):
    return synthesize(bank, tiny_params, tmp_path_factory.mktemp("a"), workers=2)


def test_layout_and_tables(first):
    for name, n_clips in [("train", 8), ("test", 2)]:
        clips = read_clips(first / name / "clips.tsv")
        assert len(clips) == n_clips and (clips["duration"] == 10.0).all()
        for row in clips.itertuples():
            audio, sr = soundfile.read(row.path)
            assert sr == 16000 and audio.shape == (160000,)
            assert (first / name / "jams" / row.filename.replace(".wav", ".jams")).is_file()
        events = read_events(first / name / "events.tsv")
        tags = read_tags(first / name / "tags.tsv")
        from_events = events.groupby("filename")["event_label"].agg(lambda s: sorted(set(s)))
        for row in tags.itertuples():
            assert split_tags(row.event_labels) == from_events.get(row.filename, [])
    header = (first / "train" / "events.tsv").read_text().splitlines()[0]
    assert header == "filename\tonset\toffset\tevent_label"


def test_recipe_constraints(first):
    events = read_events(first / "train" / "events.tsv")
    assert len(events) > 8
    assert (events["offset"] - events["onset"] >= 0.25 - 1e-6).all()
    assert ((events["onset"] >= 0) & (events["offset"] <= 10.0 + 1e-6)).all()
    for _, clip in events.groupby("filename"):
        starts, ends = clip["onset"].to_numpy(), clip["offset"].to_numpy()
        active = (starts[None, :] <= starts[:, None]) & (ends[None, :] > starts[:, None])
        assert active.sum(axis=1).max() <= 2                               # polyphony
        for _, same in clip.groupby("event_label"):
            same = same.sort_values("onset")
            gaps = same["onset"].to_numpy()[1:] - same["offset"].to_numpy()[:-1]
            assert (gaps >= 0.15 - 1e-6).all()                             # same-class gap


def test_jams_records_snr_and_pitch_within_the_recipe(first):
    jam = jams.load(str(first / "train" / "jams" / "syn_train_00000.jams"))
    observations = [obs.value for obs in jam.annotations[0].data if obs.value["role"] == "foreground"]
    assert observations
    for value in observations:
        assert 6.0 <= value["snr"] <= 30.0
        if value["label"] in NON_TARGET_SYNTHESIZERS:             # non-target events are never pitch-shifted
            assert value["pitch_shift"] is None
        else:
            assert -3.0 <= value["pitch_shift"] <= 3.0


def test_same_seed_same_bytes_whatever_the_workers(first, bank, tiny_params, tmp_path):
    again = synthesize(bank, tiny_params, tmp_path / "b", workers=1)
    assert digests(again) == digests(first)


def test_another_seed_gives_another_set(first, bank, tiny_params, tmp_path):
    other = synthesize(bank, tiny_params, tmp_path / "c", seed=7, workers=2)
    a, b = digests(first), digests(other)
    assert a.keys() == b.keys()
    wavs = [key for key in a if key.endswith(".wav")]
    assert all(a[key] != b[key] for key in wavs)
    assert (first / "train/events.tsv").read_text() != (other / "train/events.tsv").read_text()


def test_leaving_the_test_set_out_changes_no_byte_of_the_train_set(bank, tiny_params, first, tmp_path):
    """An imported synthetic test set (real.syn_test_*): the train set is rendered alone, exactly as before."""
    raw = {**tiny_params, "synth": {**tiny_params["synth"], "train_clips": 8, "test_clips": 2, "workers": 2}}
    sources, fg_dir, bg_dir = load_sources("synthetic", bank / "manifest.tsv")
    summary = synthesize_sets(parse_params(raw), sources, fg_dir, bg_dir, tmp_path, sets=("train",))
    assert list(summary) == ["train"] and not (tmp_path / "test").exists()
    assert digests(tmp_path / "train") == digests(first / "train")
    test_only = synthesize_sets(parse_params(raw), sources, fg_dir, bg_dir, tmp_path / "t", sets=("test",))
    assert list(test_only) == ["test"] and digests(tmp_path / "t" / "test") == digests(first / "test")


def test_non_target_events_are_mixed_and_never_labelled(tiny_params, tmp_path):
    """With non-target sounds in the bank and synth.max_non_target > 0: the JAMS holds them (they were mixed),
    no label table names them, and the labelled events are those of the same plan without them."""
    bank = tiny_params["soundbank"]
    root = tmp_path / "bank"
    build_embedded_bank(root, tiny_params["classes"], bank["clips_per_class"], bank["backgrounds"],
                        bank["background_duration"], 16000, bank["seed"], workers=1, non_target_clips=1)
    out = synthesize(root, tiny_params, tmp_path / "with", max_non_target=3, workers=2)
    mixed = set()
    for jams_file in sorted((out / "train" / "jams").glob("*.jams")):
        observations = jams.load(str(jams_file)).annotations[0].data
        mixed |= {obs.value["label"] for obs in observations if obs.value["role"] == "foreground"}
    non_target = set(NON_TARGET_SYNTHESIZERS)
    assert mixed & non_target, "no non-target event was mixed"
    for name in ("train", "test"):
        labels = set(read_events(out / name / "events.tsv")["event_label"])
        tags = {tag for row in read_tags(out / name / "tags.tsv").itertuples() for tag in split_tags(row.event_labels)}
        assert labels | tags <= set(tiny_params["classes"])
    without = synthesize(root, tiny_params, tmp_path / "without", workers=2)
    assert read_events(out / "train" / "events.tsv").equals(read_events(without / "train" / "events.tsv"))
