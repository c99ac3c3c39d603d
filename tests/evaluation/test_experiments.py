"""ifdsed.evaluation.experiments: an archived experiment reads back like a live one (its files from the record,
a live one's from its git commit), and a live experiment hides an archived one of the same name."""
import json
import subprocess

import pytest

import ifdsed.evaluation.experiments as experiments
from ifdsed.evaluation.experiments import (archive_record, archived_revisions, experiment_file, param_differences,
                                          result, summary_of)
from ifdsed.evaluation.summary import headline, summarize_run


def committed_experiment(root, monkeypatch) -> dict:
    """A git repository in `root` (the working directory) with one commit holding result files (the headline, the
    summary, a seed's training metrics, a log), as a revision of `dvc exp show --json`: only the headline is a
    DVC metric."""
    (root / "results" / "train" / "seed_1").mkdir(parents=True)
    (root / "results" / "metrics.json").write_text('{"f1": 0.5}\n')
    (root / "results" / "summary.json").write_text('{"f1": 0.5, "f1/Dog": 0.25}\n')
    (root / "results" / "train" / "seed_1" / "metrics.json").write_text('{"best_epoch": 3}\n')
    (root / "results" / "log.tsv").write_text("step\tf1\n0\t0.5\n")
    monkeypatch.chdir(root)
    for command in (["init", "-q"], ["add", "results"],
                    ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "results"]):
        subprocess.run(["git", *command], check=True)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    return {"name": "final-ifd-e80", "rev": rev, "error": None,
            "data": {"timestamp": "2026-12-01T12:00:00", "params": {"params.yaml": {"data": {"train": {"seeds": [1]}}}},
                     "metrics": {"results/metrics.json": {"data": {"f1": 0.5}}}, "deps": {"big": "dropped"}}}


def test_an_archive_record_keeps_the_files_asked_for_and_reads_back_like_the_live_experiment(tmp_path, monkeypatch):
    live = committed_experiment(tmp_path, monkeypatch)
    assert experiment_file(live, "results/log.tsv") == "step\tf1\n0\t0.5\n"
    assert experiment_file(live, "results/absent.tsv") is None
    assert summary_of(live) == {"f1": 0.5, "f1/Dog": 0.25}                  # results/summary.json, from the commit
    assert result(live, "results/train/seed_1/metrics.json") == {"best_epoch": 3}
    assert result(live, "results/metrics.json") == {"f1": 0.5}              # a DVC metric: as dvc exp show lists it
    record = archive_record(live, ["results/log.tsv", "results/absent.tsv"])
    # what the commit has of the files asked for, and of the result files that are not DVC metrics (seed 1's)
    assert record["files"] == {"results/log.tsv": "step\tf1\n0\t0.5\n",
                               "results/summary.json": '{"f1": 0.5, "f1/Dog": 0.25}\n',
                               "results/train/seed_1/metrics.json": '{"best_epoch": 3}\n'}
    assert set(record["data"]) == {"timestamp", "params", "metrics"}               # no deps or outs
    assert record["data"]["metrics"] == live["data"]["metrics"] and record["rev"] == live["rev"]
    assert record["machine"]["cpu"] and record["machine"]["python"]
    assert record["archived_utc"].endswith("+00:00")
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "final-ifd-e80.json").write_text(json.dumps(record))
    (read,) = archived_revisions(archive)
    assert experiment_file(read, "results/log.tsv") == experiment_file(live, "results/log.tsv")
    assert experiment_file(read, "results/absent.tsv") is None
    assert summary_of(read) == summary_of(live)
    assert result(read, "results/train/seed_1/metrics.json") == {"best_epoch": 3}


def test_the_workspace_results_are_read_from_the_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "summary.json").write_text('{"n_seeds": 3}')
    workspace = {"rev": "workspace", "name": None,
                 "data": {"metrics": {"results/metrics.json": {"data": {"n_seeds": 3}}}}}
    assert summary_of(workspace) == {"n_seeds": 3}
    assert result(workspace, "results/eval/seed_1/metrics.json") is None
    assert summary_of({"rev": "workspace", "data": {"metrics": {}}}) is None    # no summarize stage has run


def test_a_run_from_before_the_headline_split_reads_its_summary_from_its_metrics():
    # results/metrics.json held every figure then, and each seed's metrics were DVC metrics too
    old = {"name": "final-ifd-e80", "rev": "0" * 40, "files": {},
           "data": {"metrics": {"results/metrics.json": {"data": {"f1/Dog_mean": 0.5}},
                                "results/eval/seed_1/metrics.json": {"data": {"f1": 0.4}}}}}
    assert summary_of(old) == {"f1/Dog_mean": 0.5}
    assert result(old, "results/eval/seed_1/metrics.json") == {"f1": 0.4}


def test_param_differences_name_what_differs_but_the_variant_and_what_never_changes_a_result():
    base = {"synth": {"seed": 42, "workers": 2}, "model": {"ifd": False, "sedb": False, "lambda_ifd": 1.0},
            "train": {"epochs": 18, "seeds": [1, 2, 3], "threads": 2, "device": "auto", "prefetch": 2}}
    other = {"synth": {"seed": 7, "workers": 1}, "model": {"ifd": True, "sedb": True, "lambda_ifd": 1.0},
             "train": {"epochs": 2, "seeds": [1], "threads": 1, "device": "cuda:1", "prefetch": 0, "mixup": True}}
    assert param_differences(base, other) == {"synth.seed": (42, 7), "train.epochs": (18, 2),
                                              "train.mixup": (None, True), "train.seeds": ([1, 2, 3], [1])}
    assert param_differences(base, base) == {}


def test_a_live_experiment_hides_the_archived_one_of_its_name_unless_it_is_only_queued(tmp_path, monkeypatch):
    def record(name, f1):
        return {"name": name, "rev": "0" * 40, "files": {}, "data": {"metrics": {"m": {"data": {"f1": f1}}}}}
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in ("final-ifd-e80", "final-sedb-e80"):
        (archive / f"{name}.json").write_text(json.dumps(record(name, 0.1)))
    queued = {"executor": {"state": "queued"}, "revs": [record("final-sedb-e80", 0)]}   # no result yet
    shown = [{"rev": "workspace", "experiments": [{"revs": [record("final-ifd-e80", 0.9)]}, queued]}]
    monkeypatch.setattr(experiments, "show", lambda all_commits=False: shown)
    found = list(experiments.experiment_revisions(archive))
    assert [(r["name"], r["data"]["metrics"]["m"]["data"]["f1"]) for r in found] == [("final-ifd-e80", 0.9),
                                                                                     ("final-sedb-e80", 0.1)]
    assert [r["name"] for r in experiments.experiment_revisions(None)] == ["final-ifd-e80"]   # live ones only
    assert [r["name"] for r in experiments.live_experiments(pending=True)] == ["final-sedb-e80"]


def seed_run(name: str, seed: int, f1: float, timestamp: str = "2026-12-01T12:00:00", lr: float = 0.0018) -> dict:
    """A finished one-seed experiment as `dvc exp show` lists it, with a file of its own."""
    metrics = {f"results/eval/seed_{seed}/metrics.json": {"data": {"variant": "IFD", "real_test/event_f1_macro": f1,
                                                                   "provenance/torch": "2.13.0"}},
               f"results/diagnostics/seed_{seed}/metrics.json": {"data": {"pseudo_label_precision": 0.5}},
               f"results/train/seed_{seed}/energy.json": {"data": {"energy_kwh": 0.001}},
               "results/metrics.json": {"data": {"n_seeds": 1}}}
    return {"name": f"{name}-s{seed}", "rev": "0" * 40, "error": None, "files": {f"log_{seed}.tsv": f"seed {seed}"},
            "data": {"timestamp": timestamp, "metrics": metrics,
                     "params": {"params.yaml": {"data": {"model": {"ifd": True},
                                                          "train": {"seeds": [seed], "lr": lr}}}}}}


def test_one_seed_runs_merge_into_one_experiment_summarized_over_all_seeds():
    from ifdsed.evaluation.experiments import merge_seed_runs
    runs = [seed_run("final-ifd-e80", 2, 0.30), seed_run("final-ifd-e80", 1, 0.99, "2026-12-01T11:00:00"),
            seed_run("final-ifd-e80", 1, 0.20, "2026-12-01T13:00:00"),        # seed 1 again, newer: it counts
            {"name": "final-sedb", "rev": "1" * 40, "data": {}}]
    merged = {revision["name"]: revision for revision in merge_seed_runs(runs)}
    assert set(merged) == {"final-ifd-e80", "final-sedb"}
    run = merged["final-ifd-e80"]
    assert run["data"]["params"]["params.yaml"]["data"] == {"model": {"ifd": True}, "train": {"seeds": [1, 2],
                                                                                              "lr": 0.0018}}
    summary = run["data"]["metrics"]["results/summary.json"]["data"]
    assert run["data"]["metrics"]["results/metrics.json"]["data"] == headline(summary)
    assert summary_of(run) == summary
    newest = {1: runs[2], 2: runs[0]}
    seeds = [{**newest[seed]["data"]["metrics"][f"results/diagnostics/seed_{seed}/metrics.json"]["data"],
              **newest[seed]["data"]["metrics"][f"results/eval/seed_{seed}/metrics.json"]["data"]} for seed in (1, 2)]
    assert summary == summarize_run(seeds)            # what the summarize stage writes for the same two seeds
    assert summary["n_seeds"] == 2 and summary["variant"] == "IFD" and summary["provenance/torch"] == "2.13.0"
    assert summary["real_test/event_f1_macro_mean"] == pytest.approx(0.25)
    assert {"results/train/seed_1/energy.json", "results/train/seed_2/energy.json"} <= set(run["data"]["metrics"])
    assert run["data"]["timestamp"] == "2026-12-01T13:00:00"
    assert experiment_file(run, "log_2.tsv") == "seed 2" and experiment_file(run, "log_3.tsv") is None
    # a finished experiment of the merged name itself wins: its one-seed runs stay apart; an unfinished one does not
    whole = {"name": "final-ifd-e80", "data": {"metrics": {"results/metrics.json": {"data": {"n_seeds": 8}}}}}
    names = [revision["name"] for revision in merge_seed_runs(runs + [whole])]
    assert sorted(names) == ["final-ifd-e80", "final-ifd-e80-s1", "final-ifd-e80-s2", "final-sedb"]
    assert [r["name"] for r in merge_seed_runs([*runs[:3], {"name": "final-ifd-e80", "data": {}}])].count(
        "final-ifd-e80") == 2
    # a one-seed run without its summary (it failed, or is still running) is not a part
    unfinished = seed_run("final-ifd-e80", 3, 0.5)
    del unfinished["data"]["metrics"]["results/metrics.json"]
    merged = [r for r in merge_seed_runs([*runs[:3], unfinished]) if r["name"] == "final-ifd-e80"]
    assert merged[0]["data"]["params"]["params.yaml"]["data"]["train"]["seeds"] == [1, 2]


def test_one_seed_runs_whose_seed_files_are_not_dvc_metrics_merge_the_same():
    # since only results/metrics.json is a DVC metric, a seed's files come from the run's commit or record
    from ifdsed.evaluation.experiments import merge_seed_runs
    old = [seed_run("final-ifd-e80", 1, 0.20), seed_run("final-ifd-e80", 2, 0.30)]
    new = []
    for run in old:
        metrics = run["data"]["metrics"]
        files = {path: json.dumps(entry["data"]) for path, entry in metrics.items() if path != "results/metrics.json"}
        new.append({**run, "files": {**run["files"], **files},
                    "data": {**run["data"], "metrics": {"results/metrics.json": metrics["results/metrics.json"]}}})
    (from_metrics,), (from_files,) = merge_seed_runs(old), merge_seed_runs(new)
    assert summary_of(from_files) == summary_of(from_metrics)
    assert summary_of(from_files)["real_test/event_f1_macro_mean"] == pytest.approx(0.25)
    assert result(from_files, "results/train/seed_2/energy.json") == {"energy_kwh": 0.001}


def test_one_seed_runs_with_other_params_are_not_one_experiment(capsys):
    from ifdsed.evaluation.experiments import merge_seed_runs
    runs = [seed_run("final-ifd-e80", 1, 0.2), seed_run("final-ifd-e80", 2, 0.3, lr=0.0036)]
    assert [r["name"] for r in merge_seed_runs(runs)] == ["final-ifd-e80-s1", "final-ifd-e80-s2"]
    assert "final-ifd-e80-s1, final-ifd-e80-s2 are named as runs of one experiment" in capsys.readouterr().out


def test_each_run_says_which_cpu_it_trained_on():
    import torch
    from ifdsed.evaluation.experiments import machine, machines, merge_seed_runs
    old_record = {**seed_run("final-ifd-e80", 1, 0.2), "machine": {"cpu": "AMD EPYC"}}
    archived = {**seed_run("final-ifd-e80", 2, 0.3),
                "machine": {"cpu": "AMD EPYC", "cpu_capability": "AVX2", "native_bfloat16": False}}
    live = {key: value for key, value in seed_run("final-ifd-e80", 3, 0.4).items() if key != "files"}
    (merged,) = merge_seed_runs([old_record, archived, live])
    here = machine()
    assert here["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    bfloat16 = "native bfloat16" if here["native_bfloat16"] else "no native bfloat16"
    assert machines(merged) == ["AMD EPYC", "AMD EPYC (AVX2, no native bfloat16)",
                                f"{here['cpu']} ({here['cpu_capability']}, {bfloat16})"]


def test_reading_experiments_without_dvc_on_path_says_how_to_get_it(monkeypatch):
    from ifdsed.evaluation.experiments import show
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SystemExit, match="`dvc` is not on PATH"):
        show()
