"""Which domains IFD's clip pairs join, expected from the sets' tags and the batch composition.

    python -m ifdsed.evaluation.pairing [--real data/realworld/weak/tags.tsv]
                                        [--synthetic data/synthetic/train/tags.tsv]

IFD draws positive frame pairs only from clip pairs with identical, non-empty tag sets (ifdsed/models/ifd.py). For a
batch of `n_real` weak clips and `n_synthetic` synthetic clips drawn at random from their sets, the expected
number of such ordered clip pairs is, by domain pairing:

    real-real            n_real (n_real - 1)        P(two weak clips share their tag set)
    synthetic-synthetic  n_synthetic (n_synthetic - 1) P(two synthetic clips share theirs)
    real-synthetic       2 n_real n_synthetic       P(a weak and a synthetic clip share theirs)

where P(two clips share their tag set) = sum over tag sets of p_a(s) p_b(s), non-empty s only. `pair_shares`
gives each pairing's share of the total. The batch composition comes from params.yaml (train.batch_size,
train.synthetic_fraction) unless given. Training logs the realised counts (ifd_n_pos_rr, _ss, _rs).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ifdsed import paths
from ifdsed.config import load_params
from ifdsed.io.tables import read_tags, split_tags


def tagset_distribution(tags: pd.DataFrame) -> pd.Series:
    """Share of clips per non-empty tag set (a tuple of sorted labels); empty tag sets are left out, so the shares
    sum to the share of tagged clips."""
    tagsets = pd.Series([tuple(split_tags(text)) for text in tags["event_labels"]])
    shares = tagsets.value_counts() / len(tagsets)
    return shares[[len(tagset) > 0 for tagset in shares.index]]


def pair_shares(real: pd.DataFrame, synthetic: pd.DataFrame, n_real: int, n_synthetic: int) -> dict[str, float]:
    """{"rr", "ss", "rs"}: each domain pairing's share of the expected identical-tag clip pairs in a batch."""
    p_real, p_synthetic = tagset_distribution(real), tagset_distribution(synthetic)
    same = {"rr": (p_real * p_real).sum(), "ss": (p_synthetic * p_synthetic).sum(),
            "rs": p_real.mul(p_synthetic, fill_value=0).sum()}
    pairs = {"rr": n_real * (n_real - 1), "ss": n_synthetic * (n_synthetic - 1), "rs": 2 * n_real * n_synthetic}
    expected = {name: pairs[name] * same[name] for name in pairs}
    total = sum(expected.values())
    return {name: value / total if total else 0.0 for name, value in expected.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ifdsed.evaluation.pairing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=Path, default=paths.CLIP_SETS[paths.REAL_TRAIN_SET] / "tags.tsv")
    parser.add_argument("--synthetic", type=Path, default=paths.CLIP_SETS[paths.SYNTHETIC_TRAIN_SET] / "tags.tsv")
    parser.add_argument("--batch", type=int, nargs=2, metavar=("N_REAL", "N_SYNTHETIC"),
                        help="clips of each domain per batch (default: params.yaml's train section)")
    args = parser.parse_args(argv)
    if args.batch:
        n_real, n_synthetic = args.batch
    else:
        train = load_params().train
        n_synthetic = round(train.batch_size * train.synthetic_fraction)
        n_real = train.batch_size - n_synthetic
    shares = pair_shares(read_tags(args.real), read_tags(args.synthetic), n_real, n_synthetic)
    print(f"batches of {n_real} real + {n_synthetic} synthetic clips: clip pairs with identical tags are "
          + ", ".join(f"{shares[name]:.0%} {label}" for name, label in
                      [("rr", "real-real"), ("rs", "real-synthetic"), ("ss", "synthetic-synthetic")]))


if __name__ == "__main__":
    main()
