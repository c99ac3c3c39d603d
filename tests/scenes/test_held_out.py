"""Held-out sources, proved from the generated sets' own records: no source file of a validation or test clip
is in any training clip, in either domain (sources.tsv of every set; the synthetic domain's JAMS agree)."""
import json

import jams
import pandas as pd
import pytest

from ifdsed.config import parse_params
from ifdsed.scenes.realworld import simulate_sets
from ifdsed.scenes.synthesis import synthesize_sets
from ifdsed.soundbank.bank import build_embedded_bank
from ifdsed.soundbank.manifest import load_sources
from ifdsed.soundbank.pools import read_sources, shared_sources


def generate(root, tiny_params, held_out: float):
    """A bank holding out `held_out` of every group for validation and for test, and both domains' sets."""
    raw = json.loads(json.dumps(tiny_params))
    raw["synth"].update(train_clips=10, test_clips=4, workers=2)
    raw["realworld"].update(weak_clips=10, validation_clips=4, test_clips=4, unlabelled_clips=6, workers=2)
    bank = raw["soundbank"]
    build_embedded_bank(root / "bank", raw["classes"], bank["clips_per_class"], bank["backgrounds"],
                        bank["background_duration"], 16000, bank["seed"], workers=2,
                        background_kinds=bank["background_kinds"], non_target_clips=bank["non_target_clips"],
                        validation_share=held_out, test_share=held_out)
    params = parse_params(raw)
    sources, fg_dir, bg_dir = load_sources("synthetic", root / "bank" / "manifest.tsv")
    synthesize_sets(params, sources, fg_dir, bg_dir, root / "synthetic")
    sources, fg_dir, bg_dir = load_sources("realworld", root / "bank" / "manifest.tsv")
    simulate_sets(params, sources, fg_dir, bg_dir, root / "realworld", root / "hidden")
    return root


@pytest.fixture(scope="module")
def held_out(tmp_path_factory, tiny_params):
    return generate(tmp_path_factory.mktemp("held_out"), tiny_params, 0.2)


def test_no_validation_or_test_clip_holds_a_training_source_in_either_domain(held_out):
    synthetic, realworld = held_out / "synthetic", held_out / "realworld"
    assert shared_sources([synthetic / "train"], [synthetic / "test"]) == set()
    training = [realworld / "weak", realworld / "unlabelled"]       # the mean teacher's unlabelled set trains too
    assert shared_sources(training, [realworld / "validation", realworld / "test"]) == set()
    assert shared_sources([realworld / "validation"], [realworld / "test"]) == set()
    for folder in [synthetic / "train", synthetic / "test", realworld / "weak", realworld / "unlabelled",
                   realworld / "test"]:
        sources = read_sources(folder)
        clips = pd.read_csv(folder / "clips.tsv", sep="\t")
        assert set(sources["filename"]) == set(clips["filename"])            # a record for every clip
        assert (sources.groupby("filename")["role"].apply(lambda roles: (roles == "background").sum()) == 1).all()
        assert {"foreground", "background"} <= set(sources["role"])


def test_the_records_agree_with_the_synthetic_domains_jams(held_out):
    folder = held_out / "synthetic" / "test"
    records = read_sources(folder)
    for name, group in records.groupby("filename"):
        jam = jams.load(str(folder / "jams" / name.replace(".wav", ".jams")))
        mixed = sorted(observation.value["source_file"] for observation in jam.annotations[0].data)
        assert mixed == sorted(group["source_file"])


def test_the_check_finds_shared_sources_when_nothing_is_held_out(tmp_path, tiny_params):
    """The same sets from a bank that holds nothing out: the training and test clips do share sources, so the
    first test's empty sets are a finding, not a blind check."""
    root = generate(tmp_path, tiny_params, 0.0)
    assert shared_sources([root / "synthetic" / "train"], [root / "synthetic" / "test"])
    assert shared_sources([root / "realworld" / "weak"], [root / "realworld" / "test"])
