"""The sound bank on disk (ifdsed.soundbank.bank): the embedded procedural bank, and the index of a user's real
soundbank, with every unusable file skipped and listed (bad input: docs/reliability.md)."""
from __future__ import annotations

import json
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ifdsed.errors import InputError
from ifdsed.soundbank.bank import build_embedded_bank, index_soundbank
from ifdsed.soundbank.manifest import MANIFEST_COLUMNS, read_manifest
from ifdsed.soundbank.non_target import NON_TARGET_SYNTHESIZERS
from tests.helpers import digests, run_stage, write_params

SR = 16000


# ---------------------------------------------------------------------------------------------------------------
# The embedded bank on disk
# ---------------------------------------------------------------------------------------------------------------

BANK = dict(classes=["Dog", "Speech", "Frying"], clips_per_class=2, backgrounds=3, background_duration=1.5,
            sample_rate=SR)


wav_digests = partial(digests, suffixes=(".wav",))


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("bank")
    return root, build_embedded_bank(root, seed=0, workers=2, **BANK)


def test_bank_layout_and_manifest(bank):
    root, manifest = bank
    assert list(manifest.columns) == MANIFEST_COLUMNS
    wavs = sorted(str(path.relative_to(root)) for path in root.rglob("*.wav"))
    assert sorted(manifest["path"]) == wavs
    assert not [path for path in root.rglob("*") if path.name.endswith(".tmp")]
    for partition in ("synthetic", "realworld"):
        for label in BANK["classes"]:
            assert sorted(p.name for p in (root / partition / "foreground" / label).iterdir()) == \
                [f"{label}_000.wav", f"{label}_001.wav"]
        kinds = sorted(p.name for p in (root / partition / "background").iterdir())
        assert kinds == sorted(["room_tone", "mains_hum", "ventilation"])
    counts = manifest.groupby(["partition", "role"]).size().to_dict()
    assert counts == {("realworld", "background"): 3, ("realworld", "foreground"): 6,
                      ("synthetic", "background"): 3, ("synthetic", "foreground"): 6}
    for row in manifest.itertuples():
        info = sf.info(str(root / row.path))
        assert info.samplerate == row.sample_rate == SR and info.subtype == "PCM_16" and info.channels == 1
        assert abs(info.frames / info.samplerate - row.duration) <= 0.0005
        assert row.label in Path(row.path).parts and row.role in Path(row.path).parts
    on_disk = read_manifest(root / "manifest.tsv")
    pd.testing.assert_frame_equal(on_disk, manifest)
    background = manifest[manifest["role"] == "background"]
    assert np.allclose(background["duration"], BANK["background_duration"])


def test_bank_manifest_is_sorted_tab_separated_to_the_millisecond(bank):
    root, manifest = bank
    lines = (root / "manifest.tsv").read_text().splitlines()
    assert lines[0] == "\t".join(MANIFEST_COLUMNS)
    assert all(len(line.split("\t")) == len(MANIFEST_COLUMNS) and len(line.split("\t")[4].split(".")[1]) == 3 for line in lines[1:])
    assert lines[1:] == sorted(lines[1:], key=lambda line: line.split("\t")[:4])


def test_bank_partitions_are_disjoint(bank):
    root, _ = bank
    hashes = wav_digests(root)
    synthetic = {h for path, h in hashes.items() if path.startswith("synthetic")}
    realworld = {h for path, h in hashes.items() if path.startswith("realworld")}
    assert len(synthetic) == len(realworld) == 9
    assert not synthetic & realworld


def test_bank_bytes_do_not_depend_on_workers_but_on_seed(bank, tmp_path):
    root, manifest = bank
    serial = build_embedded_bank(tmp_path / "serial", seed=0, workers=1, **BANK)
    assert wav_digests(tmp_path / "serial") == wav_digests(root)
    assert (tmp_path / "serial" / "manifest.tsv").read_bytes() == (root / "manifest.tsv").read_bytes()
    pd.testing.assert_frame_equal(serial, manifest)

    other = build_embedded_bank(tmp_path / "other", seed=1, workers=1, **BANK)
    assert not set(wav_digests(tmp_path / "other").values()) & set(wav_digests(root).values())
    assert list(other["path"]) == list(manifest["path"])


def test_bank_clip_does_not_depend_on_the_other_classes(bank, tmp_path):
    root, _ = bank
    build_embedded_bank(tmp_path, classes=["Speech"], clips_per_class=1, backgrounds=1, background_duration=1.5,
                        sample_rate=SR, seed=0, workers=1)
    path = "synthetic/foreground/Speech/Speech_000.wav"
    assert (tmp_path / path).read_bytes() == (root / path).read_bytes()


def test_bank_with_loud_beds_and_non_target_sounds(bank, tmp_path):
    """Beds go to background_kinds in turn; non_target_clips of each non-target kind sit in the foreground folder
    (where Scaper finds them) with role non_target; the class clips stay byte for byte the same."""
    root, _ = bank
    kinds = ["fan", "rain"]
    manifest = build_embedded_bank(tmp_path, seed=0, workers=2, background_kinds=kinds, non_target_clips=2, **BANK)
    for partition in ("synthetic", "realworld"):
        rows = manifest[manifest["partition"] == partition]
        beds = rows[rows["role"] == "background"]
        assert sorted(beds["path"]) == sorted(f"{partition}/background/{kind}/{kind}_{index:03d}.wav"
                                              for kind, index in [("fan", 0), ("rain", 0), ("fan", 1)])
        others = rows[rows["role"] == "non_target"]
        assert sorted(others["label"].unique()) == sorted(NON_TARGET_SYNTHESIZERS)
        assert (others.groupby("label").size() == 2).all()
        assert all(path.startswith(f"{partition}/foreground/{label}/") for path, label in
                   zip(others["path"], others["label"]))
    before, after = wav_digests(root), wav_digests(tmp_path)
    assert all(after[path] == digest for path, digest in before.items() if "/foreground/" in path)
    with pytest.raises(InputError, match=r"soundbank.background_kinds.*'sauna'"):
        build_embedded_bank(tmp_path / "x", seed=0, workers=1, background_kinds=["sauna"], **BANK)


def test_bank_source_variants(bank, tmp_path):
    """source_variants draws a listed class's clips from its first synthesizer and its extra kinds: some clips
    change, those that keep the first synthesizer and every other class's clips keep their bytes; a class
    without extra kinds is refused by name."""
    root, _ = bank
    options = {**BANK, "classes": ["Dog", "Cat"], "clips_per_class": 6}
    build_embedded_bank(root / "plain", seed=0, workers=2, **options)
    build_embedded_bank(tmp_path, seed=0, workers=2, source_variants=["Cat"], **options)
    before, after = wav_digests(root / "plain"), wav_digests(tmp_path)
    assert before.keys() == after.keys()
    changed = {path for path in before if before[path] != after[path]}
    assert changed and all("/foreground/Cat/" in path for path in changed)
    assert len(changed) < sum("/foreground/Cat/" in path for path in before)    # some clips keep the first kind
    with pytest.raises(InputError, match=r"soundbank.source_variants.*'Dog'"):
        build_embedded_bank(tmp_path / "x", seed=0, workers=1, source_variants=["Dog"], **BANK)


def test_bank_rebuild_replaces_old_files(tmp_path):
    stale = tmp_path / "synthetic" / "foreground" / "Dog" / "Dog_099.wav"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    build_embedded_bank(tmp_path, classes=["Dog"], clips_per_class=1, backgrounds=1, background_duration=1.0,
                        sample_rate=SR, seed=0, workers=1)
    assert not stale.exists()


def test_bank_unknown_class_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"classes.*'Doorbell'"):
        build_embedded_bank(tmp_path, classes=["Dog", "Doorbell"], clips_per_class=1, backgrounds=1,
                            background_duration=1.0, sample_rate=SR, seed=0, workers=1)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------------------------
# Indexing a user's real soundbank
# ---------------------------------------------------------------------------------------------------------------

def test_index_soundbank(real_bank):
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        manifest = index_soundbank(real_bank, ["Cat", "Dog"])
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert set(manifest["partition"]) == {"synthetic"}
    assert all(Path(path).is_absolute() and Path(path).exists() for path in manifest["path"])
    rows = {Path(row.path).name: row for row in manifest.itertuples()}
    assert sorted(rows) == ["a.wav", "b.flac", "bed.wav", "c.wav"]
    assert (rows["b.flac"].duration, rows["b.flac"].sample_rate, rows["b.flac"].label) == (0.5, 22050, "Dog")
    assert (rows["bed.wav"].role, rows["bed.wav"].label, rows["bed.wav"].duration) == ("background", "sins", 3.0)
    assert manifest.attrs["skipped"] == [str((real_bank / "foreground" / "Dog" / "broken.wav").absolute())]


def test_index_soundbank_clean_bank_has_no_warning(real_bank):
    (real_bank / "foreground" / "Dog" / "broken.wav").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert index_soundbank(real_bank, ["Dog"]).attrs["skipped"] == []


def test_index_soundbank_class_without_audio(real_bank):
    (real_bank / "foreground" / "Blender").mkdir()
    (real_bank / "foreground" / "Blender" / "readme.txt").write_text("empty")
    with pytest.raises(ValueError, match=r"no readable audio.*Blender"):
        index_soundbank(real_bank, ["Blender"])


def test_index_soundbank_without_background(real_bank):
    (real_bank / "background" / "sins" / "bed.wav").unlink()
    with pytest.raises(ValueError, match="background"):
        index_soundbank(real_bank, ["Dog"])


def test_soundbank_skips_and_lists_every_unusable_file(user_bank):
    root, skipped, kept = user_bank
    with pytest.warns(UserWarning, match=r"kept 2 clipped file\(s\) or file\(s\) beyond full scale, e.g. .*Dog/\w+"):
        with pytest.warns(UserWarning, match=rf"skipped {len(skipped)} unreadable file\(s\), e.g. .*Dog/\w+"):
            manifest = index_soundbank(root, ["Cat", "Dog"])
    names = {Path(path).name: path for path in manifest["path"] if "/Dog/" in path}
    assert sorted(names) == sorted(["good.wav", *kept])          # odd rates, channels and lengths are kept
    reasons = manifest.attrs["skipped_reasons"]
    assert sorted(Path(path).name for path in reasons) == sorted(skipped)
    for path, reason in reasons.items():
        assert skipped[Path(path).name] in reason, (path, reason)
    assert {Path(p).name for p in manifest.attrs["notes"]} == {"clipped.wav", "beyond_full_scale.wav"}
    rows = manifest.set_index(manifest["path"].map(lambda p: Path(p).name))
    assert rows.loc["six_channels_48k.wav", "sample_rate"] == 48000 and rows.loc["long.wav", "duration"] == 25.0


def test_a_class_missing_from_the_soundbank_stops_before_any_work(user_bank, tmp_path, monkeypatch, tiny_params):
    """data.source: real and a soundbank without some class: the soundbank stage fails at once, naming
    real.soundbank, the folder and the class, without decoding a file or touching the previous bank."""
    from ifdsed.soundbank import bank
    root, _, _ = user_bank
    decoded = []
    monkeypatch.setattr(bank, "inspect_audio", lambda path, *a: decoded.append(path))
    with pytest.raises(InputError) as error:
        index_soundbank(root, ["Cat", "Dog", "Speech", "Frying"])
    message = str(error.value)
    assert message.startswith("real.soundbank: no foreground folder for 2 class(es) of `classes`: ")
    assert f"{root}/foreground/Speech (class 'Speech')" in message and "(class 'Frying')" in message
    assert decoded == []
    with pytest.raises(InputError, match=rf"real.soundbank: {tmp_path}/nowhere is not a folder"):
        index_soundbank(tmp_path / "nowhere", ["Dog"])

    raw = json.loads(json.dumps(tiny_params))
    raw["data"]["source"] = "real"
    raw["real"].update(soundbank=str(root), dcase2018=str(tmp_path))
    write_params(tmp_path, raw)
    previous = tmp_path / "data" / "soundbank" / "manifest.tsv"
    previous.parent.mkdir(parents=True)
    previous.write_text("partition\trole\tlabel\tpath\tduration\tsample_rate\n")
    done = run_stage("pipeline.soundbank", tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("soundbank: real.soundbank: no foreground folder for 8 class(es)")
    assert "(class 'Alarm_bell_ringing')" in done.stderr and previous.is_file()
