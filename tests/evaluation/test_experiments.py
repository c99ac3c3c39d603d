"""ifdsed.evaluation.experiments: an archived experiment reads back like a live one (its files from the record,
a live one's from its git commit), and a live experiment hides an archived one of the same name."""
import json
import subprocess

import ifdsed.evaluation.experiments as experiments
from ifdsed.evaluation.experiments import archive_record, archived_revisions, experiment_file


def committed_experiment(root, monkeypatch) -> dict:
    """A git repository in `root` (the working directory) with one commit holding two result files, as a revision
    of `dvc exp show --json`."""
    (root / "results").mkdir()
    (root / "results" / "metrics.json").write_text('{"f1": 0.5}\n')
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
    record = archive_record(live, ["results/log.tsv", "results/absent.tsv"])
    assert record["files"] == {"results/log.tsv": "step\tf1\n0\t0.5\n"}          # only what the commit has
    assert set(record["data"]) == {"timestamp", "params", "metrics"}               # no deps or outs
    assert record["data"]["metrics"] == live["data"]["metrics"] and record["rev"] == live["rev"]
    assert record["machine"]["cpu"] and record["machine"]["python"]
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "final-ifd-e80.json").write_text(json.dumps(record))
    (read,) = archived_revisions(archive)
    assert experiment_file(read, "results/log.tsv") == experiment_file(live, "results/log.tsv")
    assert experiment_file(read, "results/absent.tsv") is None


def test_a_live_experiment_hides_the_archived_one_of_its_name(tmp_path, monkeypatch):
    def record(name, f1):
        return {"name": name, "rev": "0" * 40, "files": {}, "data": {"metrics": {"m": {"data": {"f1": f1}}}}}
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in ("final-ifd-e80", "final-sedb-e80"):
        (archive / f"{name}.json").write_text(json.dumps(record(name, 0.1)))
    shown = [{"rev": "workspace", "experiments": [{"revs": [record("final-ifd-e80", 0.9)]}]}]
    monkeypatch.setattr(experiments, "show", lambda all_commits=False: shown)
    found = list(experiments.experiment_revisions(archive))
    assert [(r["name"], r["data"]["metrics"]["m"]["data"]["f1"]) for r in found] == [("final-ifd-e80", 0.9),
                                                                                     ("final-sedb-e80", 0.1)]
    assert [r["name"] for r in experiments.experiment_revisions(None)] == ["final-ifd-e80"]   # live ones only
