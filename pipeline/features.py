"""DVC stage `features`: log-mel features of every clip set, in one memory-mappable store.

Reads  params.yaml (classes, data.clip_duration, features) and the five clip sets
       data/synthetic/{train,test}, data/realworld/{weak,validation,test}, the unlabelled set
       data/realworld/unlabelled where the realworld stage wrote one, and the extra test sets data/extra/<name>
       (stored as extra_<name>): clips.tsv (the audio paths, absolute or
       relative to the project root), tags.tsv (not the unlabelled set), events.tsv where the set has one (not the
       weak set).
Writes data/features/: <set>.npy (float32 [clips, frames, n_mels]), <set>.tsv (row filename event_labels),
       <set>_tags.npy (uint8 [clips, classes]; labelled sets), <set>_frame_labels.npy (uint8 [clips, frames, classes], strong
       sets only), normalization.npz (per-band mean and std of synthetic_train + realworld_weak only) and
       features.json (the settings). See ifdsed/features/.
"""
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ifdsed.config import load_params
from ifdsed.devices import default_device
from ifdsed.errors import InputError, run_stage
from ifdsed.features.logmel import LogMelConfig
from ifdsed.features.store import build_store
from ifdsed.io.tables import read_clips
from ifdsed.paths import CLIP_SETS, FEATURES, TRAIN_SETS, UNLABELLED, UNLABELLED_SET, extra_clip_sets


def clip_sets() -> dict:
    """The five clip sets of the pipeline, the unlabelled set where there is one, then the extra test sets
    (data/extra, from the extra_sets stage)."""
    unlabelled = {UNLABELLED_SET: UNLABELLED} if (UNLABELLED / "clips.tsv").is_file() else {}
    return {**CLIP_SETS, **unlabelled, **extra_clip_sets()}


def _check_sets() -> int:
    """Every set folder has its tables; returns the total number of clips.

    clips.tsv is written last by the stages that write a set, so a folder without it (an interrupted run, with
    maybe some audio in it) is never taken as a set."""
    total = 0
    for name, folder in clip_sets().items():
        for table in ("clips.tsv",) if name == UNLABELLED_SET else ("clips.tsv", "tags.tsv"):
            if not (folder / table).is_file():
                raise InputError(f"{folder / table} is missing (the set is absent or unfinished): "
                                 f"run the stage that writes {name} first")
        total += len(read_clips(folder / "clips.tsv"))
    return total


def main() -> None:
    params = load_params()
    config = LogMelConfig.from_params(params.features, params.data.clip_duration)
    workers = params.features.workers
    device = default_device()
    total = _check_sets()
    print(f"features: {total} clips at {config.sample_rate} Hz -> {config.frames} frames x {config.n_mels} mels "
          f"on {device}, {workers} workers")
    started = time.perf_counter()
    with tqdm(total=total, unit="clip", desc="features") as bar:
        info = build_store(clip_sets(), FEATURES, config, params.classes, train_sets=TRAIN_SETS, root=Path("."),
                           workers=workers, device=device, progress=bar.update)
    elapsed = time.perf_counter() - started
    for name, summary in info["sets"].items():
        labels = ", frame labels" if summary["frame_labels"] else ""
        print(f"  {name}: {summary['clips']} clips -> {FEATURES / (name + '.npy')} "
              f"[{summary['clips']}, {summary['frames']}, {summary['n_mels']}] {info['dtype']}{labels}")
    print(f"  normalisation over {' + '.join(info['train_sets'])} -> {FEATURES / 'normalization.npz'}")
    print(f"features: wrote {FEATURES}/ in {elapsed:.1f} s ({total / max(elapsed, 1e-9):.0f} clips/s, "
          f"torch {torch.__version__})")


if __name__ == "__main__":
    run_stage("features", main)
