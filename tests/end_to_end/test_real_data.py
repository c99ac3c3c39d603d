"""data.source: real -- the same stages on a user's soundbank and a DESED-layout DCASE 2018 folder.

The soundbank is an embedded bank's `synthetic` partition (it has the DCASE 2020 layout); the DCASE folder holds
the real fixture metadata cut to a few clips, with one real 44.1 kHz DESED recording copied under each clip's
name, and one clip per set left without audio (as DCASE users routinely lack some YouTube clips)."""
import json
import shutil

import pandas as pd
import pytest

from ifdsed.config import load_params
from ifdsed.soundbank.bank import build_embedded_bank
from ifdsed.soundbank.pools import shared_sources
from tests.helpers import copy_project, run_command

CLIPS_PER_SET = 5


def desed_layout(root, fixtures):
    """metadata/{train,validation}/*.tsv and audio/{train/weak,train/unlabel_in_domain,validation}/*.wav, one
    missing clip per set."""
    metadata, recording = fixtures / "dcase_metadata", fixtures / "real_audio/desed_soundscapes/5.wav"
    missing = []
    for name, folder, audio in [("weak.tsv", "train", "train/weak"),
                                ("test_dcase2018.tsv", "validation", "validation"),
                                ("eval_dcase2018.tsv", "validation", "validation")]:
        table = pd.read_csv(metadata / name, sep="\t", dtype=str, keep_default_na=False)
        keep = list(dict.fromkeys(table["filename"]))[:CLIPS_PER_SET]
        (root / "metadata" / folder).mkdir(parents=True, exist_ok=True)
        table[table["filename"].isin(keep)].to_csv(root / "metadata" / folder / name, sep="\t", index=False)
        (root / "audio" / audio).mkdir(parents=True, exist_ok=True)
        for filename in keep[:-1]:
            shutil.copy(recording, root / "audio" / audio / filename)
        missing.append(keep[-1])
    # DESED's unlabelled in-domain list (a `filename` column), for the mean teacher
    keep = [f"Yunlabelled{i}_0.000_10.000.wav" for i in range(CLIPS_PER_SET)]
    pd.DataFrame({"filename": keep}).to_csv(root / "metadata/train/unlabel_in_domain.tsv", sep="\t", index=False)
    (root / "audio/train/unlabel_in_domain").mkdir(parents=True)
    for filename in keep[:-1]:
        shutil.copy(recording, root / "audio/train/unlabel_in_domain" / filename)
    missing.append(keep[-1])
    return missing


@pytest.fixture(scope="module")
def real_project(tmp_path_factory, tiny_params, fixtures_dir):
    fixtures = fixtures_dir
    base = tmp_path_factory.mktemp("real")
    # 3 clips a class, 2 beds a kind: one of each held out for the generated synthetic test set
    build_embedded_bank(base / "bank", tiny_params["classes"], 3, 4, 11.0, 16000, seed=5, workers=1,
                        background_kinds=["room_tone", "mains_hum"])
    missing = desed_layout(base / "desed", fixtures)
    params = json.loads(json.dumps(tiny_params))
    params["data"]["source"] = "real"
    params["real"].update(soundbank=str(base / "bank" / "synthetic"), dcase2018=str(base / "desed"),
                          unlabelled_tsv="metadata/train/unlabel_in_domain.tsv")
    repo = copy_project(base / "repo", params)
    output = run_command(["dvc", "repro", "features"], repo)
    return repo, missing, output


def test_soundbank_stage_indexes_the_user_soundbank(real_project):
    repo, _, _ = real_project
    manifest = pd.read_csv(repo / "data/soundbank/manifest.tsv", sep="\t")
    assert set(manifest["partition"]) == {"synthetic"}
    assert all(path.startswith("/") for path in manifest["path"])   # the user's files, not copies
    assert not (repo / "data/soundbank/synthetic").exists()
    assert len(pd.read_csv(repo / "data/synthetic/train/clips.tsv", sep="\t")) == 6
    # a generated synthetic test set holds out a file of every class and kind of the user's soundbank
    held_out = manifest.groupby(["role", "label"])["pool"].apply(lambda pools: (pools == "test").sum())
    assert (held_out == 1).all()
    data = repo / "data" / "synthetic"
    assert shared_sources([data / "train"], [data / "test"]) == set()


def test_import_reports_missing_audio_and_keeps_the_rest(real_project):
    repo, missing, _ = real_project
    report = json.loads((repo / "data/realworld/import_report.json").read_text())
    for name, lost in zip(["weak", "validation", "test", "unlabelled"], missing):
        assert report[name]["n_listed"] == CLIPS_PER_SET and report[name]["n_present"] == CLIPS_PER_SET - 1
        assert lost in report[name]["missing"]
        clips = pd.read_csv(repo / f"data/realworld/{name}/clips.tsv", sep="\t")
        assert len(clips) == CLIPS_PER_SET - 1 and lost not in set(clips["filename"])
    assert not (repo / "data/realworld/weak/events.tsv").exists()
    assert not (repo / "data/realworld/unlabelled/tags.tsv").exists()        # no label table of any kind
    assert (repo / "data/realworld/test/events.tsv").is_file()


def test_features_resample_the_real_recordings(real_project):
    repo, _, output = real_project
    info = json.loads((repo / "data/features/features.json").read_text())
    assert info["sets"]["realworld_test"]["clips"] == CLIPS_PER_SET - 1
    assert info["sets"]["realworld_unlabelled"]["clips"] == CLIPS_PER_SET - 1          # the mean teacher's set
    params = load_params(repo / "params.yaml")   # 44.1 kHz recordings, resampled to these settings
    frames = round(params.data.clip_duration / params.features.hop)
    assert info["sets"]["realworld_test"]["frames"] == frames and info["config"]["sample_rate"] == 16000
    assert "import report" in output
