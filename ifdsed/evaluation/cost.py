"""What a detector costs, as DCASE 2023-24 report it: multiply-accumulate operations (MACs) for one
10 s clip, and the number of parameters.

MACs are counted by `torch.utils.flop_counter.FlopCounterMode` on one forward pass of the model that prediction
runs (the whole `SEDModel`, its training-only branch heads included: they are a few linear layers), on the
features of one clip of the checkpoint's length; a matrix product or convolution of k multiplications and
additions counts k MACs (the counter's FLOPs / 2). The log-mel front end is not counted, as in DCASE's tables.
"""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from ifdsed.models.sed_model import SEDModel


def inference_cost(model: SEDModel, frames: int, n_mels: int) -> dict[str, int]:
    """{"cost/macs_per_clip", "cost/parameters"} of `model` on one clip of `frames` frames of `n_mels` bands."""
    was_training = model.training
    model.eval()
    features = torch.zeros(1, frames, n_mels, device=next(model.parameters()).device)   # [1, T, n_mels]
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(features)
    model.train(was_training)
    return {"cost/macs_per_clip": int(counter.get_total_flops() // 2), "cost/parameters": model.num_parameters()}
