"""The DVC pipeline end to end, with tiny params, in a throw-away git repository."""
import json

import pytest

from conftest import copy_project, run_command as run


def stages_run(output: str) -> set[str]:
    return {line.split("'")[1].split("@")[0] for line in output.splitlines() if line.startswith("Running stage")}


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_params):
    return copy_project(tmp_path_factory.mktemp("pipeline") / "repo", tiny_params)


def test_repro_then_status_is_clean(project):
    output = run(["dvc", "repro"], project)
    assert "synthetic train: 6 clips" in output
    assert stages_run(output) == {"soundbank", "synthesize", "realworld", "features", "train", "evaluate",
                                  "summarize"}
    for set_dir in ["synthetic/train", "synthetic/test", "realworld/weak", "realworld/validation",
                    "realworld/test"]:
        assert (project / "data" / set_dir / "clips.tsv").is_file()
    assert not (project / "data/realworld/weak/events.tsv").exists()  # weak labels only
    summary = json.loads((project / "results/metrics.json").read_text())
    assert summary["variant"] == "baseline" and summary["n_seeds"] == 2
    assert 0 <= summary["real_test/event_f1_macro_mean"] <= 1
    status = run(["dvc", "status"], project)
    assert "up to date" in status.lower()


def test_new_synth_seed_reruns_only_synthesis_and_what_follows(project):
    before = {path.name: path.read_bytes() for path in (project / "data/realworld/test/audio").iterdir()}
    old_tags = (project / "data/synthetic/train/tags.tsv").read_bytes()
    output = run(["dvc", "exp", "run", "-S", "synth.seed=7"], project)
    assert "synthesize" in stages_run(output)
    assert not stages_run(output) & {"soundbank", "realworld"}
    assert (project / "data/synthetic/train/tags.tsv").read_bytes() != old_tags
    after = {path.name: path.read_bytes() for path in (project / "data/realworld/test/audio").iterdir()}
    assert after == before


def test_branch_switches_rerun_only_training_and_scoring(project):
    output = run(["dvc", "exp", "run", "-S", "model.ifd=true", "-S", "model.sedb=true"], project)
    assert stages_run(output) == {"train", "evaluate", "summarize"}
    summary = json.loads((project / "results/metrics.json").read_text())
    assert summary["variant"] == "SEDB&IFD"
    compared = run(["python", "-m", "pipeline.compare", "--out", "tables"], project)
    table = (project / "tables/table1.md").read_text()
    assert "| SEDB&IFD | 2 |" in table and "| baseline | 2 |" in table, compared


def test_feature_settings_rerun_features_and_what_follows(project):
    output = run(["dvc", "exp", "run", "-S", "features.fmax=7000.0"], project)
    assert stages_run(output) == {"features", "train", "evaluate", "summarize"}
    info = json.loads((project / "data/features/features.json").read_text())
    assert info["config"]["fmax"] == 7000.0
