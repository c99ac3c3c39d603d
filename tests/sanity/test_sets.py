"""ifdsed.sanity.sets: real-event mixes labelled by their plan, ambience windows with no events, same bytes
for the same seed."""
from __future__ import annotations

import soundfile as sf

from ifdsed.io.tables import read_clips, read_events
from ifdsed.sanity.sets import make_sanity_sets
from tests.helpers import digests, sanity_bank

SR = 16000


def test_mixes_and_windows(tmp_path):
    root = sanity_bank(tmp_path / "bank", SR)
    sizes = make_sanity_sets(root, tmp_path / "a", SR, 10.0, seed=3, mixes=6)
    assert sizes["mixes"] == 6 and sizes["background_windows"] == 2        # 25 s of ambience: two whole windows
    events = read_events(tmp_path / "a" / "mixes" / "events.tsv")
    assert set(events["event_label"]) <= {"Dog", "Speech"} and len(events) >= 6
    assert ((events["onset"] >= 0) & (events["offset"] <= 10.0)).all()
    assert len(read_events(tmp_path / "a" / "background" / "events.tsv")) == 0
    for name in ("mixes", "background"):
        for row in read_clips(tmp_path / "a" / name / "clips.tsv").itertuples():
            audio, rate = sf.read(row.path)
            assert rate == SR and audio.shape == (10 * SR,)
    make_sanity_sets(root, tmp_path / "b", SR, 10.0, seed=3, mixes=6)
    assert digests(tmp_path / "a", skip=("clips.tsv",)) == digests(tmp_path / "b", skip=("clips.tsv",))
