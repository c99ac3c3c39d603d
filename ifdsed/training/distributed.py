"""Data-parallel training with torch's own engines: `torchrun` (torch.distributed.run) starts the processes,
torch.distributed (NCCL on GPUs, gloo on CPUs) connects them, DistributedDataParallel averages the gradients.

`train.processes > 1` in params.yaml selects it from the DVC stage: `python -m pipeline.train --seed S`, when it
is not already running under a launcher, starts itself again through
`python -m torch.distributed.run --standalone --nproc_per_node N -m pipeline.train --seed S` (`relaunch`), so the
stage command stays the same. Under any launcher (torchrun by hand on a cluster, several nodes included) the
process group comes from the launcher's environment (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), and
WORLD_SIZE, not train.processes, is the number of processes.

What each rank does is decided in ifdsed/training/loop.py; this module holds the plumbing: the process context, the
launcher command, and the few collectives the training needs. torch is imported where it is used, so that
deciding to relaunch (`launched`, `relaunch`) costs no torch import in the process that only starts torchrun.
"""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Iterator, Sequence

if TYPE_CHECKING:
    import torch

LAUNCHER_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE")


@dataclass(frozen=True)
class Context:
    """Where this process stands in the job: rank 0 of 1 for an ordinary single-process run."""
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone validates, logs and writes checkpoints."""
        return self.rank == 0

    def broadcast(self, value: Any) -> Any:
        """`value` as rank 0 holds it, on every rank (any picklable object; tensors travel as CPU tensors)."""
        if not self.distributed:
            return value
        import torch.distributed as dist
        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather_objects(self, value: Any) -> list[Any]:
        """Every rank's `value`, in rank order, on every rank."""
        if not self.distributed:
            return [value]
        import torch.distributed as dist
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def sum(self, value: int) -> int:
        """The sum of an integer over all ranks."""
        if not self.distributed:
            return value
        import torch
        import torch.distributed as dist
        tensor = torch.tensor([value], dtype=torch.int64, device=self.device_for_collectives())
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return int(tensor.item())

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist
            dist.barrier(device_ids=[self.local_rank] if self.backend == "nccl" else None)

    def device_for_collectives(self) -> torch.device:
        import torch
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher that sets the same variables)."""
    return all(name in os.environ for name in LAUNCHER_VARIABLES)


def launch_command(processes: int, module_args: Sequence[str]) -> list[str]:
    """The torchrun command that runs `python -m <module_args>` in `processes` processes on this machine."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
            "-m", *module_args]


def relaunch(processes: int, module_args: Sequence[str]) -> int:
    """Run `python -m <module_args>` under torchrun in `processes` local processes; returns its exit status.

    torchrun watches its workers: when one fails, it stops the others, so a crashed rank never leaves the rest
    waiting on a collective."""
    print(f"train.processes = {processes}: running under torchrun: {' '.join(launch_command(processes, module_args))}",
          flush=True)
    return subprocess.run(launch_command(processes, module_args)).returncode


def use_cuda(device_choice: str) -> bool:
    """train.device: 'cuda' or 'cuda:N', or 'auto' on a machine with CUDA."""
    import torch
    return device_choice.startswith("cuda") or (device_choice == "auto" and torch.cuda.is_available())


@contextmanager
def session(device_choice: str) -> Iterator[Context]:
    """The process group of a launched job for the duration of a training, or the single-process context.

    Backend: NCCL when the training runs on CUDA (one GPU per local rank), gloo otherwise. A group that the
    caller already initialised is used as it is and left open."""
    if not launched() or int(os.environ["WORLD_SIZE"]) <= 1:
        yield Context()
        return
    import torch
    import torch.distributed as dist

    from ifdsed.devices import DeviceError
    rank, local_rank, world_size = (int(os.environ[name]) for name in LAUNCHER_VARIABLES)
    cuda = use_cuda(device_choice)
    if cuda:
        if local_rank >= torch.cuda.device_count():
            raise DeviceError(f"local rank {local_rank} has no GPU: {torch.cuda.device_count()} visible; "
                              "run at most one process per GPU (train.processes, torchrun --nproc_per_node)")
        torch.cuda.set_device(local_rank)
    backend = "nccl" if cuda else "gloo"
    owned = not dist.is_initialized()
    if owned:
        dist.init_process_group(backend, timeout=timedelta(minutes=30))
    try:
        yield Context(rank=rank, local_rank=local_rank, world_size=world_size, backend=dist.get_backend())
    finally:
        if owned and dist.is_initialized():
            dist.destroy_process_group()


def gather_batch(local: dict[str, torch.Tensor], ctx: Context) -> dict[str, torch.Tensor]:
    """Every rank's tensors concatenated along dim 0 in rank order: the global batch, on every rank.

    This rank's part keeps its autograd graph, the other ranks' parts arrive detached. A loss L computed on the
    gathered tensors then has, on rank r, the gradient dL/do_r of this rank's outputs only; scaled by the world
    size before backward, DDP's gradient average (1/W) sum_r W dL/do_r do_r/dtheta is exactly dL/dtheta, the
    gradient of the loss over the global batch. All parts must have the same shape (equal shards)."""
    if not ctx.distributed:
        return local
    import torch
    import torch.distributed as dist
    gathered = {}
    for key, tensor in local.items():
        wire = tensor.detach().to(torch.uint8) if tensor.dtype == torch.bool else tensor.detach()
        parts = [torch.empty_like(wire) for _ in range(ctx.world_size)]
        dist.all_gather(parts, wire.contiguous())
        if tensor.dtype == torch.bool:
            parts = [part.bool() for part in parts]
        parts[ctx.rank] = tensor
        gathered[key] = torch.cat(parts)
    return gathered
