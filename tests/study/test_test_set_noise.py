"""study.test_set_noise: the test set's bootstrap noise and the spread over seeds it implies."""
import numpy as np
import pytest

from ifdsed.evaluation.bootstrap import event_f1_macro
from study.test_set_noise import bootstrap_scores, noise_table


def counts(n_clips: int, hit_rate: float, seed: int) -> np.ndarray:
    """Per-clip (Nref, Nsys, Ntp) for 3 classes: one reference event a clip, found with probability hit_rate."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n_clips, 3, 3), dtype=np.int64)
    labels = rng.integers(3, size=n_clips)
    hits = rng.random(n_clips) < hit_rate
    out[np.arange(n_clips), labels, 0] = 1
    out[np.arange(n_clips), labels, 1] = 1
    out[np.arange(n_clips), labels, 2] = hits
    return out


def test_the_noise_of_a_test_set_shrinks_as_one_over_the_root_of_its_size():
    table = counts(800, 0.5, 0)
    small, large = bootstrap_scores(table, 100, 2000).std(), bootstrap_scores(table, 400, 2000).std()
    assert small / large == pytest.approx(2.0, rel=0.15)
    assert bootstrap_scores(table, 800, 2000).mean() == pytest.approx(event_f1_macro({"a": table.sum(0)})[0], abs=0.01)


def test_the_table_adds_the_shared_test_set_noise_to_the_spread_over_seeds():
    per_seed = {seed: counts(600, rate, seed) for seed, rate in [(1, 0.4), (2, 0.5), (3, 0.6)]}
    scores = {seed: event_f1_macro({"a": c.sum(0)})[0] for seed, c in per_seed.items()}
    table = noise_table(scores, per_seed, [200], draws=500).set_index("test_clips")
    assert list(table.index) == [200, 600]
    assert table.loc[200, "test_set_noise_std"] > table.loc[600, "test_set_noise_std"]
    row = table.loc[600]
    assert row["mean_standard_error"] ** 2 == pytest.approx(row["spread_over_seeds"] ** 2 / 3
                                                           + row["test_set_noise_std"] ** 2)
    assert 0 < row["test_set_share"] < table.loc[200, "test_set_share"] < 1
