"""More DCASE sets through `dvc repro`: the synthetic test set imported instead of generated (real.syn_test_*, the
DCASE 2019 synthetic evaluation set for the paper's second column) and extra test sets (real.extra_test_sets,
DESED's validation and public evaluation sets) scored beside the paper's two.

The tables are the real DESED metadata of the fixtures (validation.tsv, public.tsv) cut to a few clips, quirks
included; the audio is generated here at 44.1 kHz, and one listed clip of each set is left without audio."""
import json

import pandas as pd
import pytest

from tests.helpers import copy_project, noisy_tones, run_command, write_wav

CLIPS = 5


def cut_set(fixtures_dir, base, table_name: str, set_name: str, seed: int) -> list[str]:
    """base/<set_name>.tsv with the first CLIPS clips of the fixture table, and audio for all but the last."""
    table = pd.read_csv(fixtures_dir / "dcase_metadata" / table_name, sep="\t", dtype=str, keep_default_na=False)
    keep = list(dict.fromkeys(table["filename"]))[:CLIPS]
    table[table["filename"].isin(keep)].to_csv(base / f"{set_name}.tsv", sep="\t", index=False)
    for offset, name in enumerate(keep[:-1]):
        write_wav(base / set_name / name, noisy_tones(10.0, 44100, seed=seed + offset), 44100)
    return keep


@pytest.fixture(scope="module")
def imported(tmp_path_factory, tiny_params, fixtures_dir):
    base = tmp_path_factory.mktemp("dcase_sets")
    sets = {name: cut_set(fixtures_dir, base, table, name, seed) for name, table, seed in
            [("syn_eval", "validation.tsv", 0), ("desed_validation", "validation.tsv", 10),
             ("desed_public", "public.tsv", 20)]}
    params = json.loads(json.dumps(tiny_params))
    params["train"]["seeds"] = [1]                 # one training is enough to score the imported sets
    params["real"].update(syn_test_tsv=str(base / "syn_eval.tsv"), syn_test_audio=str(base / "syn_eval"),
                          extra_test_sets={name: {"tsv": str(base / f"{name}.tsv"), "audio": str(base / name)}
                                           for name in ("desed_validation", "desed_public")})
    repo = copy_project(base / "repo", params)
    output = run_command(["dvc", "repro"], repo)
    return repo, sets, output


def test_the_synthetic_test_set_is_imported_with_its_missing_clip_reported(imported):
    repo, sets, output = imported
    keep = sets["syn_eval"]
    report = json.loads((repo / "data/synthetic/test/import_report.json").read_text())
    assert (report["n_listed"], report["n_present"], report["missing"]) == (CLIPS, CLIPS - 1, [keep[-1]])
    clips = pd.read_csv(repo / "data/synthetic/test/clips.tsv", sep="\t")
    assert set(clips["filename"]) == set(keep[:-1])
    assert not (repo / "data/synthetic/test/audio").exists()          # the user's audio stays where it is
    assert "synthetic test (imported from" in output
    assert "seed 1 synthetic test (DCASE 2019 syn): event F1 macro" in output        # evaluate names it so
    assert "seed 1 simulated real-world test: event F1 macro" in output              # the rest stays generated
    assert len(pd.read_csv(repo / "data/synthetic/train/clips.tsv", sep="\t")) == 6   # still generated
    seed = json.loads((repo / "results/eval/seed_1/metrics.json").read_text())
    assert (seed["provenance/syn_test/clips_scored"], seed["provenance/syn_test/clips_missing"]) == (CLIPS - 1, 1)
    assert seed["syn_test/event_files"] == CLIPS - 1


def test_extra_test_sets_are_imported_stored_scored_and_summarised(imported):
    repo, sets, _ = imported
    info = json.loads((repo / "data/features/features.json").read_text())
    seed = json.loads((repo / "results/eval/seed_1/metrics.json").read_text())
    summary = json.loads((repo / "results/summary.json").read_text())
    shown = json.loads((repo / "results/metrics.json").read_text())      # the headline lists extra sets too
    for name in ("desed_validation", "desed_public"):
        assert info["sets"][f"extra_{name}"]["clips"] == CLIPS - 1
        assert json.loads((repo / f"data/extra/{name}/import_report.json").read_text())["missing"] == [sets[name][-1]]
        assert seed[f"{name}/event_files"] == CLIPS - 1 and f"{name}/psds1" in seed
        assert (seed[f"provenance/{name}/clips_scored"], seed[f"provenance/{name}/clips_missing"]) == (CLIPS - 1, 1)
        assert f"{name}/event_f1_macro_mean" in summary and f"{name}/psds1" in shown
    assert info["train_sets"] == ["synthetic_train", "realworld_weak"]    # normalisation never sees them
    tables = run_command(["python", "-m", "ifdsed", "compare", "--out", "tables"], repo)
    extra = (repo / "tables/extra_sets.md").read_text()
    assert "desed_public event F1" in extra and "| baseline | 1 |" in extra, tables
