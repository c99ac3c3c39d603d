"""study.arms: the diagnostic arms are queued with only their own keys changed, and tabled from their summaries
with Welch's interval of each contrast."""
import json

import pytest

import study.arms as arms
from ifdsed.evaluation.statistics import welch
from ifdsed.evaluation.summary import summarize_run


def record(name: str, validation: list[float]) -> dict:
    """An archived arm: its summary among its files (only results/metrics.json is a DVC metric)."""
    summary = summarize_run([{"variant": "IFD", "real_validation/event_f1_macro": value,
                              "real_test/event_f1_macro": value - 0.01} for value in validation])
    return {"name": name, "rev": "0" * 40, "files": {"results/summary.json": json.dumps(summary)},
            "data": {"metrics": {"results/metrics.json": {"data": {"seeds": len(validation)}}},
                     "params": {"params.yaml": {"data": {"train": {"seeds": [1, 2, 3]}}}}}}


def test_each_arm_is_queued_with_its_own_keys_only(monkeypatch):
    commands = []
    monkeypatch.setattr(arms.subprocess, "run", lambda command, check: commands.append(command))
    arms.queue()
    assert commands[0] == ["dvc", "exp", "run", "--queue", "--name", "arm-baseline"]
    assert commands[2] == ["dvc", "exp", "run", "--queue", "--name", "arm-ifd-cross",
                           "-S", "model.ifd=true", "-S", "model.ifd_domains=cross"]
    assert len(commands) == len(arms.ARM_SETS["pairing"].arms)


def test_the_mean_teacher_set_queues_its_own_arms(monkeypatch):
    commands = []
    monkeypatch.setattr(arms.subprocess, "run", lambda command, check: commands.append(command))
    arms.queue(arms.ARM_SETS["mean-teacher"])
    assert commands == [
        ["dvc", "exp", "run", "--queue", "--name", "mt-baseline"],
        ["dvc", "exp", "run", "--queue", "--name", "mt-baseline-mt", "-S", "model.mean_teacher=true"],
        ["dvc", "exp", "run", "--queue", "--name", "mt-sedb-ifd-mt", "-S", "model.mean_teacher=true",
         "-S", "model.sedb=true", "-S", "model.ifd=true"],
        ["dvc", "exp", "run", "--queue", "--name", "mt-baseline-mt-w0", "-S", "model.mean_teacher=true",
         "-S", "model.consistency_weight=0"]]
    for arm, base in arms.ARM_SETS["mean-teacher"].contrasts:          # every contrast joins two of its arms
        assert {arm, base} <= set(arms.ARM_SETS["mean-teacher"].arms)


def test_the_table_gives_each_arm_and_each_contrast_with_its_interval(monkeypatch):
    records = [record("arm-ifd-all", [0.14, 0.17, 0.12]), record("arm-ifd-cross", [0.15, 0.14, 0.145]),
               record("final-ifd-e80", [0.9, 0.9, 0.9])]                       # not an arm: left out
    monkeypatch.setattr(arms, "experiment_revisions", lambda: records)
    found = arms.summaries()
    assert set(found) == {"arm-ifd-all", "arm-ifd-cross"}
    text = arms.table(found)
    cross, base = found["arm-ifd-cross"], found["arm-ifd-all"]
    key = "real_validation/event_f1_macro"
    test = welch(cross[f"{key}_mean"], cross[f"{key}_std"], 3, base[f"{key}_mean"], base[f"{key}_std"], 3)
    assert f"| arm-ifd-cross - arm-ifd-all | {float(test.diff):+.3f} ({float(test.low):+.3f} to " in text
    assert f"| arm-ifd-all | 3 | {base[key + '_mean']:.3f} +- " in text
    assert "arm-ifd-oracle" not in text and "final-ifd" not in text                 # only what has run
    assert float(test.diff) == pytest.approx(0.145 - 0.14333333, abs=1e-6)
