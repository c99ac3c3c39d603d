"""Import of real DCASE 2018 task 4 data (DESED ``data/real`` layout) into the project's clip-set layout.

Readers
    `read_weak_tsv` and `read_strong_tsv` read DCASE/DESED metadata tables and are tolerant of what real files
    hold: tab- or comma-separated files, rows with an empty ``event_label`` (a clip with no event: the clip is
    kept, no event row is made), offsets past the clip end (clipped to ``clip_duration``), comma-separated weak
    labels with stray spaces, and duplicate identical rows (dropped with a warning). Events are returned as
    given: overlapping events of the same class are NOT merged here (``ifdsed.dcase.stats`` merges them for its
    statistics).

    `read_unlabelled_tsv` reads DESED's unlabelled in-domain list (``filename`` only; identical repeats dropped).

    Anything else wrong raises `MetadataError` (a ``ValueError``) whose message starts with ``FILE:LINE:``
    (1-based, the header is line 1) and says what is wrong: an unknown label (with the valid classes), missing
    columns (expected and found), a non-numeric or negative time, onset > offset, or a filename that escapes
    the audio folder (absolute, or with a ``..`` part).

Import
    `import_set` checks which listed clips have readable audio, writes ``clips.tsv`` (absolute paths to the
    user's audio, which is not copied), ``tags.tsv`` and, for strong sets, ``events.tsv`` (see ifdsed/io/tables.py)
    for the clips whose audio is present, and a JSON report. `import_dcase2018` does this for the weak,
    validation and test sets named in params.yaml ``real``, and for the unlabelled in-domain set (clips.tsv
    only: no label table exists for it) when ``real.unlabelled_tsv`` names one.

    A clip counts as *missing* when its file does not exist and as *unreadable* when it exists but cannot be
    used: every file is decoded (its first ``clip_duration`` + 1 s, what the features use) and checked by
    `ifdsed.io.audio.inspect_audio`: unreadable (empty, not audio, broken header), no samples, truncated or
    corrupt data, or NaN or Inf samples. Both are left out of the set and listed separately in the report
    (``unreadable_reasons`` says why for each file); ``missing_fraction`` is the fraction of listed clips left
    out for either reason, and the import fails (`MissingAudioError`) when it exceeds
    ``real.max_missing_fraction``. The report is written before that error is raised, and no table is written
    for a failing set. Usable files that are silent, clipped, much shorter than a clip (padded with silence) or
    longer than one (cut) are kept, as the published sets hold them, and listed under ``notes``; any sample
    rate and channel count is kept (the features resample and mix down).
"""
from __future__ import annotations

import csv
import difflib
import math
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath, PureWindowsPath

import pandas as pd

from ifdsed import paths
from ifdsed.errors import IfdsedError, InputError
from ifdsed.io.atomic import write_json
from ifdsed.io.audio import inspect_audio, inspect_files
from ifdsed.io.tables import (
    EVENT_COLUMNS,
    TAG_COLUMNS,
    join_tags,
    split_tags,
    tags_from_events,
    write_clips,
    write_events,
    write_tags,
)

WEAK_COLUMNS = ["filename", "event_labels"]
STRONG_COLUMNS = ["filename", "onset", "offset", "event_label"]
UNLABELLED_COLUMNS = ["filename"]
REPORT_NAME = paths.IMPORT_REPORT.name   # written in the real-world folder


class MetadataError(InputError):
    """A metadata table is unreadable or holds something wrong; the message names the file and the line."""


class MissingAudioError(IfdsedError, RuntimeError):
    """More of a set's audio is missing than ``real.max_missing_fraction`` allows."""


class MetadataWarning(UserWarning):
    """Something in a metadata table was fixed up (a duplicate row dropped, an event outside the clip)."""


# --------------------------------------------------------------------------------------------------------------
# Reading tables
# --------------------------------------------------------------------------------------------------------------

def _fail(path: Path, line: int, message: str) -> MetadataError:
    return MetadataError(f"{path}:{line}: {message}")


def _sniff_delimiter(header: str) -> str:
    """Tab when the header has one, else comma (a comma-separated file quotes its multi-label cells)."""
    return "\t" if "\t" in header or "," not in header else ","


def _read_rows(path: Path, expected: list[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a tab- or comma-separated table as (line number, {column: stripped text}), blank lines skipped.

    Missing trailing cells read as empty; columns other than `expected` are ignored.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MetadataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MetadataError(f"{path}: cannot read: {error}") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise _fail(path, 1, f"empty file or empty header; expected the columns {expected}")
    delimiter = _sniff_delimiter(lines[0])
    reader = csv.reader(lines, delimiter=delimiter)
    header = [name.strip() for name in next(reader)]
    missing = [name for name in expected if name not in header]
    if missing:
        odd = [sep for sep in (";", "|", " ") if len(header) == 1 and sep in header[0]]
        hint = (f" (the file looks separated by {odd[0]!r}; it must be tab- or comma-separated)" if odd else "")
        raise _fail(path, 1, f"missing column(s) {missing}: expected {expected}, found {header}{hint}")
    position = {name: header.index(name) for name in expected}
    rows = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        cells = _fit_cells(path, reader.line_num, [cell.strip() for cell in cells], header, delimiter)
        rows.append((reader.line_num, {name: cells[index] for name, index in position.items()}))
    return rows


def _fit_cells(path: Path, line: int, cells: list[str], header: list[str], delimiter: str) -> list[str]:
    """Pad a short row with empty cells; a long row is an error unless its surplus is empty.

    In a comma-separated weak file, unquoted labels spill into extra cells: they are joined back onto the
    last column when that column is ``event_labels``.
    """
    surplus = cells[len(header):]
    if surplus and delimiter == "," and header[-1] == "event_labels":
        return cells[:len(header) - 1] + [",".join(cells[len(header) - 1:])]
    if any(surplus):
        raise _fail(path, line, f"{len(cells)} fields but the header has {len(header)} ({header})")
    return cells[:len(header)] + [""] * (len(header) - len(cells))


def _check_filename(path: Path, line: int, filename: str) -> str:
    """A clip's filename must be a relative path that stays inside the audio folder."""
    if not filename:
        raise _fail(path, line, "empty filename")
    posix, windows = PurePosixPath(filename), PureWindowsPath(filename)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or filename.startswith(("/", "\\")):
        raise _fail(path, line, f"filename {filename!r} is an absolute path; it must be relative to the audio folder")
    if ".." in posix.parts or ".." in windows.parts:
        raise _fail(path, line, f"filename {filename!r} contains '..' and would escape the audio folder")
    return filename


def _check_label(path: Path, line: int, label: str, classes) -> str:
    if label not in classes:
        close = difflib.get_close_matches(label, list(classes), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _fail(path, line, f"unknown label {label!r}{hint}; valid classes: {', '.join(classes)}")
    return label


def _parse_time(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fail(path, line, f"{column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise _fail(path, line, f"{column} {text!r} is not a finite number")
    if value < 0:
        raise _fail(path, line, f"negative {column} {value}")
    return value


def _drop_duplicates(path: Path, rows: list[tuple[int, tuple]]) -> list[tuple[int, tuple]]:
    """Drop exact repeats of an earlier row, with one warning that lists their lines."""
    seen, kept, dropped = set(), [], []
    for line, key in rows:
        if key in seen:
            dropped.append(line)
            continue
        seen.add(key)
        kept.append((line, key))
    if dropped:
        warnings.warn(f"{path}: dropped {len(dropped)} duplicate row(s) at line(s) {dropped}", MetadataWarning,
                      stacklevel=3)
    return kept


def read_weak_tsv(path: str | Path, classes) -> pd.DataFrame:
    """Weak labels ``filename  event_labels`` as a DataFrame[filename, event_labels], one row per clip.

    ``event_labels`` is normalised to the sorted, comma-separated form of ifdsed.io.tables (empty for a clip with
    no event). A clip listed twice with different labels is an error; identical repeats are dropped.
    """
    path = Path(path)
    parsed = []
    for line, row in _read_rows(path, WEAK_COLUMNS):
        filename = _check_filename(path, line, row["filename"])
        labels = [_check_label(path, line, label, classes) for label in split_tags(row["event_labels"])]
        parsed.append((line, (filename, join_tags(labels))))
    first_line: dict[str, tuple[int, str]] = {}
    for line, (filename, labels) in _drop_duplicates(path, parsed):
        if filename in first_line:
            earlier, earlier_labels = first_line[filename]
            raise _fail(path, line, f"clip {filename!r} is listed again with labels {labels!r} "
                                    f"(line {earlier} gives {earlier_labels!r})")
        first_line[filename] = (line, labels)
    table = pd.DataFrame([(name, labels) for name, (_, labels) in first_line.items()], columns=TAG_COLUMNS)
    return table.sort_values("filename", kind="mergesort").reset_index(drop=True)


def read_strong_tsv(path: str | Path, classes, clip_duration: float = 10.0) -> tuple[pd.DataFrame, list[str]]:
    """Strong labels ``filename onset offset event_label``.

    Returns ``(events, filenames)``: events as DataFrame[filename, onset, offset, event_label] sorted like
    ifdsed.io.tables writes them, and the sorted list of every listed clip, including clips with no event (rows
    with an empty event_label, whose times may be empty). Offsets past ``clip_duration`` are clipped to it; an
    event that starts at or after the clip end is dropped with a warning.
    """
    path = Path(path)
    filenames, parsed, outside = set(), [], []
    for line, row in _read_rows(path, STRONG_COLUMNS):
        filename = _check_filename(path, line, row["filename"])
        filenames.add(filename)
        if not row["event_label"]:
            continue   # a clip with no event
        label = _check_label(path, line, row["event_label"], classes)
        onset = _parse_time(path, line, "onset", row["onset"])
        offset = _parse_time(path, line, "offset", row["offset"])
        if onset > offset:
            raise _fail(path, line, f"onset {onset} is after offset {offset}")
        if onset >= clip_duration:
            outside.append(line)
            continue
        parsed.append((line, (filename, onset, min(offset, clip_duration), label)))
    if outside:
        warnings.warn(f"{path}: dropped {len(outside)} event(s) starting at or after the clip end "
                      f"({clip_duration} s) at line(s) {outside}", MetadataWarning, stacklevel=2)
    rows = [key for _, key in _drop_duplicates(path, parsed)]
    events = pd.DataFrame(rows, columns=EVENT_COLUMNS).astype({"onset": float, "offset": float})
    events = events.sort_values(EVENT_COLUMNS, kind="mergesort").reset_index(drop=True)
    return events, sorted(filenames)


def read_unlabelled_tsv(path: str | Path) -> list[str]:
    """The sorted filenames of an unlabelled list (DESED's ``metadata/train/unlabel_in_domain.tsv``: a
    ``filename`` column; other columns are ignored). Identical repeats are dropped with a warning."""
    path = Path(path)
    rows = [(line, (_check_filename(path, line, row["filename"]),))
            for line, row in _read_rows(path, UNLABELLED_COLUMNS)]
    return sorted(key[0] for _, key in _drop_duplicates(path, rows))


# --------------------------------------------------------------------------------------------------------------
# Importing sets
# --------------------------------------------------------------------------------------------------------------

@dataclass
class ScannedSet:
    """A set's labels and the audio found for it, before anything is written."""
    report: dict
    clips: pd.DataFrame            # the clips whose audio is present: filename, path, duration
    tags: pd.DataFrame | None      # filename, event_labels, for those clips; None for an unlabelled set
    events: pd.DataFrame | None = field(default=None)   # strong sets only


SHORT_CLIP = 1.0   # s: a usable clip shorter than this is kept, with a note (it is padded with silence)


def probe_audio(audio_dir: Path, filenames, clip_duration: float | None = None, workers: int = 1
                ) -> tuple[list[dict], list[str], dict[str, str], dict[str, str]]:
    """Look for each clip's audio under audio_dir and check it (`ifdsed.io.audio.inspect_audio`, in `workers`
    threads; with `clip_duration`, only the first clip_duration + 1 s of each file is decoded).

    Returns (present rows {filename, path, duration}, missing filenames, {unreadable filename: reason},
    {kept filename: note}), in the order of `filenames` whatever the number of threads.
    """
    present, missing, unreadable, notes = [], [], {}, {}
    audio = {filename: Path(audio_dir) / filename for filename in filenames}
    found = [filename for filename in filenames if audio[filename].exists()]
    max_seconds = None if clip_duration is None else clip_duration + 1.0
    checks = dict(zip(found, inspect_files([audio[filename] for filename in found], workers,
                                           partial(inspect_audio, max_seconds=max_seconds))))
    for filename in filenames:
        if filename not in checks:
            missing.append(filename)
            continue
        check = checks[filename]
        if not check.usable:
            unreadable[filename] = check.problem
            continue
        kept_notes = list(check.notes)
        if clip_duration is not None and check.duration > clip_duration + 0.5:
            kept_notes.append(f"{check.duration:.3f} s long: only the first {clip_duration:g} s are used")
        if check.duration < min(SHORT_CLIP, clip_duration or SHORT_CLIP):
            kept_notes.append(f"only {check.duration:.3f} s long: padded with silence")
        if kept_notes:
            notes[filename] = "; ".join(kept_notes)
        present.append({"filename": filename, "path": str(audio[filename].resolve()), "duration": check.duration})
    return present, missing, unreadable, notes


def read_set_labels(tsv_path: str | Path, classes, strong: bool, clip_duration: float = 10.0,
                    labelled: bool = True) -> tuple[pd.DataFrame | None, pd.DataFrame | None, list[str]]:
    """A set's (tags, events or None for a weak set, every listed filename); (None, None, filenames) for an
    unlabelled set (`labelled` False)."""
    if not labelled:
        return None, None, read_unlabelled_tsv(tsv_path)
    if strong:
        events, filenames = read_strong_tsv(tsv_path, classes, clip_duration)
        return tags_from_events(events, filenames), events, filenames
    tags = read_weak_tsv(tsv_path, classes)
    return tags, None, tags["filename"].tolist()


def scan_set(name: str, tsv_path: str | Path, audio_dir: str | Path, classes, strong: bool,
             clip_duration: float = 10.0, labels: tuple | None = None, labelled: bool = True,
             workers: int = 1) -> ScannedSet:
    """Read a set's labels (unless `labels`, from `read_set_labels`, are given), look for its audio and check
    it (in `workers` threads), and build its report and tables (nothing is written). `labelled` False: a list of
    clips only."""
    tsv_path, audio_dir = Path(tsv_path), Path(audio_dir)
    tags, events, filenames = labels or read_set_labels(tsv_path, classes, strong, clip_duration, labelled)
    present, missing, unreadable, notes = probe_audio(audio_dir, filenames, clip_duration, workers)
    clips = pd.DataFrame(present, columns=["filename", "path", "duration"])
    kept = set(clips["filename"])
    if tags is not None:
        tags = tags[tags["filename"].isin(kept)].reset_index(drop=True)
    if events is not None:
        events = events[events["filename"].isin(kept)].reset_index(drop=True)
    n_listed = len(filenames)
    report = {
        "name": name,
        "tsv": str(tsv_path.resolve()),
        "audio_dir": str(audio_dir.resolve()),
        "audio_dir_exists": audio_dir.is_dir(),
        "strong": strong,
        "labelled": tags is not None,
        "n_listed": n_listed,
        "n_present": len(clips),
        "n_missing": len(missing),
        "n_unreadable": len(unreadable),
        "missing_fraction": round((n_listed - len(clips)) / n_listed, 6) if n_listed else 0.0,
        "n_empty_clips": None if tags is None else int((tags["event_labels"] == "").sum()),
        "n_events": None if events is None else len(events),
        "missing": sorted(missing),
        "unreadable": sorted(unreadable),
        "unreadable_reasons": dict(sorted(unreadable.items())),
        "notes": dict(sorted(notes.items())),
    }
    return ScannedSet(report=report, clips=clips, tags=tags, events=events)


def write_set(scanned: ScannedSet, out_dir: str | Path) -> None:
    """Write clips.tsv, tags.tsv (not for an unlabelled set) and (strong sets) events.tsv; a stale events.tsv
    is removed from a weak set, stale label tables from an unlabelled one.

    clips.tsv is removed first and written last: a set whose writing was interrupted has none, so it is never
    taken as complete (the features stage requires it)."""
    out_dir = Path(out_dir)
    (out_dir / "clips.tsv").unlink(missing_ok=True)
    if scanned.events is not None:
        write_events(scanned.events, out_dir / "events.tsv")
    else:
        (out_dir / "events.tsv").unlink(missing_ok=True)
    if scanned.tags is not None:
        write_tags(scanned.tags, out_dir / "tags.tsv")
    else:
        (out_dir / "tags.tsv").unlink(missing_ok=True)
    write_clips(scanned.clips, out_dir / "clips.tsv")


def write_report(report: dict, path: str | Path) -> Path:
    """Write a JSON report atomically."""
    return write_json(path, report)


def missing_audio_problem(report: dict, max_missing_fraction: float, report_path: Path) -> str | None:
    """The error message for a set whose missing fraction is above the limit, or None when it is within it."""
    if report["missing_fraction"] <= max_missing_fraction:
        return None
    hint = "" if report["audio_dir_exists"] else f" (the audio folder {report['audio_dir']} does not exist)"
    return (f"set {report['name']!r}: {report['n_listed'] - report['n_present']} of {report['n_listed']} clips "
            f"have no usable audio ({report['n_missing']} missing, {report['n_unreadable']} unreadable), "
            f"a fraction of {report['missing_fraction']:.3f} above real.max_missing_fraction = "
            f"{max_missing_fraction}{hint}; the lists are in {report_path}")


def import_set(name: str, tsv_path: str | Path, audio_dir: str | Path, classes, out_dir: str | Path,
               strong: bool, max_missing_fraction: float, clip_duration: float = 10.0,
               labels: tuple | None = None, workers: int = 1) -> dict:
    """Import one set into out_dir (clips.tsv, tags.tsv, events.tsv for strong sets) and return its report.

    The report is written to ``out_dir/import_report.json`` first; then, if the fraction of clips without
    usable audio exceeds max_missing_fraction, `MissingAudioError` is raised and no table is written.
    labels: the set's labels already read by `read_set_labels` (read here otherwise); workers: threads that
    check the audio.
    """
    out_dir = Path(out_dir)
    scanned = scan_set(name, tsv_path, audio_dir, classes, strong, clip_duration, labels, workers=workers)
    report_path = write_report(scanned.report, out_dir / REPORT_NAME)
    problem = missing_audio_problem(scanned.report, max_missing_fraction, report_path)
    if problem:
        raise MissingAudioError(problem)
    write_set(scanned, out_dir)
    return scanned.report


@dataclass(frozen=True)
class SetSource:
    """Where one DCASE set's list and audio are, and what labels its list holds."""
    tsv: Path
    audio: Path
    strong: bool
    labelled: bool = True


def dcase2018_sources(real_params) -> dict[str, SetSource]:
    """{set name: SetSource} from params.yaml ``real``: weak, validation, test, and unlabelled when
    ``real.unlabelled_tsv`` is set."""
    if not real_params.dcase2018:
        raise MetadataError("params.yaml: real.dcase2018 is empty; set it to the DESED real-data root")
    root = Path(real_params.dcase2018)
    if not root.is_dir():
        raise MetadataError(f"params.yaml: real.dcase2018: {root} is not a folder (the DESED real-data root, "
                            f"holding {real_params.weak_tsv} and the audio)")
    sources = {
        "weak": SetSource(root / real_params.weak_tsv, root / real_params.weak_audio, False),
        "validation": SetSource(root / real_params.validation_tsv, root / real_params.validation_audio, True),
        "test": SetSource(root / real_params.test_tsv, root / real_params.test_audio, True),
    }
    if real_params.unlabelled_tsv:
        sources["unlabelled"] = SetSource(root / real_params.unlabelled_tsv, root / real_params.unlabelled_audio,
                                          False, labelled=False)
    return sources


def scan_dcase2018(real_params, classes, clip_duration: float = 10.0, workers: int = 1) -> dict[str, ScannedSet]:
    """Read and check the weak, validation and test sets (and the unlabelled one) named in params.yaml ``real``,
    their audio in `workers` threads; nothing is written.

    Raises `MetadataError` (file and line) for a bad table, before any audio is decoded."""
    sources = dcase2018_sources(real_params)
    labels = {name: read_set_labels(source.tsv, classes, source.strong, clip_duration,   # every table first: a
                                    source.labelled)                                    # bad row fails before
              for name, source in sources.items()}                                      # any audio is read
    return {name: scan_set(name, source.tsv, source.audio, classes, source.strong, clip_duration, labels[name],
                           source.labelled, workers)
            for name, source in sources.items()}


def write_dcase2018(scanned: dict[str, ScannedSet], max_missing_fraction: float, out_root: str | Path) -> dict:
    """Write ``out_root/import_report.json``, then, unless a set misses too much audio (`MissingAudioError`
    naming every failing set, no table written), each set's tables. Returns the report."""
    out_root = Path(out_root)
    report = {name: item.report for name, item in scanned.items()}
    report_path = write_report(report, out_root / REPORT_NAME)
    problems = [missing_audio_problem(item, max_missing_fraction, report_path) for item in report.values()]
    problems = [problem for problem in problems if problem]
    if problems:
        raise MissingAudioError("\n".join(problems))
    for name, item in scanned.items():
        write_set(item, out_root / name)
    return report


def import_dcase2018(real_params, classes, out_root: str | Path, clip_duration: float = 10.0,
                     workers: int = 1) -> dict:
    """Import the DCASE 2018 task 4 weak, validation (288 clips) and test (880 clips) sets, and the unlabelled
    in-domain set (14,412 clips) when ``real.unlabelled_tsv`` names its list.

    Writes ``out_root/{weak,validation,test,unlabelled}`` (weak: clips.tsv and tags.tsv only; unlabelled:
    clips.tsv only) and
    ``out_root/import_report.json`` ({set name: report}). Every set is scanned and the report written before
    any check: if a set has too much missing audio, `MissingAudioError` names every failing set and no table
    is written.
    """
    return write_dcase2018(scan_dcase2018(real_params, classes, clip_duration, workers),
                           real_params.max_missing_fraction, out_root)
