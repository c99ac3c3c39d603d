"""Training batches made ahead of the step on a background thread, so the step never waits for the data path
(memory-mapped reads, float16 -> float32, normalisation) and, on a GPU, for the copy to the device.

`prefetched(batches, device, depth)` yields the batches of `batches` in order, each already on `device`. A
thread runs the iterator up to `depth` batches ahead (numpy and torch release the GIL while they work); on a GPU
it pins each batch's memory, so the copy to the device overlaps the step (non_blocking). With depth 0 the batches
are made in the calling thread, as a plain loop would. The batches are the same either way: prefetching changes
when they are made, never what they hold.

Written here rather than taken from torch.utils.data.DataLoader: its workers are processes, forked anew every
epoch after the training process has started its OpenMP pool and inductor's compile workers, for batches that
cost about a millisecond each to make (bench/train_step.py measures the loader alone).
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator

import torch

Batch = dict[str, torch.Tensor]
_DONE = object()


def prefetched(batches: Iterable[Batch], device: torch.device, depth: int) -> Iterator[Batch]:
    """The batches of `batches`, in order, on `device`, made up to `depth` ahead on a background thread."""
    if depth <= 0:
        for batch in batches:
            yield _to_device(batch, device)
        return
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    pin = device.type == "cuda"

    def produce() -> None:
        try:
            for batch in batches:
                if pin:
                    batch = {key: value.pin_memory() for key, value in batch.items()}
                if not _put(ready, batch, stop):
                    return
            _put(ready, _DONE, stop)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            _put(ready, error, stop)

    worker = threading.Thread(target=produce, name="batch-prefetch", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield _to_device(item, device)
    finally:  # the consumer stopped (done, an error, or abandoned the epoch): let the thread end
        stop.set()
        worker.join()


def _put(ready: queue.Queue, item, stop: threading.Event) -> bool:
    """Put `item` when there is room; False if the consumer stopped first."""
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _to_device(batch: Batch, device: torch.device) -> Batch:
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}
