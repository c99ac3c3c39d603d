"""Log-mel features: the batched torch extractor (`LogMelExtractor`) of the settings `LogMelConfig`
(ifdsed/features/config.py) and the extraction of many files on worker threads (`extract_files`).

Every clip is decoded, mixed down to mono, resampled to `features.sample_rate` (soxr HQ, as `librosa.load` does;
`ifdsed.io.audio.read_clip`) and cut or zero-padded to `data.clip_duration`. A batched torch STFT (periodic Hann
window of round(window * sr) samples centred in n_fft, hop round(hop * sr), centre padding with zeros, power 2)
is projected on librosa's mel filterbank (Slaney scale and norm, the defaults of
`librosa.feature.melspectrogram`) and logged: log(mel + log_offset), float32. A clip gives
round(clip_duration / hop) frames; frame t is centred at t * hop and is said to cover [t * hop, (t + 1) * hop).
The result matches a plain librosa log-mel of the same file within 0.01 dB (tests; measured about 1e-4 dB by
`python -m bench.features`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import librosa
import numpy as np
import torch

from ifdsed.devices import ordered_thread_map
from ifdsed.errors import AudioError
from ifdsed.features.config import FeatureError, LogMelConfig
from ifdsed.io.audio import read_clip

MEL_GROUPS = 4  # band groups of the mel projection (the fastest split for 64 bands, measured on a CPU)
_FIX = ("the clip sets are written by the synthesize and realworld stages, which check every file: if it changed "
        "since, rerun them (`dvc repro -f realworld`)")


class LogMelExtractor(torch.nn.Module):
    """Waveforms at `config.sample_rate` -> log-mel features. Move it with `.to(device)` to run on a GPU."""

    def __init__(self, config: LogMelConfig):
        super().__init__()
        self.config = config
        window = torch.hann_window(config.win_length, periodic=True, dtype=torch.float32)  # [win_length]
        mel = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels,
                                  fmin=config.fmin, fmax=config.fmax)                    # [n_mels, n_fft//2+1]
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("mel_basis", torch.from_numpy(mel.T.copy()), persistent=False)  # [freqs, n_mels]
        # The filterbank is banded: forward projects each run of mel bands on the bins it covers only.
        self.mel_bins = [bins for _, bins in _mel_groups(mel, MEL_GROUPS)]
        for i, (bands, bins) in enumerate(_mel_groups(mel, MEL_GROUPS)):
            self.register_buffer(f"mel_block{i}", self.mel_basis[bins, bands].contiguous(),  # [bins, bands]
                                 persistent=False)

    @classmethod
    def from_params(cls, features, clip_duration: float) -> "LogMelExtractor":
        return cls(LogMelConfig.from_params(features, clip_duration))

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        """[batch, samples] float -> [batch, frames, n_mels] float32.

        Samples past `config.clip_samples` are dropped and shorter input is zero-padded, so every clip gives
        exactly `config.frames` frames.
        """
        cfg = self.config
        if waveforms.dim() != 2:
            raise ValueError(f"expected waveforms [batch, samples], got shape {tuple(waveforms.shape)}")
        clip = waveforms[:, :cfg.clip_samples].to(torch.float32)                 # [batch, <= clip_samples]
        x = _fit_length(clip, cfg.stft_samples)                                  # [batch, stft_samples]
        spec = torch.stft(x, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                          window=self.window, center=True, pad_mode="constant",
                          return_complex=True)                                   # [batch, freqs, >= frames]
        spec = spec[..., :cfg.frames].transpose(1, 2)                            # [batch, frames, freqs]
        power = spec.real.square() + spec.imag.square()                          # [batch, frames, freqs]
        blocks = [power[..., bins] @ self.get_buffer(f"mel_block{i}")           # [batch, frames, bands]
                  for i, bins in enumerate(self.mel_bins)]
        mel = torch.cat(blocks, dim=-1)                                          # [batch, frames, n_mels]
        return torch.log(mel + cfg.log_offset)


def _mel_groups(mel: np.ndarray, groups: int) -> list[tuple[slice, slice]]:
    """Split the bands of a [n_mels, freqs] filterbank into `groups` runs of consecutive bands, each with the
    range of frequency bins where it is non-zero. Projecting each run on its bins only gives the same sums as
    the full product (the other weights are zeros) in about a quarter of the operations."""
    n_mels, count = mel.shape[0], min(groups, mel.shape[0])
    out = []
    for g in range(count):
        bands = slice(g * n_mels // count, (g + 1) * n_mels // count)
        bins = np.flatnonzero(mel[bands].any(axis=0))
        out.append((bands, slice(int(bins[0]), int(bins[-1]) + 1) if bins.size else slice(0, 0)))
    return out


def _fit_length(x: torch.Tensor, samples: int) -> torch.Tensor:
    """Cut or right-pad with zeros the last axis to `samples` (no copy when it already has that length)."""
    if x.shape[-1] >= samples:
        return x[..., :samples]
    return torch.nn.functional.pad(x, (0, samples - x.shape[-1]))



def default_batch_size(config: LogMelConfig, device: torch.device) -> int:
    """Clips per STFT batch: 64 on a GPU; on a CPU as many as keep a batch's complex spectrogram within 2 MB
    (2 clips at the defaults, 1 at Lin's settings): larger batches leave the cache and run slower per clip."""
    if device.type != "cpu":
        return 64
    spectrogram_bytes = config.frames * (config.n_fft // 2 + 1) * 8                # complex64 [frames, freqs]
    return max(1, (2 << 20) // spectrogram_bytes)


def extract_files(paths: Sequence[str | Path], extractor: LogMelExtractor, *, workers: int = 2,
                  batch_size: int | None = None) -> Iterator[np.ndarray]:
    """Log-mel of audio files, yielded in input order as float32 [batch, frames, n_mels] arrays.

    `workers` threads each take a batch of files, decode it and run the extractor on it (on the extractor's
    device). Decoding (libsndfile, soxr) and torch both release the GIL, so the threads use separate cores;
    on a CPU torch gets one intra-op thread per worker thread so the cores are not oversubscribed. At most
    2 * workers batches are in flight. Batches depend only on `batch_size`, never on `workers`.
    """
    device = next(extractor.buffers()).device
    batch_size = batch_size or default_batch_size(extractor.config, device)
    batches = [list(paths[start:start + batch_size]) for start in range(0, len(paths), batch_size)]

    def decode(path, out: np.ndarray) -> None:
        try:
            read_clip(path, extractor.config.sample_rate, extractor.config.clip_samples, out)
        except AudioError as error:
            raise FeatureError(f"{error}: the features stage stops here; {_FIX}") from None
        except Exception as error:  # noqa: BLE001 - libsndfile and soxr raise many types; name the file
            raise FeatureError(f"{path}: cannot decode: {error}: the features stage stops here; {_FIX}") from None

    def run(batch: list) -> np.ndarray:
        audio = np.empty((len(batch), extractor.config.clip_samples), dtype=np.float32)  # [batch, samples]
        for row, path in enumerate(batch):
            decode(path, audio[row])
        with torch.inference_mode():
            features = extractor(torch.from_numpy(audio).to(device))              # [batch, frames, n_mels]
            finite = torch.isfinite(features).flatten(1).all(dim=1).cpu().numpy()  # [batch]
            if not finite.all():
                path = batch[int(np.flatnonzero(~finite)[0])]
                peak = float(np.abs(audio[int(np.flatnonzero(~finite)[0])]).max())
                raise FeatureError(f"{path}: gives non-finite log-mel features (samples up to {peak:.3g}, far "
                                   f"beyond full scale?): the features stage stops here; {_FIX}")
            return features.cpu().numpy()

    yield from ordered_thread_map(run, batches, workers, device)

