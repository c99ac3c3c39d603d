"""Audio reading and its checks: the one place where the project decodes audio it did not write itself.

- `inspect_audio`: check a whole file (or its start) without failing; used by the sound bank index and the
  DCASE import, which check many files at once with `inspect_files` (threads).
- `read_clip`: one training/evaluation clip, mono at the features' rate, cut or zero-padded (the features stage).
- `decode`: a whole file of any length for detection (`ifdsed predict`), with notes on suspicious
  but usable files.

`inspect_audio` decodes a file (all of it, or its first `max_seconds`) and says whether it can be used. A file is
*unusable* (`AudioCheck.problem`) when libsndfile cannot open it (an empty file, a non-audio file with an audio
extension, a broken header), when it holds no samples, when decoding stops before the length its header gives
(truncated or corrupt data), or when it holds NaN or Inf samples. It is usable but *noted* (`AudioCheck.notes`)
when it is silent (peak below `SILENCE_DBFS`; the sound bank refuses such a source, a DCASE clip is kept), when
it is clipped (runs of `CLIP_RUN` or more samples at full scale) or when it holds float samples beyond full
scale. Any sample rate and channel count is usable: the stages resample (Scaper through SoX, the features with
soxr) and mix down to mono.
"""
from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import librosa
import numpy as np
import soundfile

from ifdsed.errors import AudioError

SILENCE_DBFS = -60.0   # a file whose peak is below this is silent: no sound for a label to describe
CLIP_RUN = 3           # this many consecutive samples at full scale (in any channel) count as clipping
BLOCK_FRAMES = 1 << 16  # frames decoded at a time by `inspect_audio`
MAX_PEAK = 1e6         # samples beyond this many times full scale are not audio (their log-mel overflows)
RESAMPLE_MARGIN = 0.1  # s of audio read past a clip's end when resampling, so the resampler's tail is the file's
# Full-scale code of integer PCM formats, as soundfile's float conversion gives it (the positive maximum is one
# step below 1.0); float and lossy formats clip at 1.0.
_PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


@dataclass(frozen=True)
class AudioCheck:
    """What `inspect_audio` found in one file."""
    path: str
    sample_rate: int = 0
    channels: int = 0
    frames: int = 0              # in the file, from its header
    duration: float = 0.0        # s, of the whole file (frames / sample_rate)
    checked: float = 0.0         # s actually decoded and checked
    peak: float = 0.0            # largest |sample| decoded
    subtype: str = ""
    problem: str | None = None   # why the file cannot be used; None when it can
    notes: tuple[str, ...] = ()  # usable, but worth telling (clipping)

    @property
    def usable(self) -> bool:
        return self.problem is None

    @property
    def silent(self) -> bool:
        """Decoded, and its peak is below SILENCE_DBFS."""
        return self.problem is None and self.peak < 10 ** (SILENCE_DBFS / 20)

    def describe(self) -> str:
        """``PATH: problem`` or ``PATH: note; note`` for messages."""
        return f"{self.path}: {self.problem or '; '.join(self.notes)}"


def full_scale(subtype: str) -> float:
    """The sample value at which a file of this subtype clips, read as float."""
    bits = _PCM_BITS.get(subtype)
    return 1.0 if bits is None else 1.0 - 2.0 ** (1 - bits)


def clip_runs(samples: np.ndarray, level: float) -> int:
    """Number of positions starting a run of CLIP_RUN equal samples at or beyond `level` in magnitude (a flat
    top: what clipping leaves), in any channel. samples [n, channels]."""
    n = len(samples) - CLIP_RUN + 1
    if n < 1:
        return 0
    runs = np.abs(samples[:n]) >= level                                     # [n, channels]
    for shift in range(1, CLIP_RUN):
        runs &= samples[shift:n + shift] == samples[:n]
    return int(runs.any(axis=1).sum())


def _truncation(log: str) -> str | None:
    """What libsndfile's log of an opened file says about missing data (it reads what is there silently)."""
    found = re.search(r"^data\s*:\s*(\d+) \(should be (\d+)\)", log, re.MULTILINE)
    if found and int(found.group(2)) < int(found.group(1)) < 0xFFFFFFF0:  # not the "unknown length" placeholder
        return (f"truncated: its header announces {int(found.group(1))} bytes of audio data, the file holds "
                f"{int(found.group(2))}")
    if "lacks an end-of-stream bit" in log:
        return "truncated: its Ogg stream stops before its end"
    return None


def inspect_audio(path: str | Path, max_seconds: float | None = None) -> AudioCheck:
    """Decode `path` (its first `max_seconds` only, when given) block by block and check it; never raises for a
    bad file: the problem is in the returned `AudioCheck`."""
    path = str(path)
    try:
        handle = soundfile.SoundFile(path)
    except Exception as error:  # noqa: BLE001 - libsndfile's message says why; anything unreadable is unusable
        reason = str(error).replace(f"Error opening {path!r}: ", "").strip() or type(error).__name__
        return AudioCheck(path, problem=f"cannot be read as audio ({reason})")
    with handle:
        rate, channels, frames, subtype = handle.samplerate, handle.channels, handle.frames, handle.subtype
        base = dict(path=path, sample_rate=rate, channels=channels, frames=frames, subtype=subtype,
                    duration=frames / rate if rate > 0 else 0.0)
        truncated = _truncation(handle.extra_info)
        if truncated:
            return AudioCheck(**base, problem=truncated)
        if rate <= 0 or channels <= 0 or frames <= 0:
            return AudioCheck(**base, problem="holds no samples")
        wanted = frames if max_seconds is None else min(frames, math.ceil(max_seconds * rate))
        level = full_scale(subtype) - 1e-9
        done, peak, clipped, beyond = 0, 0.0, 0, 0
        tail = np.zeros((0, channels), dtype=np.float32)    # the last samples of the previous block
        while done < wanted:
            try:
                block = handle.read(min(BLOCK_FRAMES, wanted - done), dtype="float32", always_2d=True)
            except Exception as error:  # noqa: BLE001
                return AudioCheck(**base, checked=done / rate, peak=peak,
                                  problem=f"cannot be decoded past {done / rate:.3f} s of "
                                          f"{frames / rate:.3f} s (truncated or corrupt: {error})")
            if not len(block):
                break
            first = _first_non_finite(block)
            if first is not None:
                first += done
                return AudioCheck(**base, checked=done / rate, peak=peak,
                                  problem=f"holds NaN or Inf samples (the first at {first / rate:.3f} s)")
            magnitude = np.abs(block)
            peak = max(peak, float(magnitude.max()))
            beyond += int((magnitude > 1.0).sum())
            joined = np.concatenate([tail, block])        # runs may straddle two blocks
            clipped += clip_runs(joined, level)
            tail = joined[-(CLIP_RUN - 1):]
            done += len(block)
        base.update(checked=done / rate, peak=peak)
        if done < wanted:
            return AudioCheck(**base, problem=f"truncated: its header gives {frames / rate:.3f} s but only "
                                              f"{done / rate:.3f} s decode")
        notes = []
        if peak < 10 ** (SILENCE_DBFS / 20):
            level_db = "-inf" if peak == 0 else f"{20 * math.log10(peak):.1f}"
            notes.append(f"silent (peak {level_db} dBFS, below {SILENCE_DBFS:g} dBFS)")
        if clipped:
            notes.append(f"clipped ({clipped} runs of {CLIP_RUN}+ samples at full scale)")
        if beyond:
            notes.append(f"{beyond} samples beyond full scale (peak {peak:.3g})")
        return AudioCheck(**base, notes=tuple(notes))


def inspect_files(paths: Sequence[str | Path], workers: int = 1,
                  check: Callable[[str | Path], AudioCheck] = inspect_audio) -> list[AudioCheck]:
    """check(path) for every path, in order, in `workers` threads (libsndfile releases the GIL while it decodes;
    bench/audio_check.py measures what threads gain)."""
    if workers <= 1:
        return [check(path) for path in paths]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(check, paths))


def _first_non_finite(samples: np.ndarray) -> int | None:
    """Index of the first frame holding NaN or Inf in samples [n] or [n, channels], or None."""
    finite = np.isfinite(samples)
    if finite.all():
        return None
    return int(np.flatnonzero(~finite.reshape(len(samples), -1).all(axis=1))[0])


def _check_finite(path, samples: np.ndarray, sample_rate: int) -> None:
    """Raise AudioError naming the file and the time of the first NaN or Inf sample."""
    first = _first_non_finite(samples)
    if first is not None:
        raise AudioError(f"{path}: holds NaN or Inf samples (the first at {first / sample_rate:.3f} s)")


def _mix_down(data: np.ndarray) -> np.ndarray:
    """[n, channels] -> mono [n], the channel mean (as librosa.load mixes down)."""
    return data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)


def _resample(samples: np.ndarray, native_rate: int, sample_rate: int) -> np.ndarray:
    """soxr HQ, as librosa.load resamples."""
    return librosa.resample(samples, orig_sr=native_rate, target_sr=sample_rate, res_type="soxr_hq")


def _read_mono(audio: soundfile.SoundFile, frames: int, out: np.ndarray) -> int:
    """Read up to `frames` frames into out[:n] as mono float32 in [-1, 1); returns n.

    16-bit PCM is read as int16 and scaled by 2**-15, which is exactly what libsndfile's float conversion
    gives, at a fraction of its cost and without a float copy.
    """
    pcm16 = audio.subtype == "PCM_16"
    data = audio.read(frames, dtype="int16" if pcm16 else "float32", always_2d=True)   # [n, channels]
    mono = _mix_down(data)                                                              # [n]
    if pcm16:
        np.multiply(mono, np.float32(2.0 ** -15), out=out[:len(mono)], dtype=np.float32)
    else:
        out[:len(mono)] = mono
    return len(mono)


def read_clip(path: str | Path, sample_rate: int, samples: int, out: np.ndarray | None = None) -> np.ndarray:
    """One audio file -> mono float32 [samples] at `sample_rate`, cut or zero-padded.

    Same samples as ``librosa.fix_length(librosa.load(path, sr=sample_rate)[0], size=samples)``: mixed down by
    a channel mean, resampled with soxr HQ. Only the part of the file the clip uses is read. `out`, a float32
    [samples] array (a row of a batch), receives the samples when given. Raises AudioError for NaN or Inf.
    """
    if out is None:
        out = np.empty(samples, dtype=np.float32)
    with soundfile.SoundFile(str(path)) as audio:
        if audio.samplerate == sample_rate:
            count = _read_mono(audio, min(samples, audio.frames), out)
            _check_finite(path, out[:count], audio.samplerate)
        else:
            wanted = math.ceil((samples / sample_rate + RESAMPLE_MARGIN) * audio.samplerate)
            native = np.empty(min(wanted, audio.frames), dtype=np.float32)
            _read_mono(audio, len(native), native)
            _check_finite(path, native, audio.samplerate)
            resampled = _resample(native, audio.samplerate, sample_rate)[:samples]
            count = len(resampled)
            out[:count] = resampled
    out[count:] = 0.0
    return out


def decode(path: str | Path, sample_rate: int) -> tuple[np.ndarray, float, list[str]]:
    """A whole audio file -> (mono float32 [samples] at `sample_rate`, duration of the original file in s,
    notes on a file that is used but suspicious: no samples, silent, clipped).

    Channels are averaged; another sample rate is converted with soxr HQ (`librosa.resample`), as `read_clip`
    does for the training clips. Raises AudioError for a file with NaN or Inf samples or samples absurdly beyond
    full scale, and whatever libsndfile raises for a file it cannot read.
    """
    with soundfile.SoundFile(str(path)) as handle:
        subtype = handle.subtype
        data = handle.read(dtype="float32", always_2d=True)                      # [n, channels]
        native_rate = handle.samplerate
    first = _first_non_finite(data)
    if first is not None:
        raise AudioError(f"holds NaN or Inf samples (the first at {first / native_rate:.3f} s)")
    peak = float(np.abs(data).max()) if data.size else 0.0
    if peak > MAX_PEAK:
        raise AudioError(f"holds samples up to {peak:.3g} times full scale: not audio at any usual level")
    notes = []
    if not data.size:
        notes.append("holds no samples")
    elif peak < 10 ** (SILENCE_DBFS / 20):
        notes.append(f"is silent (peak below {SILENCE_DBFS:g} dBFS): no events are expected")
    clipped = clip_runs(data, full_scale(subtype) - 1e-9)
    if clipped:
        notes.append(f"is clipped ({clipped} runs of {CLIP_RUN}+ samples at full scale): events may be missed")
    mono = _mix_down(data)                                                        # [n]
    duration = len(mono) / native_rate
    if native_rate != sample_rate and len(mono):
        mono = _resample(mono, native_rate, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32), duration, notes
