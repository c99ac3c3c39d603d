"""Which torch device and how many threads: `pick_device` for params.yaml's train.device, `default_device`
for tools that take no setting, `torch_threads` to set torch's intra-op threads for a block."""
from __future__ import annotations

import contextlib

import torch


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
            raise RuntimeError(f"params.yaml: train.device: {choice!r}, but this machine has {count} CUDA device(s) "
                               "visible to torch: use 'auto' or 'cpu'" + (f", or cuda:0..{count - 1}" if count else ""))
    return device


@contextlib.contextmanager
def torch_threads(count: int):
    """Set torch's intra-op thread count for a block, then restore it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
