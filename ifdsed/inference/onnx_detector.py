"""Detectors that travel: one ONNX graph from raw audio to probabilities, and the detector that runs it.

`AudioDetector` is the whole path of `Detector.audio_outputs` as one torch module:

    audio [W, clip_samples] float32, mono, at the checkpoint's sample rate (10 s windows; shorter ones are
    zero-padded by the front end, longer ones cut)
      -> log-mel front end (`LogMelExtractor`: torch STFT, librosa's mel filterbank, log)
      -> in the feature store's dtype (what the model was trained on; float32: no rounding)
      -> per-band normalisation with the training sets' statistics
      -> the SEDModel's ATP branch
      -> frame_probs [W, T, C], clip_probs [W, C], and log_mel [W, T, n_mels] (before normalisation, for plots)

`export_onnx` writes it with torch's dynamo exporter (the STFT becomes ONNX's STFT operator), the number of
windows W dynamic, and stores the detector settings (classes, features, normalisation, thresholds, median
windows: everything post-processing needs) as JSON in the model's metadata under METADATA_KEY, and the
checkpoint's training-data record (`ifdsed.models.training_data`: data.source and the training sets' sizes) as
JSON under TRAINING_DATA_KEY (absent when the checkpoint has none).

`OnnxDetector` is a `Detector` whose audio path runs that graph in ONNX Runtime; the windowing of files and the
post-processing are `Detector`'s own, so `ifdsed predict --model detector.onnx` writes the events that the
checkpoint would, and warns as it would (its `training_data`: None for a file without the record). It takes
audio only (no stored features, no embeddings).
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ifdsed.errors import IfdsedError, first_line
from ifdsed.features.logmel import LogMelExtractor
from ifdsed.inference.detector import STORE_DTYPE, Detector
from ifdsed.inference.settings import DetectorSettings, detector_settings
from ifdsed.models import checkpoint
from ifdsed.models.training_data import TrainingDataError, from_json, to_json

METADATA_KEY = "ifdsed.detector"
TRAINING_DATA_KEY = "ifdsed.training_data"
INPUTS, OUTPUTS = ["audio"], ["frame_probs", "clip_probs", "log_mel"]
OPSET = 18


class AudioDetector(nn.Module):
    """audio [W, samples] -> (frame_probs [W, T, C], clip_probs [W, C], log_mel [W, T, n_mels]); see above."""

    def __init__(self, detector: Detector):
        super().__init__()
        settings = detector.settings
        self.extractor = LogMelExtractor(settings.features)
        self.model = detector.model
        self.register_buffer("mean", torch.as_tensor(detector.normalize.mean).float().cpu())   # [n_mels]
        self.register_buffer("std", torch.as_tensor(detector.normalize.std).float().cpu())     # [n_mels]

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        log_mel = self.extractor(audio)                                          # [W, T, n_mels]
        if STORE_DTYPE != torch.float32:
            log_mel = log_mel.to(STORE_DTYPE).float()                           # rounded as the store holds it
        outputs = self.model((log_mel - self.mean) / self.std)
        return outputs["frame_probs"], outputs["clip_probs"], log_mel


def settings_json(settings: DetectorSettings) -> str:
    """The detector settings as the JSON stored in the ONNX metadata (read back by `settings_from_json`)."""
    return json.dumps({"classes": list(settings.classes), "features": vars(settings.features),
                       "mean": np.asarray(settings.mean).tolist(), "std": np.asarray(settings.std).tolist(),
                       "tag_threshold": settings.tag_threshold, "frame_threshold": settings.frame_threshold,
                       "median_windows": [int(w) for w in settings.median_windows]})


def settings_from_json(text: str) -> DetectorSettings:
    stored = json.loads(text)
    stored["mean"], stored["std"] = torch.tensor(stored["mean"]), torch.tensor(stored["std"])
    return detector_settings({"detector": stored})


def export_onnx(model_path: str | Path, out: str | Path) -> Path:
    """Export a training checkpoint (best.pt) to one ONNX file at `out`, its detector settings and training-data
    record in the metadata; returns `out`."""
    import onnx

    detector = Detector.from_checkpoint(model_path, "cpu")
    module = AudioDetector(detector).eval()
    example = torch.zeros(2, detector.settings.features.clip_samples)               # [W, samples]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)                # notes on torchvision operators this graph does not use
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the exporter's progress lines and deprecation notices
        torch.onnx.export(module, (example,), str(out), dynamo=True, opset_version=OPSET, input_names=INPUTS,
                          output_names=OUTPUTS, dynamic_shapes=({0: torch.export.Dim("windows")},),
                          external_data=False, verbose=False,
                          # with the exporter's graph optimiser on, silent frames came out of ONNX Runtime at -27.1
                          # instead of log(1e-8) = -18.4, as if log(mel + 1e-8) ran in float16 (where 1e-8 is 0);
                          # with it off they match (measured on real recordings)
                          optimize=False)
    quiet.setLevel(level)
    graph = onnx.load(str(out))
    loaded = checkpoint.load(model_path, map_location="cpu")
    metadata = {METADATA_KEY: settings_json(detector.settings), "ifdsed.variant": loaded.config.variant,
                "ifdsed.epoch": str(loaded.epoch)}
    if loaded.training_data is not None:
        metadata[TRAINING_DATA_KEY] = to_json(loaded.training_data)
    for key, value in metadata.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(out))
    return out


class OnnxModelError(IfdsedError, ValueError):
    """An ONNX file cannot be used as a detector: missing, not a model ONNX Runtime loads, or not this project's."""


class OnnxDetector(Detector):
    """A `Detector` whose audio path is an exported graph run by ONNX Runtime (CPU)."""

    def __init__(self, path: str | Path, threads: int | None = None):
        """Raises OnnxModelError naming the file when it is missing, is not an ONNX model ONNX Runtime can load,
        or was not exported by this project (no detector settings in its metadata), or its training-data record
        is malformed."""
        import onnxruntime

        path = Path(path)
        if not path.is_file():
            raise OnnxModelError(f"{path}: no such ONNX file")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3          # errors only (not the constant-folding notes of the STFT's casts)
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 - ONNX Runtime's own classes (InvalidProtobuf, Fail, ...)
            first = first_line(error)
            raise OnnxModelError(f"{path}: not an ONNX model ONNX Runtime can load: {first}") from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in metadata:
            raise OnnxModelError(f"{path}: not a detector of this project: no {METADATA_KEY} metadata (export one "
                                 "with `ifdsed export`)")
        self.settings = settings_from_json(metadata[METADATA_KEY])
        try:
            self.training_data = from_json(metadata.get(TRAINING_DATA_KEY))
        except (TrainingDataError, TypeError) as error:
            first = first_line(error)
            raise OnnxModelError(f"{path}: its {TRAINING_DATA_KEY} metadata is malformed: {first}") from None
        self.device, self.dtype, self.epoch = torch.device("cpu"), torch.float32, metadata.get("ifdsed.epoch")
        self.model = None

    def audio_outputs(self, windows: np.ndarray, batch_size: int | None = None, keep_features: bool = False
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """windows [W, clip_samples] float32 -> frame_probs [W, T, C], clip_probs [W, C] (and log_mel)."""
        size = batch_size or self.batch_size
        parts = [self.session.run(OUTPUTS, {"audio": np.ascontiguousarray(windows[i:i + size], np.float32)})
                 for i in range(0, len(windows), size)]
        frames, clips, mels = (np.concatenate([part[k] for part in parts]) for k in range(3))
        return frames, clips, mels if keep_features else None

    def model_outputs(self, log_mel):
        raise TypeError("an ONNX detector takes audio only (audio_outputs), not features")

    feature_outputs = feature_outputs_and_embeddings = model_outputs
