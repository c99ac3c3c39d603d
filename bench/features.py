"""Benchmark: the features stage's extractor against a plain librosa loop, on the same clips, in one run.

    .venv/bin/python -m bench.features [--clips 64] [--repeats 15] [--workers 2] [--scenarios default lin resample]

Each scenario writes `--clips` 10 s clips (pink-ish noise + a few harmonic tones with an envelope, 16-bit wav)
to a temporary folder, then times, on those files:

- extractor: `ifdsed.features.logmel.extract_files` (decode, mono, resample, pad; batched torch STFT; mel; log),
  with `--workers` threads, exactly as the `features` stage runs it;
- librosa:   per file `librosa.load(sr=...)`, `librosa.util.fix_length`, `librosa.feature.melspectrogram`,
  `np.log(mel + log_offset)`.

After one warm-up pass each, the two paths run in turn `--repeats` times and each one's fastest pass counts: the
machine may be shared, alternating exposes both to the same load, and the minimum is the least disturbed pass.
The files are in the page cache for both. The 1-minute load average before and after is printed and kept.

- max_abs_diff_db = 10 / ln(10) * max |log-mel(extractor) - log-mel(librosa)| over every clip, frame and band:
  the largest difference of 10 * log10(mel + log_offset), in dB; store_max_abs_diff_db: the same in the
  store's dtype (float32: the same figure).
- cpu_time_ratio = the librosa loop's process CPU time / the extractor's (all threads of each, numpy's BLAS
  threads included on the librosa side).

Scenarios: default = params.yaml `features` (16 kHz files and features); lin = Lin et al. (44.1 kHz files and
features, n_fft 2048, 40 ms window, 20 ms hop, 64 mels, 500 frames); resample = 44.1 kHz files, default features
(the real DCASE audio under the default settings). The last line is one JSON object: the default scenario's
figures at top level, every scenario under "scenarios".
"""
from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import torch

from bench.common import arguments, emit, loadavg, project_params
from ifdsed.features.logmel import LogMelConfig, LogMelExtractor, extract_files
from ifdsed.features.store import STORE_DTYPE

DB_PER_NEPER = 10.0 / math.log(10.0)  # 10*log10(x) = DB_PER_NEPER * ln(x)


def write_clips(folder: Path, count: int, sample_rate: int, duration: float, seed: int = 0) -> list[Path]:
    """`count` clips of noise plus enveloped harmonic tones, 16-bit mono wav."""
    rng = np.random.default_rng(seed)
    samples = round(duration * sample_rate)
    time_axis = np.arange(samples) / sample_rate
    paths = []
    for i in range(count):
        noise = np.cumsum(rng.standard_normal(samples)) * 0.002                 # brown-ish background
        noise = noise - np.convolve(noise, np.ones(256) / 256, mode="same") + 0.01 * rng.standard_normal(samples)
        tone = np.zeros(samples)
        for _ in range(3):
            f0 = rng.uniform(100, 2000)
            onset, length = rng.uniform(0, duration - 1), rng.uniform(0.5, 4)
            envelope = ((time_axis >= onset) & (time_axis < onset + length)).astype(float)
            tone += envelope * sum(0.2 / k * np.sin(2 * np.pi * k * f0 * time_axis) for k in (1, 2, 3))
        audio = np.clip(0.5 * (noise + tone), -1, 1)
        path = folder / f"clip{i:03d}.wav"
        sf.write(path, audio.astype(np.float32), sample_rate, subtype="PCM_16")
        paths.append(path)
    return paths


def librosa_logmel(path: Path, config: LogMelConfig) -> np.ndarray:
    """The reference: a plain librosa log-mel of one file, [frames, n_mels] float32."""
    audio, _ = librosa.load(path, sr=config.sample_rate)
    audio = librosa.util.fix_length(audio, size=config.clip_samples)
    mel = librosa.feature.melspectrogram(y=audio, sr=config.sample_rate, n_fft=config.n_fft,
                                         hop_length=config.hop_length, win_length=config.win_length,
                                         window="hann", center=True, pad_mode="constant", power=2.0,
                                         n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax)
    return np.log(mel + config.log_offset).T[:config.frames]


def fastest(runs: dict, repeats: int) -> dict:
    """{name: callable} -> {name: (wall s, cpu s, result)}: one warm-up call each, then `repeats` rounds that
    call them in turn (so a busy spell on a shared machine hits both alike); the minimum of each counts.
    cpu s is the process's CPU time (all threads) during a call."""
    results = {name: run() for name, run in runs.items()}
    wall, cpu = dict.fromkeys(runs, math.inf), dict.fromkeys(runs, math.inf)
    for _ in range(repeats):
        for name, run in runs.items():
            time.sleep(0.2)  # let the other path's idle BLAS/OpenMP threads stop spinning before the clock starts
            started, started_cpu = time.perf_counter(), time.process_time()
            results[name] = run()
            wall[name] = min(wall[name], time.perf_counter() - started)
            cpu[name] = min(cpu[name], time.process_time() - started_cpu)
    return {name: (wall[name], cpu[name], results[name]) for name in runs}


def scenario(name: str, config: LogMelConfig, file_rate: int, args) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench_features_{name}_") as folder:
        paths = write_clips(Path(folder), args.clips, file_rate, config.clip_duration)
        extractor = LogMelExtractor(config)
        timed = fastest({"ours": lambda: np.concatenate(list(extract_files(paths, extractor, workers=args.workers))),
                         "librosa": lambda: np.stack([librosa_logmel(path, config) for path in paths])}, args.repeats)
    (ours_s, ours_cpu, ours), (ref_s, ref_cpu, ref) = timed["ours"], timed["librosa"]
    diff = np.abs(ours.astype(np.float64) - ref)
    stored = np.abs(ours.astype(STORE_DTYPE).astype(np.float64) - ref)
    result = {"clips": len(paths), "file_sample_rate": file_rate, "sample_rate": config.sample_rate,
              "n_fft": config.n_fft, "frames": config.frames, "n_mels": config.n_mels,
              "clips_per_s": round(len(paths) / ours_s, 1), "librosa_clips_per_s": round(len(paths) / ref_s, 1),
              "speedup": round(ref_s / ours_s, 2), "cpu_time_ratio": round(ref_cpu / ours_cpu, 2),
              "max_abs_diff_db": float(f"{DB_PER_NEPER * diff.max():.3g}"),
              "mean_abs_diff_db": float(f"{DB_PER_NEPER * diff.mean():.3g}"),
              "store_max_abs_diff_db": float(f"{DB_PER_NEPER * stored.max():.3g}")}
    print(f"{name:9s} {file_rate} Hz files -> {config.sample_rate} Hz: extractor {result['clips_per_s']} clips/s, "
          f"librosa {result['librosa_clips_per_s']} clips/s, speedup {result['speedup']}x "
          f"(CPU time ratio {result['cpu_time_ratio']}), "
          f"max |diff| {result['max_abs_diff_db']} dB (store, {np.dtype(STORE_DTYPE).name}: {result['store_max_abs_diff_db']} dB)")
    return result


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--workers", type=int, default=None, help="default: params.yaml features.workers")
    parser.add_argument("--scenarios", nargs="+", default=["default", "lin", "resample"],
                        choices=["default", "lin", "resample"])
    args = parser.parse_args()
    params = project_params()
    args.workers = args.workers or params.features.workers
    default = LogMelConfig.from_params(params.features, params.data.clip_duration)
    lin = replace(default, sample_rate=44100, n_fft=2048, window=0.04, hop=0.02, n_mels=64, fmax=22050.0)
    setups = {"default": (default, default.sample_rate), "lin": (lin, 44100), "resample": (default, 44100)}
    print(f"bench features: {args.clips} clips x {default.clip_duration} s, {args.workers} workers, "
          f"{os.cpu_count()} cpus, torch {torch.__version__}, librosa {librosa.__version__}")
    load_before = loadavg()
    results = {name: scenario(name, *setups[name], args) for name in args.scenarios}
    load_after = loadavg()
    print(f"1-minute load average {load_before:.2f} before, {load_after:.2f} after (other processes share the "
          f"{os.cpu_count()} cpus: a load above 0 lowers the two-worker figures most)")
    head = results[args.scenarios[0]]
    summary = {key: head[key] for key in ("clips_per_s", "librosa_clips_per_s", "speedup", "cpu_time_ratio",
                                          "max_abs_diff_db", "store_max_abs_diff_db")}
    emit({**summary, "scenario": args.scenarios[0], "workers": args.workers, "cpus": os.cpu_count(),
          "loadavg": [load_before, load_after], "scenarios": results})


if __name__ == "__main__":
    main()
