"""Benchmark: peak memory of training, at the default and at the paper's set sizes; features stay on disk.

    .venv/bin/python -m bench.memory [--scales default paper paper_lin] [--max-steps 20]

For each scale, writes a feature store of the right shapes to a temporary folder through the store's own writers
(`ifdsed.features.store`: log-mels of the store's dtype filled through a memory map, uint8 tags and frame labels
with a few random events per clip, index tables, normalisation, features.json), then, in a fresh Python process
(one per scale, so peaks do not mix):

1. `ifdsed.training.loop.train_seed` as the train stage runs it (params.yaml's model and train settings, one epoch,
   seed 1), with the epoch cut to `--max-steps` batches (time; memory does not grow with the steps), including
   the median windows from the synthetic training labels, the validation pass (`_validate`: the `Detector`'s
   `feature_outputs` over the validation set, and the score) and both checkpoints;
2. a full epoch of `MixedBatches` (every batch read from the memory maps and normalised, no model): the reads of
   a whole epoch, which touch every real weak clip and as many synthetic clips (epoch_read_anon_growth_mib:
   the anonymous memory this adds; held in memory, the features read would add their size, twice over as
   float32).

A thread samples /proc/self/status every 10 ms; the peaks of the phases (median windows, training steps,
validation) are kept apart in phases_anon_mib. Reported per scale, in MiB: peak_rss (VmHWM, what
`resource.getrusage` calls ru_maxrss), peak_anon (RssAnon: the process's own memory: tensors, arrays, Python)
and peak_file (RssFile: pages of mapped files, the features among them, which are the kernel's page cache,
shared and dropped under memory pressure rather than swapped), for the training (1) and for the epoch of
reads (2), and the store's size. Scales: default = params.yaml's set sizes (300 weak, 400 synthetic, 100
validation clips; 250 frames); paper = the paper's (1,578 weak, 6,373 synthetic, 288 validation; 250
frames); paper_lin = the paper's sizes at Lin et al.'s 500 frames per clip. Between default and paper (same
250 frames, only the set sizes differ), the peak anonymous memory should not grow with the store:
paper_anon_growth_over_features_growth. paper_lin's clips are twice as long, so its activations (per batch)
are twice as large: that is clip length, not set size. Peaks of anonymous memory vary by some tens of MiB from
run to run (allocator and thread timing).
The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.common import ROOT, arguments, emit, loadavg, run_module

SCALES = {  # weak, synthetic, validation clips; hop (s) -> frames of a 10 s clip
    "default": (300, 400, 100, 0.04),
    "paper": (1578, 6373, 288, 0.04),
    "paper_lin": (1578, 6373, 288, 0.02),
}
MIB = 1024 * 1024


def write_set(root: Path, name: str, config, classes: list[str], n_clips: int, strong: bool,
              rng: np.random.Generator, chunk: int = 256) -> dict:
    """One set of the store, its features written in chunks (so this process never holds them whole), through
    the store's own writers (`ifdsed.features.store`)."""
    from ifdsed.features.store import open_set_features, set_summary, tag_labels, write_set_labels
    frames, n_mels = config.frames, config.n_mels
    features = open_set_features(root, name, n_clips, frames, n_mels)              # [clips, frames, n_mels]
    labels = np.zeros((n_clips, frames, len(classes)), np.uint8)                   # [clips, frames, C]
    tags = np.zeros((n_clips, len(classes)), np.uint8)
    for start in range(0, n_clips, chunk):
        stop = min(n_clips, start + chunk)
        block = rng.normal(0.0, 1.0, size=(stop - start, frames, n_mels)).astype(features.dtype)
        frame_block = np.zeros((stop - start, frames, len(classes)), np.uint8)
        for clip in range(stop - start):
            for c in rng.choice(len(classes), size=int(rng.integers(1, 4)), replace=False):
                onset = int(rng.integers(0, frames - 10))
                frame_block[clip, onset:onset + int(rng.integers(5, frames // 3)), c] = 1
                tags[start + clip, c] = 1
        block += 2.0 * frame_block.repeat(n_mels // len(classes) + 1, axis=-1)[..., :n_mels]
        features[start:stop] = block
        labels[start:stop] = frame_block
    features.flush()
    del features
    write_set_labels(root, name, [f"{name}_{i:05d}.wav" for i in range(n_clips)],
                     tag_labels(tags, classes), tags,
                     labels if strong else None)
    return set_summary(n_clips, config, strong)


def validation_folder(store: Path) -> Path:
    """Where a fake store's validation clip-set folder (events.tsv, clips.tsv) lies: beside the store."""
    return store.parent / "realworld_validation"


def write_validation_tables(folder: Path, frame_labels: np.ndarray, classes: list[str], hop: float) -> None:
    """events.tsv and clips.tsv of the validation set, from its frame labels [N, T, C]: what training's
    event-based selection score reads."""
    folder.mkdir(parents=True)
    rows = []
    for clip, labels in enumerate(frame_labels):
        edges = np.diff(np.pad(labels.astype(np.int8), ((1, 1), (0, 0))), axis=0)        # [T + 1, C]
        for c in range(len(classes)):
            onsets, offsets = np.flatnonzero(edges[:, c] == 1), np.flatnonzero(edges[:, c] == -1)
            rows += [f"realworld_validation_{clip:05d}.wav\t{on * hop:.3f}\t{off * hop:.3f}\t{classes[c]}\n"
                     for on, off in zip(onsets, offsets)]
    (folder / "events.tsv").write_text("filename\tonset\toffset\tevent_label\n" + "".join(rows))
    (folder / "clips.tsv").write_text("filename\tpath\tduration\n" + "".join(
        f"realworld_validation_{clip:05d}.wav\tx\t10.0\n" for clip in range(len(frame_labels))))


def write_store(root: Path, scale: str) -> int:
    """A complete fake store at `root` for `scale`; returns its size in bytes."""
    from ifdsed.config import load_params
    from ifdsed.features.logmel import LogMelConfig
    weak, synthetic, validation, hop = SCALES[scale]
    params = load_params(ROOT / "params.yaml")
    config = LogMelConfig.from_params(params.features.model_copy(update={"hop": hop}), params.data.clip_duration)
    classes = list(params.classes)
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    from ifdsed.features.store import write_store_info
    sets = {"realworld_weak": write_set(root, "realworld_weak", config, classes, weak, False, rng),
            "synthetic_train": write_set(root, "synthetic_train", config, classes, synthetic, True, rng),
            "realworld_validation": write_set(root, "realworld_validation", config, classes, validation, True, rng)}
    write_validation_tables(validation_folder(root), np.load(root / "realworld_validation_frame_labels.npy",
                                                             mmap_mode="r"), classes, config.frame_hop)
    write_store_info(root, config, classes, ["synthetic_train", "realworld_weak"], sets,
                     np.zeros(config.n_mels, np.float32), np.ones(config.n_mels, np.float32), frames=0)
    return sum(path.stat().st_size for path in root.iterdir())


class MemorySampler(threading.Thread):
    """Peaks of RssAnon, RssFile and VmRSS of this process, sampled from /proc/self/status every `interval` s.

    `window()` returns (in MiB) the peaks since the previous `window()` call; `stage()` the peaks since the
    previous `stage()` call (a stage holds several windows)."""

    KEYS = ("RssAnon", "RssFile", "VmRSS")

    def __init__(self, interval: float = 0.02):
        super().__init__(daemon=True)
        self.interval, self.running = interval, True
        self.lock = threading.Lock()
        self.window_peak = dict.fromkeys(self.KEYS, 0)
        self.stage_peak = dict.fromkeys(self.KEYS, 0)

    @staticmethod
    def status() -> dict:
        values = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("RssAnon", "RssFile", "RssShmem", "VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
        return values

    def sample(self) -> None:
        values = self.status()
        with self.lock:
            for key in self.KEYS:
                self.window_peak[key] = max(self.window_peak[key], values[key])
                self.stage_peak[key] = max(self.stage_peak[key], values[key])

    def run(self) -> None:
        while self.running:
            self.sample()
            time.sleep(self.interval)

    def window(self) -> dict:
        self.sample()
        with self.lock:
            peak, self.window_peak = self.window_peak, dict.fromkeys(self.KEYS, 0)
        return {key: round(value / MIB, 1) for key, value in peak.items()}

    def stage(self) -> dict:
        self.window()
        with self.lock:
            peak, self.stage_peak = self.stage_peak, dict.fromkeys(self.KEYS, 0)
        return {key: round(value / MIB, 1) for key, value in peak.items()}


def child(store: Path, max_steps: int, out: Path) -> None:
    """Train one capped epoch on `store`, then read a whole epoch; print the memory peaks as JSON."""
    sampler = MemorySampler()
    sampler.start()
    import torch
    import yaml

    import ifdsed.training.loop as training
    from ifdsed.config import parse_params
    from ifdsed.features.normalize import Normalizer
    from ifdsed.features.store import STORE_DTYPE, load_feature_set, load_normalization
    start = sampler.stage()
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["train"].update(epochs=1, seeds=[1])
    params = parse_params(raw)

    class CappedBatches(training.MixedBatches):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.full_steps, self.steps = self.steps, min(self.steps, max_steps)

        def epoch(self, epoch):
            sampler.window()
            for step, batch in enumerate(super().epoch(epoch)):
                if step >= self.steps:
                    break
                yield batch
            phases["train_steps"] = max(phases.get("train_steps", 0), sampler.window()["RssAnon"])

    original_batches, phases = training.MixedBatches, {}
    training.MixedBatches = CappedBatches

    def phase(name, function):
        """Wrap a function of ifdsed.training.loop so that the memory peak of its calls is kept under `name`."""
        def wrapped(*args, **kwargs):
            sampler.window()
            result = function(*args, **kwargs)
            phases[name] = max(phases.get(name, 0), sampler.window()["RssAnon"])
            return result
        return wrapped

    training.training_median_windows = phase("median_windows", training.training_median_windows)
    training._validate = phase("validation", training._validate)   # Detector.feature_outputs and the score
    os.environ["TQDM_DISABLE"] = "1"
    started = time.perf_counter()
    training.train_seed(params, 1, store, out, validation_folder=validation_folder(store))
    train_s = time.perf_counter() - started
    train_peak = sampler.stage()
    vm_hwm_train = MemorySampler.status()["VmHWM"] / MIB

    real, synthetic = load_feature_set(store, training.REAL_TRAIN), load_feature_set(store, training.SYNTHETIC_TRAIN)
    batches = original_batches(real, synthetic, Normalizer(*load_normalization(store)),
                               params.train.batch_size, params.train.synthetic_fraction, seed=1)
    read_start_anon = MemorySampler.status()["RssAnon"] / MIB
    started = time.perf_counter()
    read_bytes = 0
    for batch in batches.epoch(0):
        read_bytes += batch["features"].numel() * np.dtype(STORE_DTYPE).itemsize   # as stored

    read_s = time.perf_counter() - started
    read_peak = sampler.stage()
    emit({"start": start, "train": train_peak, "phases_anon_mib": phases,
          "train_vm_hwm_mib": round(vm_hwm_train, 1),
          "read_epoch": read_peak, "read_epoch_start_anon_mib": round(read_start_anon, 1),
          "read_epoch_mib": round(read_bytes / MIB, 1),
          "vm_hwm_mib": round(MemorySampler.status()["VmHWM"] / MIB, 1),
          "train_s": round(train_s, 1), "train_steps": min(batches.steps, max_steps),
          "epoch_steps": batches.steps, "read_epoch_s": round(read_s, 2),
          "torch_threads": torch.get_num_threads()})


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--scales", nargs="+", default=list(SCALES), choices=list(SCALES))
    parser.add_argument("--max-steps", type=int, default=20, help="training batches per scale")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.chdir(ROOT)
    if args.child:
        return child(Path(args.child), args.max_steps, Path(args.out))
    results = {}
    load_before = loadavg()
    print(f"bench memory: scales {args.scales}, {args.max_steps} training steps each, {os.cpu_count()} cpus, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB RAM")
    for scale in args.scales:
        with tempfile.TemporaryDirectory(prefix=f"bench_memory_{scale}_") as folder:
            store = Path(folder) / "features"
            store_bytes = write_store(store, scale)
            feature_bytes = sum((store / f"{name}.npy").stat().st_size
                                for name in ("realworld_weak", "synthetic_train", "realworld_validation"))
            found = run_module("bench.memory", "--child", store, "--out", Path(folder) / "run",
                               "--max-steps", args.max_steps)
        weak, synthetic, validation, hop = SCALES[scale]
        results[scale] = {
            "weak_clips": weak, "synthetic_clips": synthetic, "validation_clips": validation,
            "frames": round(10.0 / hop), "store_mib": round(store_bytes / MIB, 1),
            "features_mib": round(feature_bytes / MIB, 1),
            "peak_rss_mib": found["vm_hwm_mib"], "train_peak_rss_mib": found["train_vm_hwm_mib"],
            "train_peak_anon_mib": found["train"]["RssAnon"], "train_peak_file_mib": found["train"]["RssFile"],
            "read_epoch_peak_anon_mib": found["read_epoch"]["RssAnon"],
            "read_epoch_anon_growth_mib": round(found["read_epoch"]["RssAnon"] - found["read_epoch_start_anon_mib"], 1),
            "read_epoch_features_mib": found["read_epoch_mib"],
            "read_epoch_peak_file_mib": found["read_epoch"]["RssFile"],
            "import_anon_mib": found["start"]["RssAnon"], "phases_anon_mib": found["phases_anon_mib"],
            "train_steps": found["train_steps"], "epoch_steps": found["epoch_steps"], "train_s": found["train_s"],
            "read_epoch_s": found["read_epoch_s"]}
        r = results[scale]
        print(f"{scale:9s} {weak} weak + {synthetic} synthetic + {validation} validation clips x {r['frames']} "
              f"frames: store {r['store_mib']} MiB; training: peak RSS {r['train_peak_rss_mib']} MiB (anonymous "
              f"{r['train_peak_anon_mib']}, file pages {r['train_peak_file_mib']}); a whole epoch of reads: "
              f"anonymous {r['read_epoch_peak_anon_mib']}, file pages {r['read_epoch_peak_file_mib']}")
    summary = {"scales": results, "loadavg": [load_before, loadavg()],
               "cpus": os.cpu_count(), "max_steps": args.max_steps}
    if "default" in results:
        summary["default_peak_rss_mib"] = results["default"]["train_peak_rss_mib"]
        summary["default_peak_anon_mib"] = results["default"]["train_peak_anon_mib"]
    for scale in ("paper", "paper_lin"):
        if scale in results:
            summary[f"{scale}_peak_rss_mib"] = results[scale]["train_peak_rss_mib"]
            summary[f"{scale}_peak_anon_mib"] = results[scale]["train_peak_anon_mib"]
    if "default" in results and "paper" in results:   # same 250 frames: only the set sizes differ
        growth = results["paper"]["train_peak_anon_mib"] - results["default"]["train_peak_anon_mib"]
        store_growth = results["paper"]["features_mib"] - results["default"]["features_mib"]
        summary["paper_anon_growth_mib"] = round(growth, 1)
        summary["paper_features_growth_mib"] = round(store_growth, 1)
        summary["paper_anon_growth_over_features_growth"] = round(growth / store_growth, 3)
    # Held in memory, the features read in an epoch would add their size (x2 as float32) to the anonymous memory.
    summary["epoch_read_anon_growth_mib"] = {scale: r["read_epoch_anon_growth_mib"] for scale, r in results.items()}
    summary["epoch_read_features_mib"] = {scale: r["read_epoch_features_mib"] for scale, r in results.items()}
    summary["store_mib"] = {scale: r["store_mib"] for scale, r in results.items()}
    summary["features_held_in_memory"] = any(r["read_epoch_anon_growth_mib"] > 0.25 * r["read_epoch_features_mib"]
                                             for r in results.values())
    emit(summary)


if __name__ == "__main__":
    main()
