"""The label-statistics table of a generated set beside DCASE 2018's (ifdsed/dcase/side_by_side.py)."""
import pandas as pd

from ifdsed.dcase.side_by_side import markdown, side_by_side
from ifdsed.dcase.stats import load_stats


def test_shares_of_classes_and_of_label_counts_beside_the_reference():
    tags = pd.DataFrame({"filename": ["a.wav", "b.wav", "c.wav", "d.wav"],
                         "event_labels": ["Dog", "Dog,Speech", "", "Speech"]})
    reference = {"n_clips": 10, "class_frequency": {"Dog": 0.3, "Speech": 0.5}, "tags_per_clip": {"1": 0.8, "2": 0.2}}
    table = side_by_side(tags, reference, ["Dog", "Speech"]).set_index("statistic")
    assert table.loc["clips with Dog"].tolist() == [0.3, 0.5]
    assert table.loc["clips with Speech"].tolist() == [0.5, 0.5]
    assert table.loc["clips with 0 labels"].tolist() == [0.0, 0.25]
    assert table.loc["clips with 1 label"].tolist() == [0.8, 0.5]
    assert table.loc["clips with 2 labels"].tolist() == [0.2, 0.25]


def test_the_committed_dcase_statistics_give_a_full_table():
    stats = load_stats()
    tags = pd.DataFrame({"filename": ["a.wav"], "event_labels": ["Dog"]})
    text = markdown(side_by_side(tags, stats["sets"]["weak"], stats["classes"]), "weak")
    assert "DCASE 2018 weak (1578 clips)" in text and "| clips with Dog |" in text
    assert len(text.splitlines()) == 2 + len(stats["classes"]) + len(stats["sets"]["weak"]["tags_per_clip"])
