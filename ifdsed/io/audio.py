"""Source audio for the synthesis stages, read from the sound bank manifest (data/soundbank/manifest.tsv), and
the checks every stage applies to audio it did not write itself.

The manifest lists every source file: ``partition role label path duration sample_rate``. Paths are relative
to the manifest's folder (the embedded bank) or absolute (a user's real soundbank).

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

MANIFEST = Path("data/soundbank/manifest.tsv")
MANIFEST_COLUMNS = ("partition", "role", "label", "path", "duration", "sample_rate")

SILENCE_DBFS = -60.0   # a file whose peak is below this is silent: no sound for a label to describe
CLIP_RUN = 3           # this many consecutive samples at full scale (in any channel) count as clipping
BLOCK_FRAMES = 1 << 16  # frames decoded at a time by `inspect_audio`
# Full-scale code of integer PCM formats, as soundfile's float conversion gives it (the positive maximum is one
# step below 1.0); float and lossy formats clip at 1.0.
_PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


class InputError(ValueError):
    """Something the user gave (audio, soundbank, manifest) cannot be used; the message names the file and what
    is wrong. Stage scripts print it without a traceback."""


class AudioError(InputError):
    """An audio file cannot be used; the message starts with the file's path."""


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
            finite = np.isfinite(block)
            if not finite.all():
                first = done + int(np.flatnonzero(~finite.all(axis=1))[0])
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


def load_sources(partition: str, manifest: Path = MANIFEST) -> tuple[pd.DataFrame, str, str]:
    """The foreground and background files of one partition -> (sources, fg_dir, bg_dir).

    `sources` has columns role, label, file, duration, where file is a path usable from the working
    directory; fg_dir and bg_dir are the Scaper folders (one subfolder per label) holding them.

    Raises `InputError` naming the manifest when it is missing (the soundbank stage has not run, or was
    interrupted before writing it) or malformed, and naming the files when some listed audio is gone or has
    changed length since the soundbank stage indexed it; Scaper never sees such a file.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise InputError(f"{manifest}: not found: run the soundbank stage first (`dvc repro soundbank`)")
    try:
        table = pd.read_csv(manifest, sep="\t", dtype={"label": str, "path": str}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{manifest}: not a readable manifest ({error}): rerun `dvc repro -f soundbank`") from None
    missing_columns = [name for name in MANIFEST_COLUMNS if name not in table.columns]
    if missing_columns:
        raise InputError(f"{manifest}:1: missing column(s) {missing_columns}: rerun `dvc repro -f soundbank`")
    table = table[table["partition"] == partition]
    if table.empty:
        raise InputError(f"{manifest}: no source audio in partition {partition!r}")
    root = manifest.parent
    files = [path if Path(path).is_absolute() else str(root / path) for path in table["path"]]
    _check_files(manifest, files, table["duration"].astype(float).to_numpy())
    sources = pd.DataFrame({"role": table["role"].to_numpy(), "label": table["label"].to_numpy(),
                            "file": files, "duration": table["duration"].astype(float).to_numpy()})
    folders = {}
    for role in ("foreground", "background"):
        role_files = sources.loc[sources["role"] == role, "file"]
        if role_files.empty:
            raise InputError(f"{manifest}: partition {partition!r} has no {role} audio")
        folders[role] = str(Path(role_files.iloc[0]).parent.parent)
    return sources, folders["foreground"], folders["background"]


def _check_files(manifest: Path, files: list[str], durations: np.ndarray) -> None:
    """Every listed file exists and still has the listed duration (to the millisecond): a header read each."""
    problems = []
    for file, listed in zip(files, durations):
        try:
            info = soundfile.info(file)
            actual = info.frames / info.samplerate
        except Exception as error:  # noqa: BLE001
            problems.append(f"{file}: {'missing' if not Path(file).exists() else f'unreadable ({error})'}")
            continue
        if abs(actual - listed) > 0.0015:
            problems.append(f"{file}: {actual:.3f} s long, the manifest says {listed:.3f} s")
    if problems:
        shown = "\n  ".join(problems[:10]) + (f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise InputError(f"{manifest}: {len(problems)} source file(s) changed since the soundbank stage indexed "
                         f"them; run `dvc repro -f soundbank`:\n  {shown}")
