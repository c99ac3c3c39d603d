"""What a model was trained on, recorded in every checkpoint and ONNX export, and the one-line warning that a
model trained on the embedded generated data gets whenever it is used on audio or exported.

The record (`TrainingData`) holds plain values only, the same for the same training data (no time, no path),
so that a resumed training still writes a byte-identical best.pt:

    {"source": "embedded" | "real",     params data.source
     "synthetic_train_clips": int,      clips of the synthetic training set (feature store set synthetic_train)
     "weak_clips": int}                 clips of the weakly labelled real-world training set (realworld_weak;
                                        simulated under data.source embedded, your DCASE clips under real)

Training writes it into every checkpoint's extra[KEY] (ifdsed/training/loop.py, the counts read from the feature
store's features.json); `ifdsed.models.checkpoint.load` reads it back (None for a checkpoint saved before models
recorded it: unknown training data), and `ifdsed export` copies it into the ONNX file's metadata as `to_json`
(ifdsed/inference/onnx_detector.py).

`warning` is the one line that `ifdsed predict` and `ifdsed export` print on stderr: a model trained on the
embedded generated data does not work on real recordings (the figure measured by `python -m bench.real_audio`,
docs/results.md and README.md's results); a model of unknown training data may be one. A model trained on real
data (data.source real) gets no warning.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

KEY = "training_data"                         # in a checkpoint's extra
SOURCES = ("embedded", "real")                # params data.source
# The real-audio measurement of models trained on the embedded data: docs/results.md ("On real recordings, the
# embedded model fails") and README.md's results; update the three together when the bench is rerun.
REAL_AUDIO_F1 = "0.013 +- 0.022"
MEASUREMENT = f"event F1 {REAL_AUDIO_F1} on real audio, measured by `python -m bench.real_audio`, docs/results.md"
REMEDY = "for a detector, train on real data (params data.source: real, docs/real-data.md)"


class TrainingDataError(ValueError):
    """A stored training-data record is malformed (the readers turn it into their own error naming the file)."""


@dataclass(frozen=True)
class TrainingData:
    """The training data of one model: its source (params data.source) and the two training sets' sizes."""
    source: str
    synthetic_train_clips: int
    weak_clips: int

    def __post_init__(self):
        if self.source not in SOURCES:
            raise TrainingDataError(f"training data source {self.source!r} is not one of {list(SOURCES)}")
        for name in ("synthetic_train_clips", "weak_clips"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise TrainingDataError(f"training data {name} must be a count (an int >= 0), got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain values, as stored in a checkpoint's extra[KEY] (read with torch.load(weights_only=True))."""
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: Any) -> "TrainingData":
        """The record `to_dict` wrote; raises TrainingDataError for anything else."""
        if not isinstance(stored, dict) or set(stored) != set(cls.__dataclass_fields__):
            found = sorted(stored) if isinstance(stored, dict) else type(stored).__name__
            raise TrainingDataError(f"a training data record holds the keys {sorted(cls.__dataclass_fields__)}, "
                                    f"found {found}")
        return cls(**stored)


def from_extra(extra: dict) -> TrainingData | None:
    """The record in a checkpoint's extra dict; None when it has none (saved before models recorded it)."""
    return TrainingData.from_dict(extra[KEY]) if KEY in extra else None


def to_json(record: TrainingData) -> str:
    """The record as JSON (keys sorted: the same bytes for the same record), for ONNX metadata."""
    return json.dumps(record.to_dict(), sort_keys=True)


def from_json(text: str | None) -> TrainingData | None:
    """The record `to_json` wrote; None for None (an export of a model without a record)."""
    if text is None:
        return None
    try:
        stored = json.loads(text)
    except json.JSONDecodeError as error:
        raise TrainingDataError(f"the training data record is not JSON: {error}") from None
    return TrainingData.from_dict(stored)


def warning(record: TrainingData | None, model: str | Path) -> str | None:
    """The one line (no newline) to print on stderr before `model` is used or exported, or None.

    embedded: it was trained on generated data and does not work on real recordings (the measurement), and how
    to train on real data; None (no record): its training data is unknown, and the same if it was embedded;
    real: None."""
    if record is not None and record.source == "real":
        return None
    if record is None:
        return (f"warning: {model} does not record its training data (saved before models recorded it): if it was "
                f"trained on the generated data (data.source: embedded), it does not work on real recordings "
                f"({MEASUREMENT}); {REMEDY}")
    return (f"warning: {model} was trained on generated data only (data.source: embedded, "
            f"{record.synthetic_train_clips} synthetic and {record.weak_clips} simulated weak clips): such models do "
            f"not work on real recordings ({MEASUREMENT}); {REMEDY}")
