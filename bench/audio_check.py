"""Benchmark: checking a DCASE set's audio on import, in threads against one thread.

    .venv/bin/python -m bench.audio_check [--clips 600] [--workers 2] [--repeats 3]

Writes `--clips` 10 s clips of 44.1 kHz 16-bit mono noise (DCASE's format) to a temporary folder and times
`ifdsed.dcase.metadata.probe_audio` on them (every file opened and decoded, its first 11 s, and checked: what
the import does for every clip of the weak, validation, test and unlabelled sets) with one thread and with
`--workers` threads, in turn, `--repeats` times; each one's fastest pass counts. The files are in the page cache,
so the figure is the decoding and checking, not the disk. The two results must be equal (the check's output does
not depend on the threads). The last line is one JSON object.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.common import arguments, emit, loadavg
from ifdsed.dcase.metadata import probe_audio

SAMPLE_RATE = 44100   # DCASE 2018's audio: 44.1 kHz, 16-bit, mono, 10 s
SECONDS = 10.0


def write_clips(folder: Path, count: int) -> list[str]:
    """`count` 10 s clips of seeded noise in DCASE's format; their names."""
    rng = np.random.default_rng(0)
    names = [f"Y{index:05d}_0.000_10.000.wav" for index in range(count)]
    for name in names:
        noise = 0.1 * rng.standard_normal(int(SECONDS * SAMPLE_RATE))
        sf.write(folder / name, noise.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    return names


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--clips", type=int, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load_before = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names = write_clips(folder, args.clips)
        results, best = {}, {1: float("inf"), args.workers: float("inf")}
        for workers in best:                                  # warm-up: every file in the page cache
            results[workers] = probe_audio(folder, names, SECONDS, workers)
        for _ in range(args.repeats):
            for workers in best:
                started = time.perf_counter()
                probe_audio(folder, names, SECONDS, workers)
                best[workers] = min(best[workers], time.perf_counter() - started)
    one, threads = best[1], best[args.workers]
    same = results[1] == results[args.workers]
    print(f"{args.clips} clips: 1 thread {1000 * one / args.clips:.2f} ms a clip, {args.workers} threads "
          f"{1000 * threads / args.clips:.2f} ms a clip: {one / threads:.2f}x; same result: {same}")
    emit({"clips": args.clips, "workers": args.workers, "repeats": args.repeats,
          "ms_per_clip_1": round(1000 * one / args.clips, 3),
          "ms_per_clip_threads": round(1000 * threads / args.clips, 3),
          "speedup": round(one / threads, 3), "same_result": same,
          "loadavg": [load_before, loadavg()]})


if __name__ == "__main__":
    main()
