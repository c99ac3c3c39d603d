"""Batches made ahead on a thread (ifdsed.training.prefetch): the same batches in the same order as the plain
iterator, errors raised where the batches are used, and no thread left behind when the consumer stops."""
import threading

import pytest
import torch

from ifdsed.features.normalize import Normalizer
from ifdsed.features.store import load_feature_set, load_normalization
from ifdsed.training.batches import MixedBatches
from ifdsed.training.prefetch import prefetched

CPU = torch.device("cpu")


def prefetch_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "batch-prefetch"]


@pytest.fixture(autouse=True)
def no_thread_left():
    """Every test starts and must end without a prefetching thread."""
    assert not prefetch_threads()
    yield
    assert not prefetch_threads()


def counted(n: int, made: list[int] | None = None, fail_at: int | None = None):
    """n small random batches; `made` records each one as it is made; ValueError instead of batch `fail_at`."""
    generator = torch.Generator().manual_seed(0)
    for index in range(n):
        if index == fail_at:
            raise ValueError(f"batch {index} could not be read")
        if made is not None:
            made.append(index)
        yield {"features": torch.randn(4, 20, 8, generator=generator), "index": torch.tensor(index)}


def assert_same_batches(got: list[dict], expected: list[dict]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.keys() == b.keys()
        assert all(torch.equal(a[key], b[key]) and a[key].device == CPU for key in a)


@pytest.mark.parametrize("depth", [0, 1, 2, 8])
def test_prefetched_batches_are_the_plain_batches_in_order(depth):
    plain = list(counted(7))
    got = list(prefetched(counted(7), CPU, depth))
    assert [int(batch["index"]) for batch in got] == list(range(7))
    assert_same_batches(got, plain)


@pytest.mark.parametrize("depth", [0, 2])
def test_the_training_batches_of_an_epoch_are_unchanged(store, depth):
    mean, std = load_normalization(store)
    batches = MixedBatches(load_feature_set(store, "realworld_weak"), load_feature_set(store, "synthetic_train"),
                           Normalizer(mean, std), batch_size=8, synthetic_fraction=0.5, seed=1)
    for epoch in range(2):
        plain = list(batches.epoch(epoch))
        assert len(plain) == batches.steps > depth
        assert_same_batches(list(prefetched(batches.epoch(epoch), CPU, depth)), plain)


def test_the_thread_runs_at_most_depth_batches_ahead():
    made = []
    batches = prefetched(counted(1000, made), CPU, depth=2)
    assert int(next(batches)["index"]) == 0 and prefetch_threads()
    for _ in range(500):       # let the thread fill the queue
        if len(made) >= 4:
            break
        threading.Event().wait(0.01)
    threading.Event().wait(0.2)
    # batch 0 taken, batches 1 and 2 in the queue, batch 3 made and waiting for room: no more
    assert len(made) == 4
    batches.close()
    assert not prefetch_threads() and len(made) == 4


@pytest.mark.parametrize("depth", [0, 2])
def test_an_error_while_making_a_batch_is_raised_to_the_consumer(depth):
    seen = []
    with pytest.raises(ValueError, match="batch 3 could not be read"):
        for batch in prefetched(counted(10, fail_at=3), CPU, depth):
            seen.append(int(batch["index"]))
    assert seen == [0, 1, 2]            # every batch before the error, then the error itself


def test_breaking_out_of_the_loop_stops_the_thread():
    made = []
    for batch in prefetched(counted(10_000, made), CPU, depth=2):
        assert prefetch_threads()
        if int(batch["index"]) == 5:
            break
    assert not prefetch_threads()       # the abandoned generator was closed and its thread joined
    assert len(made) <= 6 + 2 + 1       # and it stopped making batches


def test_an_error_in_the_consumer_stops_the_thread():
    with pytest.raises(RuntimeError, match="the step failed"):
        for batch in prefetched(counted(10_000), CPU, depth=2):
            if int(batch["index"]) == 1:
                raise RuntimeError("the step failed")
    assert not prefetch_threads()
