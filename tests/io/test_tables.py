"""ifdsed.io.tables: DESED tables written sorted, to the millisecond, and read back with the same values."""
import pandas as pd

from ifdsed.io.tables import (EVENT_COLUMNS, join_tags, read_events, read_tags, split_tags, tags_from_events,
                              write_events, write_tags)


def test_events_round_trip_sorted_to_the_millisecond(tmp_path):
    events = pd.DataFrame([("b.wav", 1.0, 2.5, "Dog"), ("a.wav", 0.1234, 9.87654, "Speech"),
                           ("a.wav", 0.1234, 3.0, "Cat")], columns=EVENT_COLUMNS)
    path = write_events(events, tmp_path / "events.tsv")
    assert path.read_text().splitlines() == ["filename\tonset\toffset\tevent_label", "a.wav\t0.123\t3.000\tCat",
                                             "a.wav\t0.123\t9.877\tSpeech", "b.wav\t1.000\t2.500\tDog"]
    back = read_events(path)
    assert list(back.columns) == EVENT_COLUMNS and back["onset"].dtype == float
    assert back.loc[1, "offset"] == 9.877


def test_tags_from_events_cover_every_clip_and_round_trip(tmp_path):
    events = pd.DataFrame([("a.wav", 0, 1, "Dog"), ("a.wav", 2, 3, "Cat"), ("a.wav", 4, 5, "Dog")],
                          columns=EVENT_COLUMNS)
    tags = tags_from_events(events, ["c.wav", "a.wav"])
    assert tags.values.tolist() == [["a.wav", "Cat,Dog"], ["c.wav", ""]]
    assert read_tags(write_tags(tags, tmp_path / "tags.tsv")).values.tolist() == tags.values.tolist()
    assert join_tags(["Dog", "Cat", "Dog"]) == "Cat,Dog" and split_tags(" Dog, Cat,,") == ["Cat", "Dog"]
