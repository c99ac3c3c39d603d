"""Held-out pools (ifdsed/soundbank/pools.py): the split rule, its determinism and its errors."""
import pandas as pd
import pytest

from ifdsed.errors import InputError
from ifdsed.soundbank.pools import assign_pools, held_out_counts, set_sources


def manifest(per_group: int, partitions=("synthetic", "realworld")) -> pd.DataFrame:
    """A manifest of `per_group` files in each of two classes and one bed kind per partition."""
    rows = [{"partition": partition, "role": role, "label": label, "path": f"{partition}/{label}_{i:03d}.wav"}
            for partition in partitions for role, label in [("foreground", "Dog"), ("foreground", "Cat"),
                                                            ("background", "rain")] for i in range(per_group)]
    return pd.DataFrame(rows)


def test_held_out_counts_round_and_keep_at_least_one():
    assert held_out_counts(24, {"test": 0.2, "validation": 0.2}) == {"test": 5, "validation": 5}
    assert held_out_counts(3, {"test": 0.2, "validation": 0.2}) == {"test": 1, "validation": 1}
    assert held_out_counts(10, {"test": 0.0}) == {"test": 0}


def test_every_group_is_split_with_the_partitions_own_pools():
    pooled = assign_pools(manifest(10), 0.2, 0.3, seed=0)
    counts = pooled.groupby(["partition", "role", "label", "pool"]).size().unstack("pool", fill_value=0)
    assert (counts.loc["realworld", ["test", "validation", "train"]].to_numpy() == [3, 2, 5]).all()
    assert (counts.loc["synthetic", ["test", "train"]].to_numpy() == [3, 7]).all()
    assert (counts.loc["synthetic", "validation"] == 0).all()      # the synthetic domain has no validation set


def test_the_split_is_seeded_and_does_not_depend_on_row_order_or_other_groups():
    table = manifest(10)
    first = assign_pools(table, 0.2, 0.2, seed=0).set_index("path")["pool"]
    shuffled = assign_pools(table.sample(frac=1, random_state=1), 0.2, 0.2, seed=0).set_index("path")["pool"]
    assert shuffled.sort_index().equals(first.sort_index())
    alone = assign_pools(table[table["label"] == "Dog"], 0.2, 0.2, seed=0).set_index("path")["pool"]
    assert alone.equals(first[alone.index])
    other_seed = assign_pools(table, 0.2, 0.2, seed=1).set_index("path")["pool"]
    assert not other_seed.sort_index().equals(first.sort_index())


def test_a_larger_validation_share_leaves_the_test_pool_alone():
    small = assign_pools(manifest(20), 0.1, 0.2, seed=0).set_index("path")["pool"]
    large = assign_pools(manifest(20), 0.3, 0.2, seed=0).set_index("path")["pool"]
    assert (small == "test").equals(large == "test")


def test_a_group_too_small_to_split_is_refused_naming_it_and_the_params():
    with pytest.raises(InputError, match=r"realworld partition has 2 background file\(s\) of 'rain'.*held_out"):
        assign_pools(manifest(2), 0.2, 0.2, seed=0)
    assert set(assign_pools(manifest(2), 0.0, 0.0, seed=0)["pool"]) == {"train"}


def test_a_set_draws_from_its_pool_or_from_training_when_nothing_is_held_out():
    sources = assign_pools(manifest(10), 0.2, 0.2, seed=0)
    realworld = sources[sources["partition"] == "realworld"]
    assert set(set_sources(realworld, "realworld", "validation")["pool"]) == {"validation"}
    assert set(set_sources(realworld, "realworld", "weak")["pool"]) == {"train"}
    nothing_held_out = assign_pools(manifest(10, partitions=("synthetic",)), 0.0, 0.0, seed=0)
    assert set_sources(nothing_held_out, "synthetic", "test").equals(nothing_held_out)
