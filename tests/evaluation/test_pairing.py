"""The expected domains of IFD's identical-tag clip pairs (ifdsed/evaluation/pairing.py)."""
import itertools

import numpy as np
import pandas as pd
import pytest

from ifdsed.evaluation.pairing import pair_shares, tagset_distribution


def tags(*labels: str) -> pd.DataFrame:
    return pd.DataFrame({"filename": [f"{i}.wav" for i in range(len(labels))], "event_labels": list(labels)})


def test_empty_tag_sets_never_pair():
    assert tagset_distribution(tags("Dog", "", "Dog,Cat", "Dog")).to_dict() == {("Dog",): 0.5, ("Cat", "Dog"): 0.25}


def test_shares_match_a_count_over_every_batch_drawn_with_replacement():
    real, synthetic = tags("Dog", "Cat", "Dog", ""), tags("Dog", "Speech", "Dog,Speech", "Cat", "Cat")
    shares = pair_shares(real, synthetic, 2, 3)
    # exact expectation by enumeration: every batch of 2 real and 3 synthetic clips drawn with replacement
    counts = {"rr": 0, "ss": 0, "rs": 0}
    r, s = list(real["event_labels"]), list(synthetic["event_labels"])
    for batch_r in itertools.product(r, repeat=2):
        for batch_s in itertools.product(s, repeat=3):
            clips = [("r", t) for t in batch_r] + [("s", t) for t in batch_s]
            for (da, ta), (db, tb) in itertools.permutations(clips, 2):
                if ta and set(ta.split(",")) == set(tb.split(",")):
                    counts["rr" if da == db == "r" else "ss" if da == db == "s" else "rs"] += 1
    total = sum(counts.values())
    assert shares == pytest.approx({name: count / total for name, count in counts.items()})
    assert np.isclose(sum(shares.values()), 1.0)
