"""Readers and import of real DCASE 2018 task 4 metadata (ifdsed.dcase.metadata).

Real tables are read in place from ../shared/fixtures/dcase_metadata (skipped when absent); bad tables and the
fake DESED layout are built in tmp_path. Bad metadata and bad audio: docs/reliability.md.
"""
from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from ifdsed.config import RealParams
from ifdsed.dcase.metadata import (
    MetadataError,
    MetadataWarning,
    MissingAudioError,
    import_dcase2018,
    import_set,
    read_strong_tsv,
    read_unlabelled_tsv,
    read_weak_tsv,
)
from ifdsed.io.tables import read_clips, read_events, read_tags
from tests.helpers import CLASSES, strong_table, tone, wav


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def silent_wav(path: Path, seconds: float = 0.5, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.zeros(int(seconds * rate), dtype=np.float32), rate)
    return path


# ------------------------------------------------------------------------------------------ real fixture tables

def test_weak_fixture(metadata):
    weak = read_weak_tsv(metadata / "weak.tsv", CLASSES)
    assert len(weak) == 1578
    assert weak["filename"].is_unique
    labels = {label for text in weak["event_labels"] for label in text.split(",")}
    assert labels == set(CLASSES)
    row = weak.set_index("filename").loc["YKK227gPpRn4_30.000_40.000.wav"]
    assert row["event_labels"] == "Alarm_bell_ringing,Speech"


@pytest.mark.parametrize("name, n_clips, n_empty", [("test_dcase2018.tsv", 288, 0), ("eval_dcase2018.tsv", 880, 15)])
def test_strong_fixtures(metadata, name, n_clips, n_empty):
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # the real files need no fix-up beyond clipping
        events, filenames = read_strong_tsv(metadata / name, CLASSES)
    assert len(filenames) == n_clips == len(set(filenames))
    assert len(set(filenames) - set(events["filename"])) == n_empty   # empty-label clips are kept
    assert set(events["event_label"]) <= set(CLASSES)
    assert (events["onset"] <= events["offset"]).all()
    assert events["offset"].max() == 10.0                            # offsets past 10 s are clipped


def test_empty_clip_and_clipped_offset_in_eval(metadata):
    events, filenames = read_strong_tsv(metadata / "eval_dcase2018.tsv", CLASSES)
    assert "YU0Cg_t_3TdI_30.000_40.000.wav" in filenames
    assert "YU0Cg_t_3TdI_30.000_40.000.wav" not in set(events["filename"])
    clipped = events[(events["filename"] == "YDPNmUOnE83o_10.000_20.000.wav") & (events["onset"] == 9.75)]
    assert clipped["offset"].tolist() == [10.0]


# ------------------------------------------------------------------------------------------ tolerant reading

def test_tolerant_strong_reader(tmp_path):
    path = write(tmp_path / "s.tsv",
                 "filename\tonset\toffset\tevent_label\n"
                 "a.wav\t0.5\t1.5\tDog\n"
                 "a.wav\t0.5\t1.5\tDog\n"          # duplicate: dropped with a warning
                 "b.wav\t\t\t\n"                   # no event
                 "\n"
                 "c.wav\t9.5\t10.2\tSpeech\t\n"    # offset past the end, trailing empty cell
                 "c.wav\t10.0\t10.3\tCat\n")       # starts at the end: dropped with a warning
    with pytest.warns(MetadataWarning) as record:
        events, filenames = read_strong_tsv(path, CLASSES, clip_duration=10.0)
    messages = " ".join(str(item.message) for item in record)
    assert "duplicate" in messages and "[3]" in messages and "[7]" in messages
    assert filenames == ["a.wav", "b.wav", "c.wav"]
    assert events.values.tolist() == [["a.wav", 0.5, 1.5, "Dog"], ["c.wav", 9.5, 10.0, "Speech"]]


def test_comma_separated_strong_reader(tmp_path):
    path = write(tmp_path / "s.csv", "\ufefffilename,onset,offset,event_label\r\na.wav,0,1,Cat\r\nb.wav,,,\r\n")
    events, filenames = read_strong_tsv(path, CLASSES)
    assert filenames == ["a.wav", "b.wav"]
    assert events.values.tolist() == [["a.wav", 0.0, 1.0, "Cat"]]


def test_tolerant_weak_reader(tmp_path):
    tsv = write(tmp_path / "w.tsv", "filename\tevent_labels\nb.wav\t Speech , Dog \na.wav\tCat\nc.wav\t\n")
    weak = read_weak_tsv(tsv, CLASSES)
    assert weak.values.tolist() == [["a.wav", "Cat"], ["b.wav", "Dog,Speech"], ["c.wav", ""]]
    csv = write(tmp_path / "w.csv", 'filename,event_labels\na.wav,"Speech,Cat"\nb.wav,Dog, Frying\n')
    assert read_weak_tsv(csv, CLASSES).values.tolist() == [["a.wav", "Cat,Speech"], ["b.wav", "Dog,Frying"]]


# ------------------------------------------------------------------------------------------ errors name file and line

STRONG_HEADER = "filename\tonset\toffset\tevent_label\n"
BAD_STRONG = {
    "unknown label": (STRONG_HEADER + "a.wav\t0\t1\tDog\nb.wav\t0\t1\tdog\n", 3,
                      ["unknown label 'dog'", "Dog", "valid classes", "Vacuum_cleaner"]),
    "onset > offset": (STRONG_HEADER + "a.wav\t2\t1\tDog\n", 2, ["onset 2.0 is after offset 1.0"]),
    "negative": (STRONG_HEADER + "a.wav\t0\t1\tDog\na.wav\t-0.5\t1\tCat\n", 3, ["negative onset"]),
    "non-numeric": (STRONG_HEADER + "a.wav\t0\tten\tDog\n", 2, ["offset 'ten' is not a number"]),
    "nan": (STRONG_HEADER + "a.wav\tnan\t1\tDog\n", 2, ["not a finite number"]),
    "missing column": ("filename\tonset\tlabel\na.wav\t0\tDog\n", 1,
                       ["missing column", "offset", "event_label", "expected", "found"]),
    "absolute": (STRONG_HEADER + "/etc/a.wav\t0\t1\tDog\n", 2, ["absolute path"]),
    "dotdot": (STRONG_HEADER + "x/../../a.wav\t0\t1\tDog\n", 2, ["'..'", "escape"]),
}


def check_error_names_file_and_line(tmp_path, read, text: str, line: int, phrases: list[str]) -> None:
    """`read` of a table holding `text` raises a MetadataError that starts with PATH:LINE and holds `phrases`."""
    path = write(tmp_path / "bad.tsv", text)
    with pytest.raises(MetadataError) as error:
        read(path, CLASSES)
    message = str(error.value)
    assert message.startswith(f"{path}:{line}: ")
    for phrase in phrases:
        assert phrase in message


@pytest.mark.parametrize("case", sorted(BAD_STRONG))
def test_strong_errors_name_file_and_line(tmp_path, case):
    check_error_names_file_and_line(tmp_path, read_strong_tsv, *BAD_STRONG[case])


BAD_WEAK = {
    "unknown label": ("filename\tevent_labels\na.wav\tDog,Blendr\n", 2,
                      ["unknown label 'Blendr'", "did you mean 'Blender'", "valid classes"]),
    "missing column": ("filename\tlabels\na.wav\tDog\n", 1, ["missing column", "event_labels"]),
    "conflict": ("filename\tevent_labels\na.wav\tDog\nb.wav\tCat\na.wav\tCat\n", 4, ["'a.wav'", "line 2"]),
    "dotdot": ("filename\tevent_labels\n../a.wav\tDog\n", 2, ["'..'"]),
    "windows absolute": ("filename\tevent_labels\nC:\\audio\\a.wav\tDog\n", 2, ["absolute path"]),
}


@pytest.mark.parametrize("case", sorted(BAD_WEAK))
def test_weak_errors_name_file_and_line(tmp_path, case):
    check_error_names_file_and_line(tmp_path, read_weak_tsv, *BAD_WEAK[case])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(MetadataError, match="nothing.tsv: file not found"):
        read_weak_tsv(tmp_path / "nothing.tsv", CLASSES)


# The metadata cases of docs/reliability.md, each with the whole phrase its message holds.
BAD_METADATA = {   # case: (reader, table text, line, phrases)
    "missing columns": ("strong", "filename\tonset\tlabel\na.wav\t0\tDog\n", 1,
                        ["missing column(s) ['offset', 'event_label']", "found ['filename', 'onset', 'label']"]),
    "unknown label": ("strong", STRONG_HEADER + "a.wav\t0\t1\tDog\nb.wav\t0\t1\tDgo\n", 3,
                      ["unknown label 'Dgo'", "did you mean 'Dog'?", "valid classes: Alarm_bell_ringing"]),
    "unknown weak label": ("weak", "filename\tevent_labels\na.wav\tDog,Speach\n", 2, ["unknown label 'Speach'"]),
    "onset after offset": ("strong", STRONG_HEADER + "a.wav\t3.5\t1.0\tDog\n", 2, ["onset 3.5 is after offset 1.0"]),
    "negative onset": ("strong", STRONG_HEADER + "a.wav\t-0.5\t1\tDog\n", 2, ["negative onset -0.5"]),
    "negative offset": ("strong", STRONG_HEADER + "a.wav\t0\t-1\tDog\n", 2, ["negative offset -1.0"]),
    "not a number": ("strong", STRONG_HEADER + "a.wav\t0\t1,5\tDog\n", 2, ["offset '1,5' is not a number"]),
    "conflicting duplicate": ("weak", "filename\tevent_labels\na.wav\tDog\na.wav\tCat\n", 3,
                              ["clip 'a.wav' is listed again with labels 'Cat' (line 2 gives 'Dog')"]),
    "semicolons": ("strong", "filename;onset;offset;event_label\na.wav;0;1;Dog\n", 1,
                   ["missing column(s)", "looks separated by ';'", "tab- or comma-separated"]),
    "escapes the audio folder": ("strong", STRONG_HEADER + "a.wav\t0\t1\tDog\n../../x.wav\t0\t1\tDog\n", 3,
                                 ["filename '../../x.wav' contains '..' and would escape the audio folder"]),
    "absolute filename": ("weak", "filename\tevent_labels\n/etc/passwd\tDog\n", 2, ["is an absolute path"]),
    "too many fields": ("strong", STRONG_HEADER + "a.wav\t0\t1\tDog\tCat\n", 2, ["5 fields but the header has 4"]),
    "empty file": ("weak", "", 1, ["empty file or empty header"]),
}


@pytest.mark.parametrize("case", sorted(BAD_METADATA))
def test_bad_metadata_names_file_line_and_problem(tmp_path, case):
    reader, text, line, phrases = BAD_METADATA[case]
    path = tmp_path / "meta.tsv"
    path.write_text(text)
    with pytest.raises(MetadataError) as error:
        read_strong_tsv(path, CLASSES) if reader == "strong" else read_weak_tsv(path, CLASSES)
    assert str(error.value).startswith(f"{path}:{line}: "), str(error.value)
    for phrase in phrases:
        assert phrase in str(error.value), str(error.value)


def test_duplicate_rows_are_dropped_with_a_warning_naming_their_lines(tmp_path):
    path = tmp_path / "meta.tsv"
    path.write_text(STRONG_HEADER + "a.wav\t0\t1\tDog\nb.wav\t0\t1\tCat\na.wav\t0\t1\tDog\na.wav\t0\t1\tDog\n")
    with pytest.warns(MetadataWarning, match=rf"{path}: dropped 2 duplicate row\(s\) at line\(s\) \[4, 5\]"):
        events, _ = read_strong_tsv(path, CLASSES)
    assert len(events) == 2


# ------------------------------------------------------------------------------------------ import

WEAK_PRESENT = ["YKK227gPpRn4_30.000_40.000.wav", "Y-6p32k2WUCs_0.000_10.000.wav", "Y-Zjgm_sZd10_0.000_4.000.wav"]
EVAL_PRESENT = ["YU0Cg_t_3TdI_30.000_40.000.wav",        # no event
                "YDPNmUOnE83o_10.000_20.000.wav",        # an offset clipped to 10 s
                "Y9OqtuFGCCR8_30.000_40.000.wav"]
VALIDATION_PRESENT = ["Y00pbt6aJV8Y_350.000_360.000.wav", "Y02sD1KJeoGA_50.000_60.000.wav"]


@pytest.fixture
def desed(metadata, tmp_path) -> Path:
    """A fake DESED data/real tree: the real metadata (copied into tmp_path) and a few silent wav files."""
    root = tmp_path / "desed"
    (root / "metadata" / "train").mkdir(parents=True)
    (root / "metadata" / "validation").mkdir(parents=True)
    shutil.copy(metadata / "weak.tsv", root / "metadata" / "train" / "weak.tsv")
    for name in ("test_dcase2018.tsv", "eval_dcase2018.tsv"):
        shutil.copy(metadata / name, root / "metadata" / "validation" / name)
    for name in WEAK_PRESENT:
        silent_wav(root / "audio" / "train" / "weak" / name)
    for name in EVAL_PRESENT + VALIDATION_PRESENT:
        silent_wav(root / "audio" / "validation" / name)
    return root


def test_import_weak_set(desed, tmp_path):
    out = tmp_path / "out" / "weak"
    (desed / "audio" / "train" / "weak" / "Y--7jZxfzemI_13.000_23.000.wav").write_bytes(b"not a wav file")
    report = import_set("weak", desed / "metadata/train/weak.tsv", desed / "audio/train/weak", CLASSES, out,
                        strong=False, max_missing_fraction=1.0)
    assert report["n_listed"] == 1578 and report["n_present"] == 3
    assert report["unreadable"] == ["Y--7jZxfzemI_13.000_23.000.wav"]
    assert report["n_missing"] == 1578 - 4 == len(report["missing"])
    assert "Y--7jZxfzemI_13.000_23.000.wav" not in report["missing"]
    assert report["missing_fraction"] == pytest.approx(1575 / 1578, abs=1e-6)
    clips = read_clips(out / "clips.tsv")
    assert sorted(clips["filename"]) == sorted(WEAK_PRESENT)
    for path in clips["path"]:
        assert Path(path).is_absolute() and Path(path).is_file()     # the user's audio, not a copy
    assert clips["duration"].tolist() == [0.5] * 3
    tags = read_tags(out / "tags.tsv").set_index("filename")["event_labels"]
    assert tags["YKK227gPpRn4_30.000_40.000.wav"] == "Alarm_bell_ringing,Speech"
    assert not (out / "events.tsv").exists()
    assert json.loads((out / "import_report.json").read_text()) == report


def test_import_strong_set_keeps_empty_clips(desed, tmp_path):
    out = tmp_path / "out" / "test"
    report = import_set("test", desed / "metadata/validation/eval_dcase2018.tsv", desed / "audio/validation",
                        CLASSES, out, strong=True, max_missing_fraction=1.0)
    assert (report["n_listed"], report["n_present"], report["n_empty_clips"]) == (880, 3, 1)
    events = read_events(out / "events.tsv")
    assert set(events["filename"]) == set(EVAL_PRESENT) - {"YU0Cg_t_3TdI_30.000_40.000.wav"}
    assert events["offset"].max() == 10.0
    tags = read_tags(out / "tags.tsv").set_index("filename")["event_labels"]
    assert tags["YU0Cg_t_3TdI_30.000_40.000.wav"] == ""
    assert tags["Y9OqtuFGCCR8_30.000_40.000.wav"] != ""
    assert len(read_clips(out / "clips.tsv")) == 3


def test_import_fails_above_fraction_with_report_written(desed, tmp_path):
    out = tmp_path / "out" / "validation"
    with pytest.raises(MissingAudioError) as error:
        import_set("validation", desed / "metadata/validation/test_dcase2018.tsv", desed / "audio/validation",
                   CLASSES, out, strong=True, max_missing_fraction=0.2)
    message = str(error.value)
    for phrase in ("'validation'", "286 of 288", "0.993", "real.max_missing_fraction", "0.2",
                   str(out / "import_report.json")):
        assert phrase in message
    report = json.loads((out / "import_report.json").read_text())
    assert report["n_missing"] == 286 and len(report["missing"]) == 286
    assert not (out / "clips.tsv").exists()                 # nothing half-imported


def test_import_threshold_edge(tmp_path):
    """9 of 10 present passes at 0.2; 7 of 10 fails."""
    names = [f"clip{i}.wav" for i in range(10)]
    tsv = write(tmp_path / "set.tsv", STRONG_HEADER + "".join(f"{name}\t0\t1\tDog\n" for name in names))
    for name in names[:9]:
        silent_wav(tmp_path / "audio" / name, seconds=0.1)
    report = import_set("s", tsv, tmp_path / "audio", CLASSES, tmp_path / "ok", True, 0.2)
    assert (report["n_present"], report["missing"], report["missing_fraction"]) == (9, ["clip9.wav"], 0.1)
    assert len(read_events(tmp_path / "ok" / "events.tsv")) == 9
    for name in names[7:9]:
        (tmp_path / "audio" / name).unlink()
    with pytest.raises(MissingAudioError, match="3 of 10"):
        import_set("s", tsv, tmp_path / "audio", CLASSES, tmp_path / "bad", True, 0.2)


def test_import_dcase2018(desed, tmp_path):
    out = tmp_path / "real"
    params = RealParams(dcase2018=str(desed), max_missing_fraction=1.0)
    report = import_dcase2018(params, CLASSES, out, clip_duration=10.0)
    assert set(report) == {"weak", "validation", "test"}
    assert json.loads((out / "import_report.json").read_text()) == report
    for name, listed, present in [("weak", 1578, 3), ("validation", 288, 2), ("test", 880, 3)]:
        assert (report[name]["n_listed"], report[name]["n_present"]) == (listed, present)
        for key in ("missing", "unreadable", "missing_fraction"):
            assert key in report[name]
        assert len(read_clips(out / name / "clips.tsv")) == present
    assert not (out / "weak" / "events.tsv").exists()
    assert (out / "validation" / "events.tsv").exists() and (out / "test" / "events.tsv").exists()


UNLABELLED = ["Y-0D9Ta8Wl8A_30.000_40.000.wav", "Y-1nC4Wl1mBI_0.000_10.000.wav", "Y-2kA7bq3fDM_20.000_30.000.wav",
              "Y-3gB8Tr0cQE_0.000_10.000.wav"]


def unlabelled_list(root: Path, names: list[str]) -> Path:
    """DESED's metadata/train/unlabel_in_domain.tsv layout: a `filename` column."""
    return write(root / "metadata" / "train" / "unlabel_in_domain.tsv", "filename\n" + "".join(f"{n}\n" for n in names))


def test_read_unlabelled_tsv(tmp_path):
    path = write(tmp_path / "u.tsv", "filename\tother\nb.wav\tx\n\na.wav\t\nb.wav\tx\n")
    with pytest.warns(MetadataWarning, match=r"dropped 1 duplicate row\(s\) at line\(s\) \[5\]"):
        assert read_unlabelled_tsv(path) == ["a.wav", "b.wav"]
    with pytest.raises(MetadataError, match=rf"{tmp_path / 'bad.tsv'}:3: filename '/abs.wav' is an absolute path"):
        read_unlabelled_tsv(write(tmp_path / "bad.tsv", "filename\na.wav\n/abs.wav\n"))
    with pytest.raises(MetadataError, match=r"bad2.tsv:1: missing column\(s\) \['filename'\]"):
        read_unlabelled_tsv(write(tmp_path / "bad2.tsv", "file\na.wav\n"))


def test_import_dcase2018_with_the_unlabelled_set(desed, tmp_path):
    """real.unlabelled_tsv set: the unlabelled in-domain set is imported beside the others with the same checks
    and report, and gets a clips.tsv and no label table."""
    unlabelled_list(desed, UNLABELLED)
    for name in UNLABELLED[:2]:
        silent_wav(desed / "audio" / "train" / "unlabel_in_domain" / name)
    (desed / "audio" / "train" / "unlabel_in_domain" / UNLABELLED[2]).write_bytes(b"not a wav file")
    out = tmp_path / "real"
    params = RealParams(dcase2018=str(desed), max_missing_fraction=1.0,
                        unlabelled_tsv="metadata/train/unlabel_in_domain.tsv")
    report = import_dcase2018(params, CLASSES, out)
    entry = report["unlabelled"]
    assert (entry["n_listed"], entry["n_present"], entry["labelled"], entry["n_empty_clips"]) == (4, 2, False, None)
    assert (entry["missing"], entry["unreadable"]) == ([UNLABELLED[3]], [UNLABELLED[2]])
    assert entry["missing_fraction"] == 0.5
    assert sorted(read_clips(out / "unlabelled" / "clips.tsv")["filename"]) == UNLABELLED[:2]
    assert not (out / "unlabelled" / "tags.tsv").exists() and not (out / "unlabelled" / "events.tsv").exists()
    assert report["weak"]["labelled"] is True
    # without real.unlabelled_tsv (the default) the set is not imported
    assert "unlabelled" not in import_dcase2018(RealParams(dcase2018=str(desed), max_missing_fraction=1.0), CLASSES,
                                                tmp_path / "without")
    # above real.max_missing_fraction it fails like the other sets, naming itself, after writing the report
    params = RealParams(dcase2018=str(desed), max_missing_fraction=0.2,
                        unlabelled_tsv="metadata/train/unlabel_in_domain.tsv")
    with pytest.raises(MissingAudioError, match="set 'unlabelled': 2 of 4 clips have no usable audio"):
        import_dcase2018(params, CLASSES, tmp_path / "strict")
    assert json.loads((tmp_path / "strict" / "import_report.json").read_text())["unlabelled"]["n_missing"] == 1


def test_import_dcase2018_fails_naming_every_set(desed, tmp_path):
    out = tmp_path / "real"
    with pytest.raises(MissingAudioError) as error:
        import_dcase2018(RealParams(dcase2018=str(desed)), CLASSES, out)
    message = str(error.value)
    assert all(f"set '{name}'" in message for name in ("weak", "validation", "test"))
    report = json.loads((out / "import_report.json").read_text())
    assert report["test"]["n_missing"] == 877
    assert not (out / "weak").exists()


def test_import_dcase2018_needs_a_root(tmp_path):
    with pytest.raises(MetadataError, match="real.dcase2018 is empty"):
        import_dcase2018(RealParams(), CLASSES, tmp_path)


def test_import_says_when_the_audio_folder_is_absent(tmp_path):
    tsv = write(tmp_path / "set.tsv", "filename\tevent_labels\na.wav\tDog\n")
    with pytest.raises(MissingAudioError, match="does not exist"):
        import_set("weak", tsv, tmp_path / "nowhere", CLASSES, tmp_path / "out", False, 0.2)
    assert pd.read_json(tmp_path / "out" / "import_report.json", typ="series")["n_missing"] == 1


def test_dcase_import_skips_and_reports_unusable_audio(audio, tmp_path):
    folder, unusable, usable = audio
    names = ["good.wav", "absent.wav", *unusable, *usable]
    wav(folder.parent / "dcase" / "good.wav", tone(10.0, 44100), 44100)
    for name in [*unusable, *usable]:
        (folder.parent / "dcase" / name).write_bytes((folder / name).read_bytes())
    tsv = strong_table(tmp_path / "eval.tsv", names)
    out = tmp_path / "out" / "test"
    report = import_set("test", tsv, folder.parent / "dcase", CLASSES, out, strong=True, max_missing_fraction=1.0)
    assert report["missing"] == ["absent.wav"] and report["n_present"] == 1 + len(usable)
    assert sorted(report["unreadable"]) == sorted(unusable)
    for name, phrase in unusable.items():
        assert phrase in report["unreadable_reasons"][name], (name, report["unreadable_reasons"][name])
    notes = report["notes"]
    assert "silent" in notes["silent.wav"] and "clipped (" in notes["clipped.wav"]
    assert notes["long.wav"] == "25.000 s long: only the first 10 s are used"
    assert notes["short.wav"] == "only 0.300 s long: padded with silence"
    assert json.loads((out / "import_report.json").read_text()) == report
    assert sorted(read_clips(out / "clips.tsv")["filename"]) == sorted(["good.wav", *usable])

    # Too much unusable audio: the stage stops, naming the set, the counts and where the lists are.
    with pytest.raises(MissingAudioError) as error:
        import_set("test", tsv, folder.parent / "dcase", CLASSES, tmp_path / "strict", strong=True,
                   max_missing_fraction=0.2)
    assert (f"set 'test': {len(unusable) + 1} of {len(names)} clips have no usable audio "
            f"(1 missing, {len(unusable)} unreadable)") in str(error.value)
    assert str(tmp_path / "strict" / "import_report.json") in str(error.value)


def test_checking_the_audio_in_threads_changes_nothing(audio, tmp_path):
    folder, unusable, usable = audio
    names = ["absent.wav", *unusable, *usable]
    tsv = strong_table(tmp_path / "eval.tsv", names)
    reports, clips = {}, {}
    for workers in (1, 2):
        out = tmp_path / f"threads_{workers}"
        reports[workers] = import_set("test", tsv, folder, CLASSES, out, strong=True, max_missing_fraction=1.0,
                                      workers=workers)
        clips[workers] = (out / "clips.tsv").read_bytes()
    assert reports[1] == reports[2] and clips[1] == clips[2]
    assert reports[2]["missing"] == ["absent.wav"] and sorted(reports[2]["unreadable"]) == sorted(unusable)
