"""`ifdsed compare` sets variants against a baseline only when they ran with the baseline's params: otherwise it
refuses, naming the params that differ, unless told which runs to compare (--baseline, --experiments)."""
import copy
import json

import pytest

from ifdsed.cli import compare, main
from ifdsed.evaluation import experiments
from ifdsed.evaluation.summary import headline, summarize_run

PARAMS = {"synth": {"seed": 42, "workers": 2}, "model": {"ifd": False, "sedb": False, "ifd_labels": "pseudo"},
          "train": {"epochs": 18, "seeds": [1, 2], "threads": 2}}


def summary(variant: str, f1: float) -> dict:
    """results/summary.json of a two-seed run."""
    return summarize_run([{"variant": variant, "real_test/event_f1_macro": f1 + delta,
                           "syn_test/event_f1_macro": 0.3, "real_test/tagging_f1_macro": 0.5}
                          for delta in (-0.01, 0.01)])


def revision(name: str | None, params: dict, figures: dict, timestamp: str | None) -> dict:
    """A finished run as `dvc exp show --json` lists it (only results/metrics.json is a DVC metric); an
    experiment's other files as an archive record holds them, the workspace's on the disk."""
    entry = {"rev": "workspace" if name is None else "0" * 40, "name": name, "error": None,
             "data": {"timestamp": timestamp, "params": {"params.yaml": {"data": params}},
                      "metrics": {"results/metrics.json": {"data": headline(figures)}}}}
    if name is not None:
        entry["files"] = {"results/summary.json": json.dumps(figures)}
    return entry


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """The workspace's baseline and an IFD experiment; returns a function that sets the IFD run's params."""
    monkeypatch.chdir(tmp_path)
    base = summary("baseline", 0.20)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "summary.json").write_text(json.dumps(base))

    def with_ifd_params(**changes) -> None:
        params = copy.deepcopy(PARAMS)
        params["model"]["ifd"] = True
        for key, value in changes.items():
            section, name = key.split(".")
            params[section][name] = value
        ifd = revision("exp-ifd", params, summary("IFD", 0.25), "2026-12-07T06:00:00")
        shown = [{**revision(None, PARAMS, base, None), "experiments": [{"revs": [ifd]}]}]
        for module in (experiments, compare):
            monkeypatch.setattr(module, "show", lambda all_commits=False: shown)
    return with_ifd_params


def test_variants_run_with_the_baseline_s_params_are_compared(runs, tmp_path, capsys):
    runs(**{"synth.workers": 1, "train.threads": 1})          # params that never change a result may differ
    assert main(["compare", "--out", "tables"]) == 0
    out = capsys.readouterr().out
    assert "experiments used: IFD: exp-ifd, baseline: workspace" in out and "differs from the baseline" not in out
    assert "| IFD | 2 | 0.250 +- 0.014" in (tmp_path / "tables" / "table1.md").read_text()


def test_a_variant_whose_other_params_differ_is_refused_naming_them(runs, tmp_path, capsys):
    runs(**{"synth.seed": 7, "train.epochs": 2})
    assert main(["compare", "--out", "tables"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("compare: IFD (exp-ifd) differs from the baseline (workspace) in "
                                                   "synth.seed (42 -> 7), train.epochs (18 -> 2): ")
    assert "--baseline NAME" in err and not (tmp_path / "tables").exists()


def test_a_named_baseline_is_compared_with_a_warning(runs, tmp_path, capsys):
    runs(**{"synth.seed": 7})
    assert main(["compare", "--out", "tables", "--baseline", "workspace"]) == 0
    out = capsys.readouterr().out
    assert "compare: warning: IFD (exp-ifd) differs from the baseline (workspace) in synth.seed (42 -> 7)" in out
    assert (tmp_path / "tables" / "table1.md").exists()
    assert main(["compare", "--out", "tables", "--baseline", "exp-ifd"]) == 1        # not a baseline run
    assert "--baseline exp-ifd: no finished experiment of that name" in capsys.readouterr().err
