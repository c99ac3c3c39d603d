"""Evaluation sets are named for what they hold (ifdsed/evaluation/set_titles.py): generated sets never carry a
DCASE name; imported ones say which DCASE set they are."""
from ifdsed.config import parse_params
from ifdsed.evaluation.set_titles import set_title
from ifdsed.evaluation.sets import EVAL_SETS

KEYS = [eval_set.key for eval_set in EVAL_SETS]
REAL = {"data": {"source": "real"}, "real": {"soundbank": "/data/soundbank", "dcase2018": "/data/DESED/real"}}
SYN_TEST = {"syn_test_tsv": "/data/synthetic19.tsv", "syn_test_audio": "/data/synthetic19"}


def titles(raw: dict) -> dict[str, str]:
    params = parse_params(raw)
    return {key: set_title(key, params) for key in KEYS}


def test_an_embedded_run_names_every_set_as_generated_and_none_as_dcase():
    named = titles({})
    assert named == {"real_test": "simulated real-world test",
                     "syn_test": "synthetic test (generated, held-out sounds)",
                     "real_validation": "simulated real-world validation"}
    assert not [title for title in named.values() if "DCASE" in title]


def test_an_embedded_run_says_when_its_synthetic_test_reuses_the_training_sounds():
    named = titles({"soundbank": {"held_out_test": 0.0}})
    assert named["syn_test"] == "synthetic test (generated, from the training sounds)"
    assert not [title for title in named.values() if "DCASE" in title]


def test_real_data_names_the_imported_dcase_2018_sets():
    named = titles(REAL)
    assert named["real_test"] == "real-world test (DCASE 2018 evaluation set)"
    assert named["real_validation"] == "real-world validation (DCASE 2018 test set)"
    assert named["syn_test"] == "synthetic test (generated, held-out sounds)"   # generated from your soundbank


def test_the_synthetic_test_set_is_dcase_2019_only_when_imported():
    for raw in ({"real": SYN_TEST}, {**REAL, "real": {**REAL["real"], **SYN_TEST}}):
        assert titles(raw)["syn_test"] == "synthetic test (DCASE 2019 syn)"
    embedded = titles({"real": SYN_TEST})
    assert embedded["real_test"] == "simulated real-world test"   # importing one set renames only that set


def test_every_set_has_its_own_title_and_extra_sets_keep_their_name():
    for raw in ({}, REAL, {"real": SYN_TEST}):
        assert len(set(titles(raw).values())) == len(KEYS)
    assert set_title("desed_public", parse_params({})) == "extra test set desed_public"
