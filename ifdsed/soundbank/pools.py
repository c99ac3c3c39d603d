"""Held-out sources: each partition's files split into a training pool and held-out validation and test pools.

In DCASE the test recordings are other recordings than the training ones, and the DCASE 2019 synthetic
evaluation set is mixed from FSD clips that the training soundbank does not hold. So that the generated sets
measure new sounds rather than new mixtures of familiar ones, every clip set draws its sources from one pool
(`SET_POOLS`), and no source file is in two pools.

The rule, per partition and per (role, label) group (each class's foreground clips, each kind's background beds,
each non-target kind's clips): the group's files, sorted by path, are shuffled by a generator seeded from
(soundbank.seed, partition, role, label); the first ``round(share x n)`` go to the test pool, the next
``round(share x n)`` to the validation pool (each at least one file when its share is above 0), the rest to the
training pool, which must keep at least one file. A partition has only the pools its sets use
(`PARTITION_POOLS`): the synthetic domain has a train and a test set, the simulated real-world domain a weak
(training), a validation and a test set. A share of 0 holds nothing out: that pool is empty, and the set that
would draw from it draws from the training pool instead (`set_sources`), reusing the training sources.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ifdsed.errors import InputError

TRAIN, VALIDATION, TEST = "train", "validation", "test"
POOLS = (TRAIN, VALIDATION, TEST)
PARTITION_POOLS = {"synthetic": (TRAIN, TEST), "realworld": (TRAIN, VALIDATION, TEST)}
# The pool each generated clip set draws from: {domain's partition: {set name: pool}}
SET_POOLS = {"synthetic": {"train": TRAIN, "test": TEST},
             "realworld": {"weak": TRAIN, "unlabelled": TRAIN, "validation": VALIDATION, "test": TEST}}


def _group_rng(seed: int, partition: str, role: str, label: str) -> np.random.Generator:
    """The shuffle of one group: a stable hash of its name (not Python's salted hash), so the split is the same
    on every run and does not depend on which other groups exist."""
    key = zlib.crc32(f"{partition}/{role}/{label}".encode())
    return np.random.default_rng(np.random.SeedSequence([seed, key]))


def held_out_counts(n_files: int, shares: dict[str, float]) -> dict[str, int]:
    """Files per held-out pool for a group of `n_files`: round(share x n), at least 1 when the share is > 0."""
    return {pool: (max(1, round(share * n_files)) if share > 0 else 0) for pool, share in shares.items()}


def assign_pools(manifest: pd.DataFrame, validation_share: float, test_share: float, seed: int,
                 partition_pools: dict[str, tuple[str, ...]] = PARTITION_POOLS) -> pd.DataFrame:
    """The manifest with a `pool` column (train, validation or test), by the rule of the module docstring.

    `partition_pools` names the pools of each partition (a partition without a test pool, for instance, keeps
    its test share in training). Raises `InputError` naming the group and the params when a group is too small
    to give every held-out pool a file and keep one for training."""
    shares = {TEST: test_share, VALIDATION: validation_share}
    pools = pd.Series(TRAIN, index=manifest.index, dtype=object)
    for (partition, role, label), group in manifest.groupby(["partition", "role", "label"], sort=True):
        wanted = {pool: share for pool, share in shares.items() if pool in partition_pools.get(partition, ())}
        counts = held_out_counts(len(group), wanted)
        if len(group) - sum(counts.values()) < 1:
            raise InputError(
                f"soundbank: the {partition} partition has {len(group)} {role} file(s) of {label!r}, too few to "
                f"hold out {', '.join(f'{n} for {pool}' for pool, n in counts.items())} and keep one for "
                f"training: lower soundbank.held_out_validation / held_out_test, or give the bank more files "
                f"(soundbank.clips_per_class, backgrounds, non_target_clips)")
        order = group.sort_values("path", kind="mergesort").index.to_numpy()
        shuffled = order[_group_rng(seed, partition, role, label).permutation(len(order))]
        start = 0
        for pool, count in counts.items():   # test first, then validation: the same files stay in test when
            pools.loc[shuffled[start:start + count]] = pool   # the validation share changes
            start += count
    return manifest.assign(pool=pools.to_numpy())


def set_sources(sources: pd.DataFrame, domain: str, set_name: str) -> pd.DataFrame:
    """The rows of `sources` (a partition's manifest rows, with a pool column) that clip set `set_name` of
    `domain` ("synthetic" or "realworld") may mix: its pool's, or the training pool's when its pool is empty
    (the bank holds nothing out for it)."""
    pool = SET_POOLS[domain][set_name]
    chosen = sources[sources["pool"] == pool]
    return chosen if len(chosen) else sources[sources["pool"] == TRAIN]


ROLES = ("foreground", "background", "non_target")


def set_sources_by_role(sources: pd.DataFrame, domain: str) -> dict[str, dict[str, pd.DataFrame]]:
    """{set name: {role: its rows}} for every clip set of `domain`: what each set may mix (`set_sources`)."""
    return {name: {role: pool[pool["role"] == role] for role in ROLES}
            for name in SET_POOLS[domain] for pool in [set_sources(sources, domain, name)]}


def read_sources(set_dir: Path) -> pd.DataFrame:
    """A generated set's sources.tsv (`ifdsed.scenes.render`): filename, role, label, source_file."""
    return pd.read_csv(Path(set_dir) / "sources.tsv", sep="\t", dtype=str, keep_default_na=False)


def shared_sources(training_sets: list[Path], held_out_sets: list[Path]) -> set[str]:
    """The source files that some clip of `held_out_sets` and some clip of `training_sets` were both mixed from
    (by their sources.tsv): empty when the held-out sets hold only sounds that training never heard."""
    heard = set().union(*(read_sources(folder)["source_file"] for folder in training_sets))
    held_out = set().union(*(read_sources(folder)["source_file"] for folder in held_out_sets))
    return heard & held_out
