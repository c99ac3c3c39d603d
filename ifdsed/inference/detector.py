"""The one inference path: a trained model with everything it needs to detect events on its own.

Everything comes from the checkpoint (`ifdsed.inference.settings.detector_settings`): classes, the log-mel
settings, the normalisation statistics and the post-processing (thresholds, per-class median windows);
params.yaml is never read. `training_data` is the checkpoint's record of what the model was trained on
(`ifdsed.models.training_data`; None when unknown), for the warning that `ifdsed predict` and `ifdsed export`
print. Evaluation (stored features), prediction (audio files, `ifdsed.inference.files`) and training's
per-epoch validation all run through `Detector`:

1. features: from audio (`audio_outputs`: the log-mel extractor, in the feature store's dtype, so a clip gives
   the same outputs whether it comes from a file or from the store) or stored features (`feature_outputs`);
2. the one normaliser (`ifdsed.features.normalize.Normalizer`) and the model's ATP branch (`model_outputs`) ->
   frame probabilities [N, T, C] and clip probabilities [N, C], in batches (the batch size changes the outputs
   by float rounding at most, below 1e-6: oneDNN picks its convolution kernels by batch size);
3. the one post-processing (`ifdsed.inference.postprocess`): `clip_events` for clips of the model's length,
   `file_events` for files cut into windows.

The model runs in float32 by default, whatever precision it was trained in: evaluation, training's validation
and prediction then agree byte for byte on the same host. `precision` (bfloat16 or float16) runs it under
autocast instead, for faster prediction where the hardware has it (`ifdsed predict --precision`).
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ifdsed.devices import autocast, default_device, pick_precision
from ifdsed.features import store
from ifdsed.features.logmel import LogMelExtractor
from ifdsed.features.normalize import Normalizer
from ifdsed.inference.postprocess import detect_events, file_events, frame_starts
from ifdsed.inference.settings import DetectorSettings, detector_settings
from ifdsed.models import checkpoint
from ifdsed.models.sed_model import SEDModel
from ifdsed.models.training_data import TrainingData

CPU_BATCH = 8               # windows per model call on a CPU: the fastest per window (the activations stay in cache)
GPU_BATCH = 64
FEATURE_BATCH = 64          # stored clips per model call
STORE_DTYPE = getattr(torch, np.dtype(store.STORE_DTYPE).name)   # the store's dtype, for features of audio too


class Detector:
    """A model with its feature extractor, normaliser and post-processing settings, on one device."""

    def __init__(self, model: SEDModel, settings: DetectorSettings, device: torch.device | str | None = None,
                 epoch: int | None = None, precision: str | torch.dtype = "float32",
                 training_data: TrainingData | None = None):
        """epoch: the training epoch the weights are from (a checkpoint's), for reports; precision: the autocast
        dtype, or float32, auto, bfloat16 or float16 as train.precision (`ifdsed.devices.pick_precision`);
        training_data: what the model was trained on (a checkpoint's record; None: unknown)."""
        self.epoch = epoch
        self.training_data = training_data
        self.device = torch.device(device) if device is not None else default_device()
        self.dtype = (precision if isinstance(precision, torch.dtype)
                      else pick_precision(precision, self.device, "Detector precision"))
        self.settings = settings
        features, classes = settings.features, settings.classes
        config = model.config
        if config.n_mels != features.n_mels or config.n_classes != len(classes):
            raise ValueError(f"the model expects {config.n_mels} mel bands and {config.n_classes} classes, the "
                             f"detector settings give {features.n_mels} and {len(classes)}")
        if len(settings.median_windows) != len(classes):
            raise ValueError(f"{len(settings.median_windows)} median windows for {len(classes)} classes")
        self.model = model.to(self.device)
        self.normalize = Normalizer(settings.mean, settings.std, self.device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: torch.device | str | None = None,
                        precision: str | torch.dtype = "float32") -> "Detector":
        """Load a training checkpoint (best.pt) that carries its detector settings in extra["detector"] (and,
        when it has one, its training-data record)."""
        device = torch.device(device) if device is not None else default_device()
        loaded = checkpoint.load(path, map_location=device)
        return cls(loaded.model, detector_settings(loaded.extra), device, epoch=loaded.epoch, precision=precision,
                   training_data=loaded.training_data)

    @cached_property
    def extractor(self) -> LogMelExtractor:
        """The log-mel front end (built on first use: evaluation from stored features never needs it)."""
        return LogMelExtractor(self.settings.features).to(self.device)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.settings.classes

    @property
    def batch_size(self) -> int:
        """Default windows per model call for this device."""
        return CPU_BATCH if self.device.type == "cpu" else GPU_BATCH

    # ---- model -----------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def model_outputs(self, log_mel: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Un-normalised log-mel [b, T, n_mels] -> frame_probs [b, T, C] and clip_probs [b, C], float32 numpy."""
        self.model.eval()
        with autocast(self.device, self.dtype):
            outputs = self.model(self.normalize(log_mel))
        return outputs["frame_probs"].float().cpu().numpy(), outputs["clip_probs"].float().cpu().numpy()

    def feature_outputs(self, features: np.ndarray, batch_size: int = FEATURE_BATCH) -> tuple[np.ndarray, np.ndarray]:
        """Stored features [N, T, n_mels] (memory-mapped) -> frame_probs [N, T, C], clip_probs [N, C]."""
        chunks = [self.model_outputs(batch) for batch in _batches(features, batch_size)]
        return np.concatenate([f for f, _ in chunks]), np.concatenate([c for _, c in chunks])

    @torch.inference_mode()
    def feature_outputs_and_embeddings(self, features: np.ndarray, batch_size: int = FEATURE_BATCH
                                       ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """`feature_outputs` of stored features [N, T, n_mels] and their frame embeddings, from one forward pass:
        frame_probs [N, T, C], clip_probs [N, C] and {"x": the encoder's output [N, T, emb_dim]}, with the IFD
        branch also "v": its projection v_t = W x_t + b [N, T, ifd_dim] (what the IFD loss shapes), float32."""
        self.model.eval()
        keys = {"frame_probs": "frame_probs", "clip_probs": "clip_probs", "x": "embeddings", "v": "ifd_embeddings"}
        parts: dict[str, list[np.ndarray]] = {key: [] for key in keys}
        with autocast(self.device, self.dtype):
            for batch in _batches(features, batch_size):
                outputs = self.model(self.normalize(batch))
                for key, output in keys.items():
                    if output in outputs:
                        parts[key].append(outputs[output].float().cpu().numpy())
        arrays = {key: np.concatenate(chunks) for key, chunks in parts.items() if chunks}
        return arrays.pop("frame_probs"), arrays.pop("clip_probs"), arrays

    def audio_outputs(self, windows: np.ndarray, batch_size: int | None = None, keep_features: bool = False
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """windows [W, clip_samples] float32 -> frame_probs [W, T, C], clip_probs [W, C] and, with
        keep_features, log_mel [W, T, n_mels] (before normalisation), all float32 numpy arrays."""
        frames, clips, mels = [], [], []
        for batch in _batches(windows, batch_size or self.batch_size):
            with torch.inference_mode():
                audio = torch.from_numpy(batch).to(self.device)                             # [b, samples]
                log_mel = self.extractor(audio)                                             # [b, T, n_mels]
                log_mel = log_mel.to(STORE_DTYPE).float()   # as the feature store holds features (float32: as is)
            frame_probs, clip_probs = self.model_outputs(log_mel)
            frames.append(frame_probs)                                                      # [b, T, C]
            clips.append(clip_probs)                                                        # [b, C]
            if keep_features:
                mels.append(log_mel.cpu().numpy())                                          # [b, T, n_mels]
        return (np.concatenate(frames), np.concatenate(clips),
                np.concatenate(mels) if keep_features else None)

    # ---- post-processing -------------------------------------------------------------------------------------
    def clip_events(self, frame_probs: np.ndarray, clip_probs: np.ndarray, filenames: Sequence[str]) -> pd.DataFrame:
        """Clips of the model's length (an evaluation set): frame_probs [N, T, C], clip_probs [N, C] -> one DESED
        event table, sorted."""
        settings = self.settings
        return detect_events(frame_probs, clip_probs, filenames, settings.classes, settings.frame_hop,
                             settings.median_windows, settings.frame_threshold, settings.tag_threshold)

    def file_events(self, frame_probs: Sequence[np.ndarray], clip_probs: Sequence[np.ndarray],
                    durations: Sequence[float], filenames: Sequence[str]) -> list[tuple[pd.DataFrame, np.ndarray]]:
        """Files cut into windows: per file (events, kept-frame mask [W_i * T]); see
        `ifdsed.inference.postprocess.file_events`."""
        settings = self.settings
        return file_events(frame_probs, clip_probs, durations, filenames, settings.classes, settings.frame_hop,
                           self.window_seconds, settings.median_windows, settings.frame_threshold,
                           settings.tag_threshold)

    @property
    def window_seconds(self) -> float:
        """Seconds between consecutive windows of a file (the clip length in whole samples)."""
        features = self.settings.features
        return features.clip_samples / features.sample_rate

    def frame_starts(self, windows: int) -> np.ndarray:
        """Start time (s) of every frame of `windows` consecutive windows, float64 [windows * frames]."""
        return frame_starts(windows, self.settings.features.frames, self.settings.frame_hop, self.window_seconds)


def _batches(array: np.ndarray, size: int):
    """Consecutive slices of `size` rows (the last one shorter): memory-mapped stores are read one batch at a time."""
    return (array[start:start + size] for start in range(0, len(array), size))
