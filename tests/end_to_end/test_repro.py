"""The DVC pipeline end to end, with tiny params, in a throw-away git repository: a repro from clean, what a
params change reruns, and a repro killed mid-way then run again (docs/reliability.md).

The tests that share the `project` fixture run in file order, each from the state the one before left (one
pipeline run each instead of one per test): the comparison in the branch-switch test finds its baseline row in the
synth-seed experiment before it."""
import json
import os
import signal
import subprocess
import time

import pytest

from ifdsed.evaluation.summary import headline
from ifdsed.soundbank.pools import shared_sources
from tests.helpers import copy_project, environment, run_command as run


def stages_run(output: str) -> set[str]:
    return {line.split("'")[1].split("@")[0] for line in output.splitlines() if line.startswith("Running stage")}


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_params):
    params = json.loads(json.dumps(tiny_params))
    params["train"]["track_energy"] = True        # the energy files and cost table are checked here
    # the probe on event frames (domain_gap_accuracy_events) needs MIN_FRAMES event frames in each half of each
    # domain's test clips: at 156 frames a clip, 3 synthetic or 4 real-world test clips can fall short
    params["synth"]["test_clips"], params["realworld"]["test_clips"] = 6, 8
    return copy_project(tmp_path_factory.mktemp("pipeline") / "repo", params)


def test_repro_then_status_is_clean(project):
    output = run(["dvc", "repro"], project)
    assert "synthetic train: 6 clips" in output
    # evaluate's log names the generated sets for what they are (ifdsed.evaluation.set_titles), never as DCASE's
    assert "seed 1 simulated real-world test: event F1 macro" in output
    assert "seed 1 synthetic test (generated, held-out sounds): event F1 macro" in output
    assert stages_run(output) == {"soundbank", "synthesize", "realworld", "extra_sets", "features", "train",
                                  "evaluate", "diagnose", "summarize"}
    for set_dir in ["synthetic/train", "synthetic/test", "realworld/weak", "realworld/validation",
                    "realworld/test"]:
        assert (project / "data" / set_dir / "clips.tsv").is_file()
    assert not (project / "data/realworld/weak/events.tsv").exists()  # weak labels only
    # held-out sources, from the pipeline's own records; the hidden timestamps where only the oracle arm looks
    data = project / "data"
    assert shared_sources([data / "synthetic/train"], [data / "synthetic/test"]) == set()
    assert shared_sources([data / "realworld/weak"], [data / "realworld/validation", data / "realworld/test"]) == set()
    assert (data / "realworld/weak_frame_labels/pseudo/README.txt").is_file()
    assert (data / "realworld/weak_frame_labels/oracle/weak_events.tsv").is_file()
    summary = json.loads((project / "results/summary.json").read_text())
    assert summary["variant"] == "baseline" and summary["n_seeds"] == 2
    assert 0 <= summary["real_test/event_f1_macro_mean"] <= 1
    shown = json.loads((project / "results/metrics.json").read_text())   # what dvc exp show lists: the headline
    assert shown == headline(summary) and len(shown) < 20
    assert shown["real_test/event_f1"] == summary["real_test/event_f1_macro_mean"] and shown["seeds"] == 2
    seed = json.loads((project / "results/eval/seed_1/metrics.json").read_text())
    assert 0 <= seed["real_test/event_f1_macro_ci_low"] <= seed["real_test/event_f1_macro_ci_high"] <= 1
    status = run(["dvc", "status"], project)
    assert "up to date" in status.lower()


def test_predict_gives_evaluate_s_predictions_on_the_same_clips(project):
    """One detector: `ifdsed predict` on a test set's audio files writes the very table `evaluate` wrote for
    that set from the feature store (same events, same times, same bytes)."""
    tables = 0
    for key, audio in (("real_test", "data/realworld/test/audio"), ("syn_test", "data/synthetic/test/audio")):
        run(["python", "-m", "ifdsed", "predict", audio, "--model", "data/train/seed_1/checkpoints/best.pt",
             "--out", f"predicted_{key}.tsv"], project)
        evaluated = (project / f"data/eval/seed_1/predictions/{key}.tsv").read_text()
        assert (project / f"predicted_{key}.tsv").read_text() == evaluated
        tables += evaluated.count("\n") - 1
    assert tables > 0, "no event in either set: the comparison would be empty"


def test_new_synth_seed_and_feature_settings_rerun_only_what_follows_them(project):
    """One experiment changes a synthesis seed and a feature setting (one pipeline run, not two): synthesis and
    features rerun with everything after them; the sound bank and the real-world domain do not."""
    before = {path.name: path.read_bytes() for path in (project / "data/realworld/test/audio").iterdir()}
    old_tags = (project / "data/synthetic/train/tags.tsv").read_bytes()
    old_summary = json.loads((project / "results/summary.json").read_text())
    output = run(["dvc", "exp", "run", "-S", "synth.seed=7", "-S", "features.fmax=7000.0"], project)
    # provenance: the synthetic test set changed, the real-world one did not, and both were fully scored
    summary = json.loads((project / "results/summary.json").read_text())
    assert summary["provenance/syn_test/fingerprint"] != old_summary["provenance/syn_test/fingerprint"]
    assert summary["provenance/real_test/fingerprint"] == old_summary["provenance/real_test/fingerprint"]
    assert (summary["provenance/real_test/clips_scored"], summary["provenance/real_test/clips_missing"]) == (8, 0)
    assert summary["provenance/git_revision"] and summary["provenance/sed_eval"]
    assert stages_run(output) == {"synthesize", "features", "train", "evaluate", "diagnose", "summarize"}
    assert (project / "data/synthetic/train/tags.tsv").read_bytes() != old_tags
    after = {path.name: path.read_bytes() for path in (project / "data/realworld/test/audio").iterdir()}
    assert after == before
    info = json.loads((project / "data/features/features.json").read_text())
    assert info["config"]["fmax"] == 7000.0


def test_branch_switches_rerun_only_training_and_scoring(project):
    """Both branches and a mean teacher (which trains on the unlabelled set besides): training and scoring rerun."""
    output = run(["dvc", "exp", "run", "-S", "model.ifd=true", "-S", "model.sedb=true", "-S", "model.mean_teacher=true"],
                 project)
    assert stages_run(output) == {"train", "evaluate", "diagnose", "summarize"}
    assert "+ 4 unlabelled clips an epoch" in output                         # as many as labelled ones
    summary = json.loads((project / "results/summary.json").read_text())
    assert summary["variant"] == "SEDB&IFD+MT"
    logged = (project / "results/train/seed_1/plots/metrics/validation").iterdir()
    assert {"event_f1_macro.tsv", "student_event_f1_macro.tsv"} <= {path.name for path in logged}
    assert 0 <= summary["pseudo_label_precision_mean"] <= 1 and 0 <= summary["domain_gap_accuracy_events_mean"] <= 1
    compared = run(["python", "-m", "ifdsed", "compare", "--out", "tables"], project)
    table = (project / "tables/table1.md").read_text()
    assert "| SEDB&IFD+MT | 2 |" in table and "| baseline | 2 |" in table, compared
    diagnostics = (project / "tables/diagnostics.md").read_text()
    assert "| SEDB&IFD+MT | 2 |" in diagnostics and "domain gap, event frames" in diagnostics
    assert (project / "tables/domain_gap.png").stat().st_size > 1000       # the same probe, drawn
    cost = (project / "tables/cost.md").read_text()
    assert summary["cost/macs_per_clip"] > 0 and f"| SEDB&IFD+MT | {summary['cost/macs_per_clip'] / 1e6:.1f} M |" in cost
    energy = json.loads((project / "results/train/seed_1/energy.json").read_text())
    assert energy["energy_kwh"] >= 0 and "Energy measured by: codecarbon" in cost
    assert not any("energy" in key for key in summary)      # a measurement: kept out of the reproducible summary


@pytest.mark.skipif(os.environ.get("IFDSED_SKIP_DVC") == "1", reason="IFDSED_SKIP_DVC=1")
def test_dvc_repro_completes_after_a_stage_is_killed(tmp_path, tiny_params):
    """`dvc repro` of the data stages, killed mid-way through synthesis, then run again: it completes, and
    `dvc status` is clean (nothing of the killed run was taken as complete)."""
    raw = json.loads(json.dumps(tiny_params))
    raw["classes"] = ["Dog", "Speech"]
    raw["soundbank"].update(workers=1)   # tiny's 3 files a group: the least that holds out validation and test
    raw["synth"].update(train_clips=4, test_clips=1, workers=1)
    repo = copy_project(tmp_path / "repo", raw)
    process = subprocess.Popen(["dvc", "repro", "synthesize"], cwd=repo, env=environment(repo),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    audio = repo / "data" / "synthetic" / "train" / "audio"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (audio.is_dir() and any(audio.glob("*.wav"))):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert audio.is_dir(), "synthesis never started"
    assert not (repo / "data" / "synthetic" / "test" / "clips.tsv").exists()   # killed before the end
    output = run(["dvc", "repro", "synthesize"], repo)
    assert "synthetic train: 4 clips" in output
    assert "up to date" in run(["dvc", "status", "synthesize"], repo).lower()
