"""A tiny, learnable hand-made feature store in the features stage's layout, for the training tests.

Class c lights up mel band c during its events (5 frames of 20, two classes per clip), so a few epochs of a
tiny model learn it. The layout is the one `ifdsed.features.store.build_store` writes: per set <set>.npy (float16
[clips, frames, mels]), <set>_tags.npy, <set>_frame_labels.npy (strong sets), <set>.tsv, plus
normalization.npz and features.json."""
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ifdsed.config import DCASE_CLASSES
from ifdsed.features.logmel import LogMelConfig

CLASSES = list(DCASE_CLASSES)
FRAMES, MELS = 20, 64
FRAME_SECONDS = 0.5  # the store's hop: 20 frames make a 10 s clip
CONFIG = LogMelConfig(sample_rate=16000, n_fft=1024, window=0.04, hop=FRAME_SECONDS, n_mels=MELS, fmin=0.0,
                      fmax=8000.0, log_offset=1e-8, clip_duration=10.0)


def write_toy_set(root: Path, name: str, n_clips: int, rng: np.random.Generator, strong: bool) -> dict:
    """One set's arrays and table; returns its entry of features.json's "sets"."""
    tags = np.zeros((n_clips, len(CLASSES)), np.uint8)
    frames = np.zeros((n_clips, FRAMES, len(CLASSES)), np.uint8)
    features = rng.normal(0, 0.3, size=(n_clips, FRAMES, MELS)).astype(np.float32)
    for clip in range(n_clips):
        for c in rng.choice(len(CLASSES), size=2, replace=False):
            start = rng.integers(0, FRAMES - 5)
            frames[clip, start:start + 5, c] = 1
            tags[clip, c] = 1
            features[clip, start:start + 5, c] += 3.0
    np.save(root / f"{name}.npy", features.astype(np.float16))
    np.save(root / f"{name}_tags.npy", tags)
    if strong:
        np.save(root / f"{name}_frame_labels.npy", frames)
    labels = [",".join(CLASSES[c] for c in np.flatnonzero(row)) for row in tags]
    (root / f"{name}.tsv").write_text("row\tfilename\tevent_labels\n" + "".join(
        f"{i}\t{name}_{i}.wav\t{labels[i]}\n" for i in range(n_clips)))
    return {"clips": n_clips, "frames": FRAMES, "n_mels": MELS, "frame_labels": strong}


def write_event_tables(folder: Path, name: str, frames: np.ndarray) -> None:
    """The clip-set folder scoring reads (events.tsv, clips.tsv) for a strong set's frame labels."""
    folder.mkdir(parents=True)
    n_clips = len(frames)
    rows = [(f"{name}_{i}.wav", round(s * FRAME_SECONDS, 3), round((s + 5) * FRAME_SECONDS, 3), CLASSES[c])
            for i in range(n_clips) for c in range(len(CLASSES))
            for s in np.flatnonzero(np.diff(np.r_[0, frames[i, :, c]]) == 1)]
    pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"]).to_csv(
        folder / "events.tsv", sep="\t", index=False)
    pd.DataFrame({"filename": [f"{name}_{i}.wav" for i in range(n_clips)], "path": "x",
                  "duration": 10.0}).to_csv(folder / "clips.tsv", sep="\t", index=False)


def write_toy_store(root: Path, sets: list[tuple[str, int, bool]], event_tables: bool = False) -> Path:
    """A store at `root` with the (name, clips, strong) sets, drawn in order from one seed-0 generator.

    With event_tables, every strong set also gets the clip-set folder root.parent/sets/<name> that scoring
    reads."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    entries = {name: write_toy_set(root, name, n_clips, rng, strong) for name, n_clips, strong in sets}
    if event_tables:
        for name, _, strong in sets:
            if strong:
                write_event_tables(root.parent / "sets" / name, name, np.load(root / f"{name}_frame_labels.npy"))
    np.savez(root / "normalization.npz", mean=np.zeros(MELS, np.float32), std=np.ones(MELS, np.float32))
    (root / "features.json").write_text(json.dumps({"config": CONFIG.describe(), "classes": CLASSES,
                                                    "sets": entries}))
    return root


TRAINING_SETS = [("synthetic_train", 24, True), ("realworld_weak", 24, False), ("realworld_validation", 8, True)]
