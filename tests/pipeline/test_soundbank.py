"""DVC stage `soundbank` (pipeline/soundbank.py): the embedded bank, the index of a user's real soundbank with
the skipped files listed, and the previous bank kept when a run is killed (bad input: docs/reliability.md)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ifdsed.errors import InputError
from ifdsed.soundbank.manifest import load_sources, read_manifest
from tests.helpers import tone, wav, write_params

SR = 16000


def _write_params(folder: Path, **sections) -> None:
    params = {"classes": ["Cat", "Dishes"], "data": {"source": "embedded", "sample_rate": SR},
              "soundbank": {"seed": 3, "clips_per_class": 3, "backgrounds": 3, "background_duration": 1.0,
                            "background_kinds": ["room_tone"], "non_target_clips": 3}}
    params.update(sections)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def test_stage_embedded(tmp_path, monkeypatch, capsys):
    from pipeline import soundbank as stage
    monkeypatch.chdir(tmp_path)
    _write_params(tmp_path)
    (tmp_path / "data" / "soundbank" / "old").mkdir(parents=True)
    assert stage.main() == 0
    out = tmp_path / "data" / "soundbank"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.tsv", "realworld", "synthetic"]
    manifest = read_manifest(out / "manifest.tsv")
    # per partition: 3 clips of 2 classes, 3 beds, 3 clips of each of the 6 non-target sounds
    assert len(manifest) == 2 * (3 * 2 + 3 + 6 * 3) and all((out / path).exists() for path in manifest["path"])
    assert (manifest["role"] == "non_target").sum() == 36
    # held out of every group of 3: one test file, and in the realworld partition one validation file too
    pools = manifest.groupby(["partition", "role", "label"])["pool"].agg(lambda p: "".join(sorted(p.str[0])))
    assert set(pools[["realworld"]]) == {"ttv"} and set(pools[["synthetic"]]) == {"ttt"}
    out = capsys.readouterr().out
    assert "realworld  foreground     6 files,  2 labels" in out and "(pools: train 2, validation 2, test 2)" in out


def test_stage_real(tmp_path, monkeypatch, real_bank, capsys):
    from pipeline import soundbank as stage
    monkeypatch.chdir(tmp_path)
    _write_params(tmp_path, classes=["Cat", "Dog"], data={"source": "real", "sample_rate": SR},
                  real={"soundbank": str(real_bank), "dcase2018": str(tmp_path)},
                  soundbank={"held_out_test": 0.0})   # one file per class: nothing to hold out
    with pytest.warns(UserWarning):
        assert stage.main() == 0
    out = tmp_path / "data" / "soundbank"
    assert [p.name for p in out.iterdir()] == ["manifest.tsv"]
    manifest = read_manifest(out / "manifest.tsv")
    assert len(manifest) == 4 and all((out / path).exists() for path in manifest["path"])
    assert "broken.wav" in capsys.readouterr().out


def test_soundbank_stage_lists_skipped_files_with_reasons(user_bank, tmp_path, monkeypatch, capsys, tiny_params):
    from pipeline import soundbank as stage
    root, skipped, _ = user_bank
    raw = json.loads(json.dumps(tiny_params))
    raw["data"]["source"] = "real"
    raw["real"].update(soundbank=str(root), dcase2018=str(tmp_path))
    raw["classes"] = ["Cat", "Dog"]
    raw["soundbank"]["held_out_test"] = 0.0
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, raw)
    with pytest.warns(UserWarning):
        assert stage.main() == 0
    out = capsys.readouterr().out
    for name, phrase in skipped.items():
        assert any(f"/Dog/{name}: " in line and phrase in line for line in out.splitlines()), (name, out)
    assert "clipped.wav: clipped" in out and "Scaper resamples them to 16000 Hz" in out


def test_an_interrupted_soundbank_stage_keeps_the_previous_bank(tmp_path, monkeypatch, tiny_params):
    from pipeline import soundbank as stage
    raw = json.loads(json.dumps(tiny_params))
    raw["classes"] = ["Dog"]
    raw["soundbank"].update(clips_per_class=2, backgrounds=2, background_duration=1.0, workers=1, non_target_clips=0,
                            held_out_validation=0.0, held_out_test=0.0)
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, raw)
    manifest = tmp_path / "data" / "soundbank" / "manifest.tsv"
    real_build = stage.build_embedded_bank

    def killed(root, *args, **kwargs):
        wav(Path(root) / "synthetic" / "foreground" / "Dog" / "Dog_000.wav", tone(0.5))
        raise KeyboardInterrupt

    monkeypatch.setattr(stage, "build_embedded_bank", killed)
    with pytest.raises(KeyboardInterrupt):
        stage.main()                                            # the first run is killed: no bank at all
    with pytest.raises(InputError, match="manifest.tsv: not found: run the soundbank stage first"):
        load_sources("synthetic", manifest)
    monkeypatch.setattr(stage, "build_embedded_bank", real_build)
    assert stage.main() == 0
    before = manifest.read_bytes()
    monkeypatch.setattr(stage, "build_embedded_bank", killed)
    with pytest.raises(KeyboardInterrupt):
        stage.main()                                            # a later run is killed: the old bank stays
    assert manifest.read_bytes() == before and len(load_sources("synthetic", manifest)[0]) == 2 + 2


def test_a_real_soundbank_holds_nothing_out_when_the_synthetic_test_set_is_imported(tmp_path, monkeypatch,
                                                                                    real_bank):
    """With real.syn_test_tsv (DCASE 2019's synthetic evaluation set, already disjoint from the soundbank) the whole
    bank trains: one file a class is then enough, where a generated test set would need one held out."""
    from pipeline import soundbank as stage
    monkeypatch.chdir(tmp_path)
    _write_params(tmp_path, classes=["Cat", "Dog"], data={"source": "real", "sample_rate": SR},
                  real={"soundbank": str(real_bank), "dcase2018": str(tmp_path),
                        "syn_test_tsv": "eval/synthetic19.tsv", "syn_test_audio": "eval/audio"})
    with pytest.warns(UserWarning):
        assert stage.main() == 0
    assert set(read_manifest(tmp_path / "data" / "soundbank" / "manifest.tsv")["pool"]) == {"train"}
    _write_params(tmp_path, classes=["Cat", "Dog"], data={"source": "real", "sample_rate": SR},
                  real={"soundbank": str(real_bank), "dcase2018": str(tmp_path)})
    with pytest.warns(UserWarning), pytest.raises(InputError, match="too few to hold out 1 for test"):
        stage.main()
