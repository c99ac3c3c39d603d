"""real.syn_test_tsv / real.syn_test_audio: the synthetic test set imported from a DESED-layout table instead of
generated (the DCASE 2019 synthetic evaluation set for the paper's second column), through `dvc repro`.

The table is the real DESED validation metadata of the fixtures cut to a few clips (its quirks included), the
audio generated here at 44.1 kHz, and one listed clip left without audio."""
import json

import pandas as pd
import pytest

from tests.helpers import copy_project, noisy_tones, run_command, write_wav

CLIPS = 5


@pytest.fixture(scope="module")
def imported(tmp_path_factory, tiny_params, fixtures_dir):
    base = tmp_path_factory.mktemp("syn_import")
    table = pd.read_csv(fixtures_dir / "dcase_metadata" / "validation.tsv", sep="\t", dtype=str,
                        keep_default_na=False)
    keep = list(dict.fromkeys(table["filename"]))[:CLIPS]
    (base / "metadata").mkdir()
    table[table["filename"].isin(keep)].to_csv(base / "metadata" / "synthetic_eval.tsv", sep="\t", index=False)
    for seed, name in enumerate(keep[:-1]):
        write_wav(base / "audio" / name, noisy_tones(10.0, 44100, seed=seed), 44100)
    params = json.loads(json.dumps(tiny_params))
    params["real"].update(syn_test_tsv=str(base / "metadata" / "synthetic_eval.tsv"),
                          syn_test_audio=str(base / "audio"))
    repo = copy_project(base / "repo", params)
    output = run_command(["dvc", "repro"], repo)
    return repo, keep, output, table[table["filename"].isin(keep[:-1])]


def test_the_test_set_is_imported_with_its_missing_clip_reported(imported):
    repo, keep, output, _ = imported
    report = json.loads((repo / "data/synthetic/test/import_report.json").read_text())
    assert (report["n_listed"], report["n_present"], report["missing"]) == (CLIPS, CLIPS - 1, [keep[-1]])
    clips = pd.read_csv(repo / "data/synthetic/test/clips.tsv", sep="\t")
    assert set(clips["filename"]) == set(keep[:-1])
    assert not (repo / "data/synthetic/test/audio").exists()          # the user's audio stays where it is
    assert "synthetic test (imported from" in output


def test_the_train_set_is_still_generated_and_the_import_is_scored(imported):
    repo, keep, _, truth = imported
    assert len(pd.read_csv(repo / "data/synthetic/train/clips.tsv", sep="\t")) == 6
    info = json.loads((repo / "data/features/features.json").read_text())
    assert info["sets"]["synthetic_test"]["clips"] == CLIPS - 1
    seed = json.loads((repo / "results/eval/seed_1/metrics.json").read_text())
    assert (seed["provenance/syn_test/clips_scored"], seed["provenance/syn_test/clips_missing"]) == (CLIPS - 1, 1)
    assert seed["syn_test/event_files"] == CLIPS - 1
