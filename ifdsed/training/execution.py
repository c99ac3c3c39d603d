"""How a training step runs on the hardware: autocast precision, memory format and compilation, from the train
section of params.yaml (precision, compile, channels_last).

The weights, the optimizer state and every checkpoint stay float32: autocast only runs the forward's matmuls and
convolutions in bfloat16 (or float16 on a GPU), and the losses are computed in float32 on the outputs cast back
(`ifdsed.training.step`). float16 scales the loss (`torch.amp.GradScaler`) so small gradients do not underflow;
bfloat16 has float32's range and needs none. Compilation (`torch.compile`, inductor) covers the model's forward
and its backward; the losses stay eager (the IFD loss's pair counts change every batch). Validation runs the
uncompiled model in float32, exactly as evaluation does (`ifdsed.inference.detector.Detector`). `train.compile:
auto` compiles where it pays: where the step autocasts to bfloat16 or float16, and on a GPU; a float32 step on a
CPU runs eager (compiled, it was 3 % faster on a 2-core AVX2 CPU, 175 against 181 ms, after 40 s of compiling:
a net loss over a default training).

docs/performance.md has the measurements behind the defaults (bench/train_step.py).
"""
from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass

import torch
from torch import nn

from ifdsed.config import TrainParams
from ifdsed.devices import DeviceError, autocast, pick_precision


@dataclass(frozen=True)
class Execution:
    """The resolved execution settings of one training run."""
    device: torch.device
    dtype: torch.dtype = torch.float32     # autocast dtype; float32 means no autocast
    compile: bool = False
    channels_last: bool = False

    @classmethod
    def from_params(cls, train: TrainParams, device: torch.device) -> "Execution":
        """train.precision, train.compile and train.channels_last on `device`; a clear error for a setting this
        machine cannot run (float16 on a CPU, compilation without a compiler)."""
        dtype = pick_precision(train.precision, device)
        compile_ = compile_pays(device, dtype) if train.compile == "auto" else train.compile
        execution = cls(device, dtype, compile_, train.channels_last)
        if execution.compile:
            _check_compiler(device, "auto" if train.compile == "auto" else "true")
        return execution

    @property
    def precision(self) -> str:
        """'float32', 'bfloat16' or 'float16'."""
        return str(self.dtype).removeprefix("torch.")

    def describe(self) -> dict:
        """The settings as plain values (the training summary and its log line)."""
        return {"precision": self.precision, "compile": self.compile, "channels_last": self.channels_last}

    def autocast(self) -> contextlib.AbstractContextManager:
        """The forward's autocast context (a no-op for float32)."""
        return autocast(self.device, self.dtype)

    def prepare(self, model: nn.Module) -> nn.Module:
        """The module the training step calls: `model` in channels-last format and compiled, as set. The
        parameters stay `model`'s own (float32), so the optimizer and checkpoints use `model` unchanged."""
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return torch.compile(model) if self.compile else model

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """A loss scaler for float16 autocast, None otherwise."""
        return torch.amp.GradScaler(self.device.type) if self.dtype == torch.float16 else None


def compile_pays(device: torch.device, dtype: torch.dtype) -> bool:
    """train.compile auto: compile a step that autocasts (bfloat16, float16) or runs on a GPU, not a float32 step
    on a CPU."""
    return device.type == "cuda" or dtype != torch.float32


def _check_compiler(device: torch.device, setting: str) -> None:
    """torch.compile needs a C++ compiler on a CPU and Triton on a GPU; say so, naming train.compile's `setting`,
    before any work starts."""
    if device.type == "cpu":
        from torch._inductor.cpp_builder import get_cpp_compiler
        try:
            compiler = get_cpp_compiler()
        except Exception:  # noqa: BLE001 - inductor's own "no compiler found" error
            compiler = None
        if compiler is None or shutil.which(compiler) is None:
            raise DeviceError(f"params.yaml: train.compile: {setting} needs a C++ compiler on a CPU, and none was "
                              "found (g++ or $CXX): install one (Debian: apt-get install g++) or set train.compile "
                              "false")
    elif device.type == "cuda":
        from torch.utils._triton import has_triton
        if not has_triton():
            raise DeviceError(f"params.yaml: train.compile: {setting} needs Triton on a GPU (pip install triton, "
                              "which CUDA builds of torch usually bring) or set train.compile false")
