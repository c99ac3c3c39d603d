"""The evaluate stage's choice of where sets are scored: in this process for small sets, in forked processes
for the default's (the figures are the same: the end-to-end tests score tiny sets in process, the default run
in processes, through the one `score_predictions`)."""
from concurrent.futures import ProcessPoolExecutor
from types import SimpleNamespace

import numpy as np

from pipeline.evaluate import SCORING_PROCESSES_FROM, InProcess, scoring_executor


def sets_of(*sizes):
    sets = [SimpleNamespace(key=f"set{i}") for i in range(len(sizes))]
    return sets, {s.key: SimpleNamespace(features=np.zeros((size, 1, 1))) for s, size in zip(sets, sizes)}


def test_small_sets_are_scored_in_this_process_and_large_ones_in_processes():
    small = scoring_executor(*sets_of(10, 20, SCORING_PROCESSES_FROM - 31))
    assert isinstance(small, InProcess)
    with small as executor:
        assert executor.submit(divmod, 7, 2).result() == (3, 1)
    large = scoring_executor(*sets_of(300, 600, 300))
    assert isinstance(large, ProcessPoolExecutor)
    with large as executor:                              # the forkserver's workers run a job
        assert executor.submit(divmod, 7, 2).result() == (3, 1)
