"""The IFD study's recipes (study/): the search gives every variant the same budget under valid experiment names,
and the final table has the columns the study publishes, with Welch's p against the baseline."""
import json
import re

import pandas as pd
import pytest

from study.final import COLUMNS, PAPER, REFERENCE, compact_markdown, final_table, markdown, tables
import study.sweep as sweep
from study.sweep import ROUNDS, SCHEDULE, VARIANTS, experiment_name


def test_every_round_gives_every_variant_the_same_number_of_settings():
    for round_, variants in ROUNDS.items():
        assert set(variants) == set(VARIANTS), round_
        assert len({len(settings) for settings in variants.values()}) == 1, round_


def test_experiment_names_are_unique_valid_ref_names_and_settings_name_real_params():
    import yaml
    from tests.helpers import ROOT
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    names = []
    for round_, variants in ROUNDS.items():
        for variant, settings in variants.items():
            for setting in settings:
                names.append(experiment_name(round_, variant, setting))
                assert set(setting) <= set(sweep.BASE), setting   # every setting's key has its starting value
                for key in {**setting, **SCHEDULE, **sweep.BASE, **sweep.PINNED}:
                    section, name = key.split(".")
                    assert name in params[section], key     # `dvc exp run -S` fails for keys not in params.yaml
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) and ".." not in name for name in names)


def summary(mean):
    return {"n_seeds": 8, "real_test/event_f1_macro_mean": mean, "real_test/event_f1_macro_std": 0.02,
            "domain_gap_accuracy_events_mean": mean + 0.5, "domain_gap_accuracy_events_std": 0.01}


def test_the_final_table_has_the_published_columns_and_p_against_the_baseline():
    table = final_table({"baseline": summary(0.30), "IFD": summary(0.33)})
    assert list(table.columns) == COLUMNS
    row = table[(table.variant == "IFD") & (table.test_set == "real_test") & (table.metric == "event_f1_macro")]
    assert row["mean"].item() == pytest.approx(0.33) and row["p_vs_baseline"].item() < 0.05
    base = table[(table.variant == "baseline") & (table.metric == "event_f1_macro") & (table.test_set == "real_test")]
    assert pd.isna(base["p_vs_baseline"].item())
    gap = table[(table.variant == "IFD") & (table.metric == "domain_gap_accuracy_events")]
    assert gap["test_set"].item() == "both" and gap["mean"].item() == pytest.approx(0.83)
    assert f"{PAPER[('IFD', 'real_test', 'event_f1_macro')][0]:.3f}" in markdown(table)
    compact = compact_markdown(table).splitlines()
    assert compact[2].startswith("| baseline | 8 | 0.300 +- 0.020 | n/a |")
    assert compact[3].startswith("| IFD | 8 | 0.330 +- 0.020 (p = ") and compact[3].endswith("0.830 +- 0.010 (p = 0.000) |")


def test_the_reference_run_is_the_baseline_of_a_second_table_only():
    """collect: final.csv sets each variant against the selected baseline, final-vs-start.csv against REFERENCE."""
    runs = {"final-baseline": summary(0.30), "final-ifd": summary(0.30), REFERENCE: summary(0.25)}
    made = tables(runs)
    assert set(made) == {"final", "vs-start"}

    def ifd_p(table):
        row = table[(table.variant == "IFD") & (table.test_set == "real_test") & (table.metric == "event_f1_macro")]
        return row["p_vs_baseline"].item()
    assert ifd_p(made["final"]) == pytest.approx(1.0) and ifd_p(made["vs-start"]) < 0.001
    base = made["vs-start"]
    reference = base[(base.variant == "baseline") & (base.test_set == "real_test") & (base.metric == "event_f1_macro")]
    assert reference["mean"].item() == pytest.approx(0.25)
    assert set(tables({"final-ifd": summary(0.3)})) == {"final"}     # no reference run: no second table
    longer = tables({"final-baseline-e80": summary(0.30), "final-ifd-e80": summary(0.30), f"{REFERENCE}-e80":
                     summary(0.25), "final-ifd": summary(0.9)}, epochs=80)   # runs at another cap: by name only
    assert ifd_p(longer["vs-start"]) < 0.001 and ifd_p(longer["final"]) == pytest.approx(1.0)


def test_two_experiments_of_one_variant_are_drawn_as_two_curves():
    from study.curves import series_labels
    table = pd.DataFrame({"experiment": ["final-baseline", "final-baseline-start", "final-ifd"],
                          "variant": ["baseline", "baseline", "IFD"]})
    assert series_labels(table).tolist() == ["baseline (final-baseline)", "baseline (final-baseline-start)", "IFD"]


def test_the_curves_figures_are_drawn_from_a_long_table(tmp_path):
    from study.curves import FIGURES, draw
    rows = [("e", variant, seed, epoch, metric, 0.1 * epoch + seed)
            for variant in ("baseline", "IFD") for seed in (1, 2) for epoch in (1, 2, 3)
            for metric in ("validation/event_f1_macro", "pseudo_label/precision")]
    table = pd.DataFrame(rows, columns=["experiment", "variant", "seed", "epoch", "metric", "value"])
    written = draw(table, tmp_path)
    assert [path.name for path in written] == ["validation.png", "pseudo_labels.png"]   # no data: no figure
    assert all(path.stat().st_size > 1000 for path in written) and set(FIGURES) >= {"validation", "pairs"}


def test_the_search_table_shows_each_settings_gain_over_its_variants_defaults():
    table = pd.DataFrame([
        {"round": 0, "variant": "IFD", "setting": "params.yaml", "validation_event_f1_mean": 0.30,
         "validation_event_f1_std": 0.01, "validation_event_f1_per_seed": "0.2900 0.3100", "best_epochs": "10 12",
         "epochs_run": "20 22", "pseudo_label_precision_mean": 0.6},
        {"round": 1, "variant": "IFD", "setting": "model.lambda_ifd=0.3", "validation_event_f1_mean": 0.325,
         "validation_event_f1_std": 0.02, "validation_event_f1_per_seed": "0.3100 0.3400", "best_epochs": "9 40",
         "epochs_run": "19 40", "pseudo_label_precision_mean": float("nan")}])
    lines = sweep.markdown(table).splitlines()
    assert lines[2] == "| 0 | IFD | params.yaml | 0.300 +- 0.010 |  | 0.2900, 0.3100 | 10, 12 | 20, 22 | 0.60 |"
    assert lines[3] == "| 1 | IFD | model.lambda_ifd=0.3 | 0.325 +- 0.020 | +0.025 | 0.3100, 0.3400 | 9, 40 | 19, 40 |  |"


def test_the_selection_rule_takes_the_best_setting_only_beyond_the_margin_and_only_when_complete():
    """A variant whose best setting is more than MARGIN above its round-0 score gets that setting; one within the
    margin keeps params.yaml's values ({}); one whose search has not finished is not selected at all."""

    def scores(variant: str, gain: float) -> list[dict]:
        """Round 0 at 0.30, the first round-1 setting at 0.30 + gain, every other setting at 0.27."""
        rows = []
        for round_, variants in sweep.ROUNDS.items():
            for index, setting in enumerate(variants[variant]):
                score = 0.30 if round_ == 0 else 0.30 + gain if (round_, index) == (1, 0) else 0.27
                rows.append({"experiment": sweep.experiment_name(round_, variant, setting),
                             "validation_event_f1_mean": score})
        return rows

    table = pd.DataFrame(scores("baseline", 0.005) + scores("IFD", 0.05) + scores("SEDB", -0.02)
                         + scores("SEDB&IFD", 0.05)[:-1])            # SEDB&IFD: its last setting has not run
    chosen = sweep.select(table)
    assert chosen == {"baseline": {}, "IFD": sweep.ROUNDS[1]["IFD"][0], "SEDB": {}}


def test_the_final_queue_passes_the_search_start_and_each_variants_selected_setting(monkeypatch):
    """study.final queue: every experiment gets the schedule, the 8 seeds and BASE, then the variant's selected
    setting on top; --reference queues the baseline at BASE alone; an incomplete search refuses to queue."""
    import study.final as final
    selected = {"baseline": {"train.lr": 0.0036}, "IFD": {"model.ifd_theta": 0.3}}
    monkeypatch.setattr(final, "read_table", lambda: None)
    monkeypatch.setattr(final, "select", lambda table: selected)
    commands = []
    monkeypatch.setattr(sweep.subprocess, "run", lambda command, check: commands.append(command))
    final.queue(["IFD"], reference=True)

    def overrides(command):
        pairs = [command[i + 1].split("=", 1) for i, word in enumerate(command) if word == "-S"]
        return {key: json.loads(value) for key, value in pairs}

    (reference, ifd) = commands
    assert reference[reference.index("--name") + 1] == final.REFERENCE
    assert overrides(reference) == {"model.ifd": False, "model.sedb": False, "train.seeds": list(final.SEEDS),
                                    **SCHEDULE, **sweep.BASE, "model.ifd_labels": "pseudo"}
    assert ifd[ifd.index("--name") + 1] == "final-ifd"
    assert overrides(ifd) == {"model.ifd": True, "model.sedb": False, "train.seeds": list(final.SEEDS),
                              **SCHEDULE, **sweep.BASE, "model.ifd_labels": "pseudo", "model.ifd_theta": 0.3}
    with pytest.raises(SystemExit, match="SEDB"):
        final.queue(["SEDB"])
    commands.clear()
    final.queue(["IFD"], reference=True, epochs=80)          # another cap: the same runs, the cap on top
    (reference, ifd) = commands
    assert reference[reference.index("--name") + 1] == f"{final.REFERENCE}-e80"
    assert ifd[ifd.index("--name") + 1] == "final-ifd-e80"
    assert overrides(ifd) == {"model.ifd": True, "model.sedb": False, "train.seeds": list(final.SEEDS),
                              **SCHEDULE, **sweep.BASE, "model.ifd_labels": "pseudo", "model.ifd_theta": 0.3,
                              "train.epochs": 80}


def test_an_archived_experiment_is_drawn_and_archived_again_unchanged(tmp_path, monkeypatch):
    """study.archive writes the record study.curves reads: the curves come from the record's files alone."""
    import study.archive as archive
    import study.curves as curves
    files = {curves.SEED_METRICS.format(seed=1): "{}",
             curves.TRAIN_LOGS.format(seed=1, metric="validation/event_f1_macro"):
                 "step\tevent_f1_macro\n0\t0.1\n1\t0.2\n",
             curves.PSEUDO_LABELS.format(seed=1): "epoch\tshare\tprecision\trecall\n1\t0.8\t0.6\t0.7\n"}
    record = {"name": "final-ifd-e80", "rev": "0" * 40, "files": files, "machine": {},
              "data": {"timestamp": "t", "params": {"params.yaml": {"data": {
                  "train": {"seeds": [1]}, "model": {"ifd": True, "sedb": False}}}},
                       "metrics": {"results/metrics.json": {"data": {"n_seeds": 1}}}}}
    monkeypatch.setattr(curves, "experiment_revisions", lambda archive=None, merge=True: [record])
    table = curves.curves("final-")
    validation = table[table.metric == "validation/event_f1_macro"]
    assert validation[["experiment", "variant", "seed", "epoch", "value"]].values.tolist() == [
        ["final-ifd-e80", "IFD", 1, 1, 0.1], ["final-ifd-e80", "IFD", 1, 2, 0.2]]
    assert table[table.metric == "pseudo_label/recall"]["value"].tolist() == [0.7]
    assert curves.curves("final-", names={"final-ifd-e80"})["experiment"].unique().tolist() == ["final-ifd-e80"]
    assert curves.curves("final-", names={"final-ifd"}).empty                   # by whole name, not by prefix
    assert set(curves.kept_files([1])) >= set(files)
    (written,) = archive.save("final-", tmp_path)
    saved = json.loads(written.read_text())
    assert written.name == "final-ifd-e80.json"
    assert {key: saved[key] for key in ("name", "rev", "files", "data")} == {key: record[key] for key in
                                                                             ("name", "rev", "files", "data")}
    assert archive.save("final-", tmp_path) == []                        # archived already: left as it is
    assert json.loads(written.read_text()) == saved
    no_summary = {**record, "data": {**record["data"], "metrics": {}}}   # not finished: not archived
    monkeypatch.setattr(curves, "experiment_revisions", lambda archive=None, merge=True: [no_summary])
    assert archive.save("final-", tmp_path / "again") == []


def test_the_watcher_reads_the_queue_restarts_a_dead_worker_and_stops_when_the_queue_is_empty(monkeypatch):
    import subprocess as sp
    import study.watch as watch
    status = ("Task     Name                   Created    Status\n"
              "071bcec  final-sedb-ifd-e80-s1  11:36 AM   Success\n"
              "c551b3e  final-sedb-ifd-e80-s2  11:36 AM   Running\n"
              "27bdd5b  final-sedb-ifd-e80-s3  11:36 AM   Queued\n"
              "27bdd5c  final-sedb-ifd-e80-s4  11:36 AM   Queued\n\n"
              "Worker status: 1 active, 0 idle\n")
    monkeypatch.setattr(watch.subprocess, "run", lambda *a, **k: sp.CompletedProcess(a, 0, stdout=status))
    assert watch.queue_state() == (2, 1, 1)
    # running; then the worker seems gone (once: not trusted), gone again (a worker is started), a look fails,
    # running again; then only a stale Running task with no worker, twice: done
    states = iter([(2, 1, 1), (1, 0, 0), (1, 0, 0), sp.CalledProcessError(2, "dvc"), (1, 1, 1), (0, 1, 0),
                   (0, 1, 0)])
    calls = []

    def state():
        value = next(states)
        if isinstance(value, Exception):
            raise value
        return value
    monkeypatch.setattr(watch, "queue_state", state)
    monkeypatch.setattr(watch, "save", lambda prefix, archive: calls.append("save") or [])
    monkeypatch.setattr(watch.subprocess, "run", lambda command, check: calls.append(" ".join(command)))
    monkeypatch.setattr(watch.time, "sleep", lambda seconds: None)
    watch.watch("final-", None, 1.0)
    assert calls == ["save", "save", "save", "dvc queue start -j 1", "save", "save", "save"]
    assert next(states, None) is None


def test_a_comparison_queued_seed_by_seed_queues_only_the_seeds_that_have_not_run(monkeypatch):
    import study.final as final
    queued = []
    monkeypatch.setattr(final, "finished_names", lambda: {"final-baseline-start-e80-s1", "final-baseline-start-e80-s3"})
    monkeypatch.setattr(final, "queue_experiment", lambda name, variant, seeds, setting: queued.append(
        (name, variant, list(seeds), setting)))
    final.queue([], reference=True, epochs=80, per_seed=True, precision="float32")
    assert [name for name, *_ in queued] == [f"final-baseline-start-e80-s{seed}" for seed in (2, 4, 5, 6, 7, 8)]
    assert all(variant == "baseline" and seeds == [int(name[-1])]
               and setting == {"train.epochs": 80, "train.precision": "float32"}
               for name, variant, seeds, setting in queued)


def test_the_cap_binds_where_the_best_epoch_is_within_the_patience_of_the_cap():
    from study.final import convergence
    runs = {"seed": (1, 2, 3), "best": (70, 71, 40), "run": (80, 80, 50), "early": (False, False, True)}
    metrics = {f"results/train/seed_{seed}/metrics.json": {"data": {"best_epoch": best, "epochs_run": run,
                                                                    "stopped_early": early}}
               for seed, best, run, early in zip(*runs.values())}
    revision = {"data": {"metrics": metrics, "params": {"params.yaml": {"data": {
        "train": {"seeds": [1, 2, 3], "epochs": 80, "patience": 10}}}}}}
    table = convergence({"final-sedb-e80": revision})
    assert table["cap_binds"].tolist() == [False, True, False]
    assert table[["seed", "best_epoch", "epochs_run", "stopped_early"]].values.tolist() == [
        [1, 70, 80, False], [2, 71, 80, False], [3, 40, 50, True]]


def test_every_recipe_pins_pseudo_labels_and_refuses_the_oracle_arm(monkeypatch):
    """queue_experiment (the search's and the final comparison's): model.ifd_labels is pinned to pseudo, since a
    queued experiment inherits the workspace's params.yaml; a setting asking for the oracle labels (a diagnostic
    upper bound, never a variant) is refused before anything is queued; model.ifd_domains is left alone."""
    import study.final as final
    commands = []
    monkeypatch.setattr(sweep.subprocess, "run", lambda command, check: commands.append(command))
    sweep.queue(0, ["IFD"])
    sweep.queue_experiment("cross", "IFD", [1], {"model.ifd_domains": "cross"})
    assert all('model.ifd_labels="pseudo"' in command for command in commands)
    assert not any(word.startswith("model.ifd_domains") for word in commands[0])
    assert 'model.ifd_domains="cross"' in commands[1]
    commands.clear()
    with pytest.raises(SystemExit, match="model.ifd_labels=oracle is a diagnostic arm"):
        sweep.queue_experiment("oracle", "IFD", [1], {"model.ifd_labels": "oracle"})
    monkeypatch.setattr(final, "read_table", lambda: None)
    monkeypatch.setattr(final, "select", lambda table: {"IFD": {"model.ifd_labels": "oracle"}})
    with pytest.raises(SystemExit, match="never a variant"):
        final.queue(["IFD"])
    assert commands == []


def seeds(values):
    """{seed: a seed's metrics} with real-world test event F1 `values` (seeds 1, 2, ...)."""
    return {seed: {"real_test/event_f1_macro": value} for seed, value in enumerate(values, start=1)}


def summary_of(values):
    import numpy as np
    return {"n_seeds": len(values), "real_test/event_f1_macro_mean": float(np.mean(values)),
            "real_test/event_f1_macro_std": float(np.std(values, ddof=1))}


def test_each_contrast_has_its_interval_paired_test_holm_p_and_mde():
    from scipy import stats

    from ifdsed.evaluation.statistics import holm, mde, welch
    base, ifd, sedb = [0.30, 0.28, 0.33, 0.25], [0.27, 0.26, 0.31, 0.24, 0.22], [0.36, 0.35, 0.37, 0.31]
    runs = {"baseline": base, "IFD": ifd, "SEDB": sedb}
    table = final_table({variant: summary_of(values) for variant, values in runs.items()},
                        {variant: seeds(values) for variant, values in runs.items()})
    assert list(table.columns) == COLUMNS
    event = table[(table.test_set == "real_test") & (table.metric == "event_f1_macro")].set_index("variant")
    assert event.loc["baseline", ["p_vs_baseline", "diff", "ci_low", "p_paired", "p_holm", "mde"]].isna().all()
    reference = stats.ttest_ind(ifd, base, equal_var=False)
    assert event.loc["IFD", "p_vs_baseline"] == pytest.approx(reference.pvalue)
    assert (event.loc["IFD", "ci_low"], event.loc["IFD", "ci_high"]) == pytest.approx(
        tuple(reference.confidence_interval()))
    assert event.loc["IFD", "diff"] == pytest.approx(sum(ifd) / 5 - sum(base) / 4)
    assert event.loc["IFD", "p_paired"] == pytest.approx(stats.ttest_rel(ifd[:4], base).pvalue)  # seeds 1-4 only
    assert event.loc["SEDB", "p_paired"] == pytest.approx(stats.ttest_rel(sedb, base).pvalue)
    # the family: every contrast of the table with a p (here the two event-F1 rows; the other metrics are empty)
    assert event.loc[["IFD", "SEDB"], "p_holm"].tolist() == pytest.approx(holm(event.loc[["IFD", "SEDB"],
                                                                                       "p_vs_baseline"]).tolist())
    assert table["p_holm"].notna().sum() == 2
    assert event.loc["SEDB", "mde"] == pytest.approx(float(mde(summary_of(sedb)["real_test/event_f1_macro_std"], 4,
                                                               summary_of(base)["real_test/event_f1_macro_std"], 4)))
    arms = [(summary["real_test/event_f1_macro_mean"], summary["real_test/event_f1_macro_std"], summary["n_seeds"])
            for summary in (summary_of(sedb), summary_of(base))]
    assert event.loc["SEDB", "ci_low"] == pytest.approx(float(welch(*arms[0], *arms[1]).low))
    assert pd.isna(final_table({variant: summary_of(values) for variant, values in runs.items()}).p_paired).all()


def test_the_stored_tables_are_restated_with_their_own_p_and_ifd_on_sedb_against_sedb(tmp_path):
    """collect --from-tables: the tables of runs whose experiments are gone keep their p (computed from unrounded
    summaries) and gain the statistics from their means, stds and seeds; SEDB&IFD is set against SEDB."""
    from study.final import restate, stored_tables, table_path
    runs = {"baseline": [0.30, 0.28, 0.33, 0.25], "SEDB": [0.36, 0.35, 0.37, 0.31], "SEDB&IFD": [0.3, 0.31, 0.33, 0.29]}
    made = tables({f"final-{name.lower().replace('&', '-')}": summary_of(values) for name, values in runs.items()})
    assert set(made) == {"final", "sedb-ifd-vs-sedb"}
    stored = made["final"][COLUMNS[:7]].copy()
    stored.loc[stored.p_vs_baseline.notna(), "p_vs_baseline"] = 0.0123     # as if from the unrounded summaries
    out = tmp_path / "final.csv"
    stored.to_csv(out, index=False)
    restated = restate(stored_tables(out))
    assert set(restated) == {"final", "sedb-ifd-vs-sedb"} and table_path(out, "vs-start").name == "final-vs-start.csv"
    final, nested = restated["final"], restated["sedb-ifd-vs-sedb"]
    assert (final.p_vs_baseline.dropna() == 0.0123).all() and final.p_paired.isna().all()
    assert final["diff"].dropna().tolist() == pytest.approx(made["final"]["diff"].dropna().tolist())
    assert nested.variant.tolist()[0] == "SEDB" and nested.loc[nested.variant == "SEDB", "diff"].isna().all()
    row = nested[(nested.variant == "SEDB&IFD") & (nested.metric == "event_f1_macro")
                 & (nested.test_set == "real_test")]
    assert row["p_vs_baseline"].item() == pytest.approx(
        made["sedb-ifd-vs-sedb"].set_index(["variant", "test_set", "metric"]).loc[
            ("SEDB&IFD", "real_test", "event_f1_macro"), "p_vs_baseline"])
    assert restate(stored_tables(out))["final"].equals(restated["final"])          # restating again changes nothing
    with pytest.raises(SystemExit, match="no .* to recompute"):
        stored_tables(tmp_path / "missing.csv")


def test_the_per_seed_values_come_from_each_seeds_evaluate_and_diagnose_metrics():
    from study.final import seed_metrics, seed_table
    revision = {"data": {"params": {"params.yaml": {"data": {"train": {"seeds": [1, 2, 3]}}}}, "metrics": {
        "results/eval/seed_1/metrics.json": {"data": {"real_test/event_f1_macro": 0.3}},
        "results/diagnostics/seed_1/metrics.json": {"data": {"pseudo_label_precision": 0.6}},
        "results/eval/seed_2/metrics.json": {"data": {"real_test/event_f1_macro": 0.2}}}}}
    found = seed_metrics(revision)
    assert found == {1: {"real_test/event_f1_macro": 0.3, "pseudo_label_precision": 0.6},
                     2: {"real_test/event_f1_macro": 0.2}}
    values = seed_table({"IFD": found})
    assert values.loc[("IFD", "real_test", "event_f1_macro")].tolist() == [0.3, 0.2]
    assert values.loc[("IFD", "weak_train", "pseudo_label_precision")].tolist()[0] == 0.6
    assert pd.isna(values.loc[("IFD", "weak_train", "pseudo_label_precision"), 2])


def test_the_contrast_table_shows_the_interval_holm_p_and_mde():
    from study.final import contrast_markdown
    runs = {"baseline": [0.30, 0.28, 0.33, 0.25], "IFD": [0.27, 0.26, 0.31, 0.24]}
    table = final_table({variant: summary_of(values) for variant, values in runs.items()},
                        {variant: seeds(values) for variant, values in runs.items()})
    lines = contrast_markdown(table).splitlines()
    assert len(lines) == 3 and lines[2].startswith("| IFD | -0.020 [")
    assert "(Holm p = " in lines[2] and "paired p " in lines[2] and "; MDE 0.0" in lines[2]
    assert lines[2].endswith("| n/a | n/a | n/a | n/a | n/a |")
