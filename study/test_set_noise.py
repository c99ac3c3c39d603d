"""How much a larger test set steadies a study's figures: each model's real-world test event F1, resampled over
test clips, beside the spread over seeds.

    python -m study.test_set_noise [--seeds 1 2 3] [--sizes 200 300] [--draws 1000]

Run after `dvc repro` (it reads data/eval/seed_<s>/predictions/real_test.tsv and data/realworld/test/events.tsv,
the same tables evaluation scored). For each seed, sed_eval's per-file counts (`ifdsed.evaluation.metrics
.event_based`, the paper's settings from params.yaml); then, for each size n, `draws` sets of n clips drawn with
replacement from the test set (a classic bootstrap), each scored as the event-based macro F1 of its summed counts
(`ifdsed.evaluation.bootstrap.event_f1_macro`, the reported figure's definition). Per size:

- test_set_noise_std: the bootstrap std, mean over seeds: how far one model's score moves from one test set of
  n such clips to another. Every seed is scored on the same test set, so this noise is shared by the seeds: it
  does not show in the spread over seeds, and it does not average out over them.
- spread_over_seeds: the std over seeds of the scores on the whole test set (training-run variance).
- mean_standard_error: sqrt(spread^2 / seeds + noise^2), the standard error of a variant's mean over its seeds
  as an estimate of its expected score on such clips, and test_set_share, the part of its variance that is the
  test set's (taking the two as independent).

With few seeds the spread is itself uncertain (with 3 seeds its 95 % interval spans about 0.5x to 6x).
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from ifdsed import paths
from ifdsed.config import load_params
from ifdsed.evaluation.bootstrap import event_f1_macro
from ifdsed.evaluation.metrics import event_based
from ifdsed.io.tables import read_clips, read_events


def per_file_counts(seed: int, classes: list[str], t_collar: float, percentage_of_length: float) -> np.ndarray:
    """sed_eval's (Nref, Nsys, Ntp) per class of every real-world test clip, for one seed: [N, C, 3]."""
    truth = read_events(paths.REALWORLD / "test" / "events.tsv")
    predictions = pd.read_csv(paths.eval_dir(seed) / "predictions" / "real_test.tsv", sep="\t")
    filenames = read_clips(paths.REALWORLD / "test" / "clips.tsv")["filename"]
    counts: dict = {}
    event_based(truth, predictions, classes, filenames, t_collar, percentage_of_length, per_file_counts=counts)
    return np.stack([counts[name] for name in sorted(counts)])


def bootstrap_scores(counts: np.ndarray, size: int, draws: int, seed: int = 0) -> np.ndarray:
    """Event macro F1 of `draws` sets of `size` clips drawn with replacement from counts [N, C, 3]: [draws]."""
    rng = np.random.default_rng(seed)
    totals = counts[rng.integers(len(counts), size=(draws, size))].sum(axis=1)     # [draws, C, 3]
    return np.array([event_f1_macro({"all": total})[0] for total in totals])


def noise_table(scores: dict[int, float], counts: dict[int, np.ndarray], sizes: list[int], draws: int) -> pd.DataFrame:
    """One row per size: the test set's noise, the spread over seeds, and the standard error of a k-seed mean."""
    full = len(next(iter(counts.values())))
    noise = {n: float(np.mean([bootstrap_scores(c, n, draws).std(ddof=1) for c in counts.values()]))
             for n in sorted(set(sizes) | {full})}
    spread = float(np.std(list(scores.values()), ddof=1))
    rows = []
    for n in sorted(noise):
        seed_part, test_part = spread ** 2 / len(scores), noise[n] ** 2
        rows.append({"test_clips": n, "test_set_noise_std": noise[n], "seeds": len(scores),
                     "spread_over_seeds": spread, "mean_standard_error": (seed_part + test_part) ** 0.5,
                     "test_set_share": test_part / (seed_part + test_part)})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m study.test_set_noise", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", help="default: params.yaml's train.seeds")
    parser.add_argument("--sizes", type=int, nargs="+", default=[200], help="test-set sizes to project to")
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args(argv)
    params = load_params()
    classes, seeds = list(params.classes), args.seeds or list(params.train.seeds)
    counts = {seed: per_file_counts(seed, classes, params.eval.t_collar, params.eval.percentage_of_length)
              for seed in seeds}
    scores = {seed: event_f1_macro({"all": c.sum(axis=0)})[0] for seed, c in counts.items()}
    print("real-world test event F1 per seed: " + ", ".join(f"{s}: {v:.3f}" for s, v in scores.items()))
    print(noise_table(scores, counts, args.sizes, args.draws).to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
