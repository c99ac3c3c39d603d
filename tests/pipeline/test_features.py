"""DVC stage `features` (pipeline/features.py): an interrupted clip set is never taken as complete (bad input:
docs/reliability.md)."""
import pandas as pd
import pytest

from ifdsed.dcase.metadata import write_set
from ifdsed.errors import InputError
from ifdsed.io.tables import read_clips
from ifdsed.scenes import render
from ifdsed.scenes.render import write_set_tables
from tests.helpers import complete_sets, tone, wav


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt   # as if the process were killed here


def test_an_interrupted_set_is_never_taken_as_complete(tmp_path, monkeypatch):
    from pipeline import features as stage
    monkeypatch.chdir(tmp_path)
    complete_sets(tmp_path)
    assert stage._check_sets() == 5
    # the realworld stage killed while writing its test set's tables: events and tags are there, clips.tsv not
    test_set = tmp_path / "data" / "realworld" / "test"
    wav(test_set / "audio" / "b.wav.tmp.wav", tone(0.1))
    events = pd.DataFrame([("a.wav", 0.5, 1.0, "Dog")], columns=["filename", "onset", "offset", "event_label"])
    monkeypatch.setattr(render, "write_clips", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_set_tables(test_set, ["a.wav"], events, 1.0)
    assert (test_set / "events.tsv").is_file() and (test_set / "tags.tsv").is_file()
    with pytest.raises(InputError, match=r"data/realworld/test/clips.tsv is missing \(the set is absent or "
                                         r"unfinished\): run the stage that writes realworld_test first"):
        stage._check_sets()
    # the same for an imported set
    scanned_dir = tmp_path / "data" / "realworld" / "validation"
    from ifdsed.dcase.metadata import ScannedSet
    from ifdsed.dcase import metadata as dcase
    monkeypatch.setattr(dcase, "write_clips", interrupt)
    scanned = ScannedSet({}, read_clips(scanned_dir / "clips.tsv"), pd.read_csv(scanned_dir / "tags.tsv", sep="\t"),
                         events)
    with pytest.raises(KeyboardInterrupt):
        write_set(scanned, scanned_dir)
    assert not (scanned_dir / "clips.tsv").exists()
