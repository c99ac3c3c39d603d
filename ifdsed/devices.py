"""Which torch device, precision and how many threads: `pick_device` for params.yaml's train.device,
`default_device` for tools that take no setting, `pick_precision` for train.precision (what the hardware offers),
`torch_threads` to set torch's intra-op threads for a block, and `ordered_thread_map`, the one worker pool for
torch work on many inputs (feature extraction, prediction)."""
from __future__ import annotations

import contextlib
import itertools
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

import torch

from ifdsed.errors import IfdsedError

Item, Result = TypeVar("Item"), TypeVar("Result")


class DeviceError(IfdsedError, RuntimeError):
    """train.device names a device this machine does not have."""


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_device(choice: str) -> torch.device:
    """train.device -> a torch device: 'auto' is CUDA when present, else the CPU; 'cuda' or 'cuda:N' must exist."""
    if choice == "auto":
        return default_device()
    device = torch.device(choice)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index or 0) >= count:
            raise DeviceError(f"params.yaml: train.device: {choice!r}, but this machine has {count} CUDA device(s) "
                               "visible to torch: use 'auto' or 'cpu'" + (f", or cuda:0..{count - 1}" if count else ""))
    return device


PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def native_bfloat16(device: torch.device) -> bool:
    """Whether `device` computes in bfloat16 natively: a CPU with AVX512-BF16 or AMX tiles (elsewhere torch
    emulates bfloat16 on the CPU, slower than float32), a GPU that supports it (Ampere and later)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return False


def pick_precision(choice: str, device: torch.device, setting: str = "params.yaml: train.precision") -> torch.dtype:
    """train.precision -> the autocast dtype on `device` (float32: no autocast).

    auto: bfloat16 where the device has it natively, else float16 on a GPU and float32 on a CPU. float16 needs
    a GPU (torch's CPU float16 kernels are slow and its gradients would need loss scaling for nothing)."""
    if choice == "auto":
        if native_bfloat16(device):
            return torch.bfloat16
        return torch.float16 if device.type == "cuda" else torch.float32
    if choice == "float16" and device.type != "cuda":
        raise DeviceError(f"{setting}: float16 needs a GPU, and this run is on {device}: use 'auto', 'bfloat16' "
                          "or 'float32'")
    return PRECISIONS[choice]


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """torch.autocast to `dtype` on `device`; a no-op for float32 (training's step and the Detector use it)."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


@contextlib.contextmanager
def torch_threads(count: int):
    """Set torch's intra-op thread count for a block, then restore it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def ordered_thread_map(function: Callable[[Item], Result], items: Iterable[Item], workers: int,
                       device: torch.device) -> Iterator[Result]:
    """function(item) for every item on `workers` threads, yielded in input order, at most 2 * workers in flight.

    Decoding (libsndfile, soxr) and torch release the GIL, so the threads use separate cores. On a CPU each
    thread runs torch on one intra-op thread so the cores are not oversubscribed (torch's thread count is per
    OS thread: each worker sets its own, and the caller's is restored); on a GPU they keep the caller's."""
    workers = max(1, workers)
    threads = 1 if device.type == "cpu" else torch.get_num_threads()
    with torch_threads(threads), ThreadPoolExecutor(workers, initializer=torch.set_num_threads,
                                                    initargs=(threads,)) as pool:
        queue = iter(items)
        pending = deque(pool.submit(function, item) for item in itertools.islice(queue, 2 * workers))
        while pending:
            result = pending.popleft().result()
            pending.extend(pool.submit(function, item) for item in itertools.islice(queue, 1))
            yield result
