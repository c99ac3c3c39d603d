"""Benchmark: the real-time factor of `ifdsed predict`'s whole path with the default model.

    .venv/bin/python -m bench.predict [--clips 40] [--long 2] [--long-duration 90] [--repeats 3] [--workers N]

Builds the DEFAULT model (params.yaml defaults: 64 mels, channels (32, 64, 64), 16 kHz features, 40 ms hop) with
random weights (a fixed seed; the attention weights are drawn so that events are found and post-processing has
work to do), saves it as a checkpoint with its detector settings and loads it back as `ifdsed predict` does.
Writes `--clips` 10 s 16-bit wavs at 16 kHz and `--long` long files (the first at 16 kHz, the second at
44.1 kHz stereo, so resampling and down-mixing are timed too) to a temporary folder, then times
`ifdsed.inference.files.predict_files` over all of them: decode, windows, log-mel, model, post-processing, events.
The TSV writing and the progress bar are not timed (they are negligible), nor is the checkpoint load.

After one warm-up pass, the fastest of `--repeats` passes counts (the machine may be shared; the minimum is the
least disturbed pass). realtime_factor = seconds of audio / wall seconds of that pass; cpu_realtime_factor =
seconds of audio / CPU seconds of the process in that pass (all threads), i.e. what one core does; cores_used =
CPU seconds / wall seconds (about 1 instead of 2 means another process held a core). The last line
is one JSON object. cpu_ms_per_10s_by_stage says where the time goes: each stage timed alone on one thread
(decode includes resampling and windowing; postprocess is gating, median filter and events). Then the same model,
exported by `ifdsed export`, is timed the same way in ONNX Runtime: onnx_realtime_factor and
onnx_cpu_realtime_factor (decode and post-processing are the same code; the front end and model run in ORT).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from bench.common import arguments, emit, loadavg
from ifdsed.config import parse_params
from ifdsed.devices import torch_threads
from ifdsed.features.logmel import LogMelConfig
from ifdsed.features.store import STORE_DTYPE
from ifdsed.inference.detector import Detector
from ifdsed.inference.files import predict_files, split_windows
from ifdsed.inference.onnx_detector import OnnxDetector, export_onnx
from ifdsed.inference.settings import detector_extra
from ifdsed.io.audio import decode
from ifdsed.models import checkpoint
from ifdsed.models.config import ModelConfig
from ifdsed.models.sed_model import SEDModel

TARGET = 1000.0
STORE_TORCH_DTYPE = torch.from_numpy(np.zeros(0, STORE_DTYPE)).dtype   # the feature store's precision


def write_audio(path: Path, duration: float, sample_rate: int, channels: int, rng: np.random.Generator) -> float:
    """Noise plus a few enveloped harmonic tones, 16-bit; returns the duration written."""
    samples = round(duration * sample_rate)
    t = np.arange(samples) / sample_rate
    audio = 0.02 * rng.standard_normal(samples)
    for _ in range(max(1, round(duration / 3))):
        onset, length, f0 = rng.uniform(0, duration), rng.uniform(0.3, 3.0), rng.uniform(100, 2000)
        audio += ((t >= onset) & (t < onset + length)) * 0.2 * np.sin(2 * np.pi * f0 * t)
    audio = np.repeat(audio[:, None], channels, axis=1) * np.linspace(1.0, 0.5, channels)
    sf.write(path, np.clip(audio, -1, 1).astype(np.float32), sample_rate, subtype="PCM_16")
    return samples / sample_rate


def default_checkpoint(path: Path, seed: int = 0) -> LogMelConfig:
    """Save the default model with random weights and default detector settings; returns its features."""
    params = parse_params({})
    features = LogMelConfig.from_params(params.features, params.data.clip_duration)
    torch.manual_seed(seed)
    model = SEDModel(ModelConfig(n_mels=features.n_mels, n_classes=len(params.classes),
                                 channels=params.model.channels))
    with torch.no_grad():
        model.atp.w.normal_(0.0, 0.3)        # frame logits that vary over time: events to post-process
        model.atp.d.fill_(2.0)               # clip tags on, so the frames are not all gated off
    windows = np.full(len(params.classes), 5, dtype=np.int64)
    extra = detector_extra(params.classes, params.postprocess, features, np.zeros(features.n_mels, np.float32),
                           np.ones(features.n_mels, np.float32), windows)
    checkpoint.save(path, model, extra={"detector": extra})
    return features


def timed_pass(items, detector: Detector, workers: int | None) -> tuple[float, float, int]:
    """One full prediction pass: (wall s, process CPU s, events found)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    events = sum(len(result.events) for result in predict_files(items, detector, workers=workers))
    return time.perf_counter() - started, time.process_time() - started_cpu, events


def breakdown(items, detector: Detector) -> dict:
    """Where the time goes: CPU ms per 10 s of audio of each stage, on one thread, over all the files."""
    features = detector.settings.features
    stages = dict.fromkeys(("decode", "features", "model", "postprocess"), 0.0)
    audio_seconds, windows_all, outputs = 0.0, [], []
    with torch_threads(1), torch.inference_mode():
        for path, _ in items:
            started = time.thread_time()
            signal, duration, _ = decode(path, features.sample_rate)
            windows = split_windows(signal, features.clip_samples, features.hop_length)
            stages["decode"] += time.thread_time() - started
            audio_seconds += duration
            windows_all.append((windows, duration))
        batch = detector.batch_size
        for windows, duration in windows_all:
            frames, clips = [], []
            for start in range(0, len(windows), batch):
                audio = torch.from_numpy(windows[start:start + batch])
                started = time.thread_time()
                log_mel = detector.extractor(audio).to(STORE_TORCH_DTYPE).float()   # as Detector.audio_outputs
                stages["features"] += time.thread_time() - started
                started = time.thread_time()
                frame_probs, clip_probs = detector.model_outputs(log_mel)            # normalisation and model
                stages["model"] += time.thread_time() - started
                frames.append(frame_probs)
                clips.append(clip_probs)
            outputs.append((np.concatenate(frames), np.concatenate(clips), duration))
        for start in range(0, len(outputs), batch):
            group = outputs[start:start + batch]
            started = time.thread_time()
            detector.file_events([g[0] for g in group], [g[1] for g in group], [g[2] for g in group],
                                 [f"f{i}" for i in range(len(group))])
            stages["postprocess"] += time.thread_time() - started
    return {name: round(1000 * seconds * 10 / audio_seconds, 3) for name, seconds in stages.items()}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--clips", type=int, default=40, help="10 s files at 16 kHz")
    parser.add_argument("--long", type=int, default=2, help="long files (16 kHz mono, 44.1 kHz stereo, ...)")
    parser.add_argument("--long-duration", type=float, default=90.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="default: predict_files' default")
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bench_predict_") as folder:
        root = Path(folder)
        features = default_checkpoint(root / "model.pt")
        audio_seconds, items = 0.0, []
        for i in range(args.clips):
            audio_seconds += write_audio(root / f"clip{i:03d}.wav", 10.0, 16000, 1, rng)
            items.append((root / f"clip{i:03d}.wav", f"clip{i:03d}.wav"))
        for i in range(args.long):
            rate, channels = ((16000, 1), (44100, 2))[i % 2]
            audio_seconds += write_audio(root / f"long{i}.wav", args.long_duration, rate, channels, rng)
            items.append((root / f"long{i}.wav", f"long{i}.wav"))
        loaded = time.perf_counter()
        detector = Detector.from_checkpoint(root / "model.pt")
        load_s = time.perf_counter() - loaded
        print(f"bench predict: {len(items)} files, {audio_seconds:.0f} s of audio, {features.sample_rate} Hz "
              f"features, {os.cpu_count()} cpus, device {detector.device}, torch {torch.__version__}, "
              f"checkpoint load {load_s:.2f} s")
        timed_pass(items, detector, args.workers)                                     # warm-up
        passes = [timed_pass(items, detector, args.workers) for _ in range(args.repeats)]
        stages = breakdown(items, detector)
        exported = OnnxDetector(export_onnx(root / "model.pt", root / "model.onnx"))  # the same model in ONNX Runtime
        timed_pass(items, exported, args.workers)
        onnx_passes = [timed_pass(items, exported, args.workers) for _ in range(args.repeats)]
    wall, cpu, events = min(passes)
    onnx_wall, onnx_cpu, onnx_events = min(onnx_passes)
    result = {"realtime_factor": round(audio_seconds / wall, 1), "target": TARGET,
              "cpu_realtime_factor": round(audio_seconds / cpu, 1), "files": len(items),
              "audio_seconds": round(audio_seconds, 1), "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
              "cores_used": round(cpu / wall, 2), "load_average": loadavg(), "events": events,
              "device": str(detector.device), "workers": args.workers,
              "batch_size": args.batch_size or detector.batch_size, "cpus": os.cpu_count(),
              "all_passes_s": [round(p[0], 3) for p in passes], "cpu_ms_per_10s_by_stage": stages,
              "onnx_realtime_factor": round(audio_seconds / onnx_wall, 1),
              "onnx_cpu_realtime_factor": round(audio_seconds / onnx_cpu, 1), "onnx_events": onnx_events,
              "onnx_all_passes_s": [round(p[0], 3) for p in onnx_passes]}
    print(f"{audio_seconds:.0f} s of audio in {wall:.2f} s: real-time factor {result['realtime_factor']:.0f} "
          f"(target {TARGET:.0f}), {result['cpu_realtime_factor']:.0f} per CPU second, {events} events")
    print("CPU ms per 10 s of audio, one thread: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    print(f"the same model exported by ifdsed export, in ONNX Runtime: real-time factor "
          f"{result['onnx_realtime_factor']:.0f}, {result['onnx_cpu_realtime_factor']:.0f} per CPU second, "
          f"{onnx_events} events")
    emit(result)


if __name__ == "__main__":
    main()
