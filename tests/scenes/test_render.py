"""Rendering planned clips with Scaper and writing clip sets with a pool of workers (ifdsed.scenes.render): odd
sources, clips Scaper cannot mix, failures and deaths in the workers, killed writes (bad input:
docs/reliability.md)."""
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ifdsed.scenes import render
from ifdsed.scenes.planning import ClipPlan, PlannedBackground, PlannedEvent
from ifdsed.scenes.render import ClipJob, MixSettings, RenderError, render_job
from tests.helpers import SR, tone


def test_scaper_mixes_sources_of_other_rates_channels_and_lengths(user_bank, tmp_path):
    root, _, _ = user_bank
    dog = root / "foreground" / "Dog"
    events = tuple(PlannedEvent("Dog", str(dog / name), source_time, onset, 0.8, 10.0, 0.0)
                   for name, source_time, onset in [("six_channels_48k.wav", 0.5, 0.1), ("stereo_8k.flac", 0.0, 1.0),
                                                    ("long.wav", 20.0, 2.0), ("clipped.wav", 0.2, 3.0)])
    plan = ClipPlan("odd_sources", PlannedBackground("home", str(root / "background/home/bed.wav"), 0.0), events)
    mix = MixSettings(str(root / "foreground"), str(root / "background"), SR, 4.0, -50.0)
    out = tmp_path / "audio"
    out.mkdir()
    filename, labels, sources = render_job(ClipJob(plan, 1, mix, str(out), None))
    signal_, rate = sf.read(out / filename)
    assert rate == SR and signal_.shape == (4 * SR,) and np.isfinite(signal_).all() and np.abs(signal_).max() > 0
    assert [label for _, _, label in labels] == ["Dog"] * 4
    assert sources == [("background", "home", str(root / "background/home/bed.wav"))] + [
        ("foreground", "Dog", event.source_file) for event in events]


def test_a_clip_scaper_cannot_mix_names_the_clip_and_its_sources(user_bank, tmp_path):
    root, _, _ = user_bank
    too_short = root / "foreground" / "Dog" / "too_short.wav"     # what the index skips: Scaper fails on it
    plan = ClipPlan("syn_train_00007", PlannedBackground("home", str(root / "background/home/bed.wav"), 0.0),
                    (PlannedEvent("Dog", str(too_short), 0.0, 1.0, 0.005, 10.0, 0.0),))
    mix = MixSettings(str(root / "foreground"), str(root / "background"), SR, 2.0, -50.0)
    with pytest.raises(RenderError) as error:
        render_job(ClipJob(plan, 1, mix, str(tmp_path), None))
    message = str(error.value)
    assert message.startswith("syn_train_00007: Scaper could not mix it from ") and str(too_short) in message
    assert not list(tmp_path.glob("*.wav"))


def test_failures_in_the_rendering_workers_name_the_clip(user_bank, tmp_path):
    root, _, _ = user_bank
    plan = ClipPlan("rw_weak_00001", PlannedBackground("home", str(root / "background/home/bed.wav"), 0.0),
                    (PlannedEvent("Dog", str(root / "foreground/Dog/long.wav"), 0.0, 1.0, 0.5, 10.0, 0.0),))
    mix = MixSettings(str(root / "foreground"), str(root / "background"), SR, 2.0, -50.0)

    def broken_recorder(audio, seed):
        raise RuntimeError("the room model diverged")

    def make_job(set_index, clip_index):
        if set_index == 0:
            raise ValueError("no source audio for class 'Dog'")
        return ClipJob(plan, 1, mix, str(tmp_path / "audio"), None, broken_recorder)

    for workers in (1, 2):
        with pytest.raises(RenderError, match=r"^clip 0 of the weak set could not be planned: ValueError: no "
                                              r"source audio for class 'Dog'$"):
            list(render.render_sets(make_job, {"weak": 2}, workers, "test"))
        with pytest.raises(RenderError, match=r"^rw_weak_00001: RuntimeError: the room model diverged$"):
            list(render.render_sets(make_job, {"weak": 0, "test": 2}, workers, "test"))
    assert not list((tmp_path / "audio").glob("*.wav"))


def test_a_rendering_worker_that_dies_stops_the_stage_instead_of_hanging(tmp_path):
    parent = os.getpid()

    def make_job(set_index, clip_index):
        if os.getpid() != parent:
            os._exit(9)      # what the kernel's out-of-memory killer leaves behind
        raise AssertionError("only the workers plan clips")

    with pytest.raises(RenderError, match="a rendering worker process died"):
        list(render.render_sets(make_job, {"train": 3}, 2, "test"))


def test_an_interrupted_wav_write_leaves_nothing_behind(tmp_path, monkeypatch):
    """Half a file under the temporary name, then an interrupt: the final name never appears, and the
    temporary file is removed on the way out (a SIGKILL would leave only the hidden temporary file)."""
    names_seen = []

    def killed(path, data, *args, **kwargs):
        Path(path).write_bytes(b"RIFF\x00\x00")
        names_seen.append(Path(path).name)
        raise KeyboardInterrupt
    monkeypatch.setattr(render.soundfile, "write", killed)
    with pytest.raises(KeyboardInterrupt):
        render.write_wav(tmp_path / "clip.wav", tone(1.0), SR)
    assert names_seen == [f".clip.{os.getpid()}.tmp.wav"]        # hidden, and still a .wav for soundfile
    assert list(tmp_path.iterdir()) == []
