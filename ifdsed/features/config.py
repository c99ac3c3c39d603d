"""The settings of the log-mel features (`LogMelConfig`) and the error of a clip that cannot become features
(`FeatureError`), without torch: what reads a feature store (`ifdsed.features.store`'s readers, the diagnose
stage) needs these, not the extractor of ifdsed/features/logmel.py."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ifdsed.errors import IfdsedError


class FeatureError(IfdsedError, RuntimeError):
    """A clip cannot be turned into features; the message starts with the file's path and says why. The store
    is left unfinished (only the ``.partial`` folder), never taken as complete."""


@dataclass(frozen=True)
class LogMelConfig:
    """Everything that determines the features; `frames` and the sample counts are derived from it."""
    sample_rate: int
    n_fft: int
    window: float        # s
    hop: float           # s
    n_mels: int
    fmin: float
    fmax: float
    log_offset: float
    clip_duration: float  # s

    @classmethod
    def from_params(cls, features, clip_duration: float) -> "LogMelConfig":
        """From a `FeaturesParams` (params.yaml `features`) and `data.clip_duration`."""
        return cls(sample_rate=features.sample_rate, n_fft=features.n_fft, window=features.window,
                   hop=features.hop, n_mels=features.n_mels, fmin=features.fmin, fmax=features.fmax,
                   log_offset=features.log_offset, clip_duration=clip_duration)

    def __post_init__(self) -> None:
        if self.win_length > self.n_fft:
            raise ValueError(f"window {self.window} s ({self.win_length} samples) is longer than n_fft {self.n_fft}")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(f"need 0 <= fmin < fmax <= sample_rate / 2, got {self.fmin}, {self.fmax}")
        if self.hop_length < 1 or self.frames < 1:
            raise ValueError(f"hop {self.hop} s gives no frame at {self.sample_rate} Hz")

    @property
    def win_length(self) -> int:
        return round(self.window * self.sample_rate)

    @property
    def hop_length(self) -> int:
        return round(self.hop * self.sample_rate)

    @property
    def clip_samples(self) -> int:
        return round(self.clip_duration * self.sample_rate)

    @property
    def stft_samples(self) -> int:
        """Samples the STFT sees: the clip, plus zeros in the rare case where rounding the hop to whole samples
        would leave a centred STFT (1 + samples // hop_length frames) short of `frames`."""
        return max(self.clip_samples, (self.frames - 1) * self.hop_length)

    @property
    def frames(self) -> int:
        """Frames per clip: round(clip_duration / hop) (156 for 10 s at 64 ms, 500 at 20 ms)."""
        return round(self.clip_duration / self.hop)

    @property
    def frame_hop(self) -> float:
        """The true frame period in seconds (hop_length / sample_rate)."""
        return self.hop_length / self.sample_rate

    def describe(self) -> dict:
        """The parameters and the derived sizes, as written to features.json."""
        return {**asdict(self), "win_length": self.win_length, "hop_length": self.hop_length,
                "clip_samples": self.clip_samples, "frames": self.frames, "frame_hop": self.frame_hop}
