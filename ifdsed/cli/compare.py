"""The paper's Table 1 and Table 2 across DVC experiments, from the repository root.

    ifdsed compare [--out results] [--baseline NAME] [--experiments NAME ...]

Reads every experiment of the current commit (and the workspace) through `dvc exp show --json`: the params
model.ifd / model.sedb name the variant, results/summary.json gives its means, stds and seed count. When several
experiments share a variant, the newest one is used, and the workspace only when no experiment has that variant
(the output names the experiments used; one-seed runs <name>-s<seed> are merged as <name>). The variants must
have run with the baseline's params, but for model.ifd and model.sedb (and those that never change a result:
workers, threads, device, prefetch, energy metering): otherwise compare refuses, naming the params that differ,
since a table of runs with, say, another synthetic set or fewer epochs measures those, not the branches.
`--baseline` names the experiment to use as the baseline (any commit; "workspace": the workspace's results);
`--experiments` names the finished experiments to compare instead (from any commit, or kept in the study's
archive; one per variant). With either, differing params are warned about, not refused.

Writes <out>/table1.md, <out>/table2.md and <out>/tables.csv, the domain-gap probe and pseudo-label quality of
every variant in <out>/diagnostics.md, <out>/domain_gap_per_class.md and <out>/diagnostics.csv (drawn in
<out>/domain_gap.png), and prints the Markdown. It warns when the variants' results do not share their
provenance (code revision, metric package versions, evaluated sets: `ifdsed.evaluation.provenance`), since such
results are not comparable. <out>/cost.md gives each detector's MACs per clip and parameters; <out>/extra_sets.md
the extra test sets' event F1 and PSDS1, when there are any (params real.extra_test_sets). An experiment named
that is not found, params that differ, or no experiment with results at all, is one line on stderr (exit
status 1).
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from ifdsed import paths
from ifdsed.config import parse_params
from ifdsed.errors import IfdsedError
from ifdsed.evaluation.experiments import (all_revisions, experiment_revisions, merge_seed_runs, param_differences,
                                          params_of, result, show, summary_of)
from ifdsed.evaluation.plots import per_class_bars
from ifdsed.evaluation.provenance import comparability_warnings
from ifdsed.evaluation.set_titles import set_title
from ifdsed.evaluation.summary import (COLUMNS, TABLES, columns_markdown, diagnostic_tables, extra_table,
                                      paper_tables, to_markdown)
from ifdsed.io import atomic
from ifdsed.models.config import RUN_VARIANTS, variant_name


def training_energy(revision: dict) -> dict:
    """The mean and std over seeds of an experiment's trainings' energy (results/train/seed_<seed>/energy.json,
    measured by codecarbon; kept out of the summary because it differs run to run), in Wh, and how it was
    measured."""
    seeds = (params_of(revision).get("train") or {}).get("seeds") or []
    runs = [run for seed in seeds if (run := result(revision, paths.train_logs(seed) / "energy.json"))]
    values = pd.Series([run["energy_kwh"] * 1000 for run in runs if run.get("energy_kwh") is not None], dtype=float)
    if values.empty:
        return {}
    return {"cost/training_energy_wh_mean": values.mean(), "cost/training_energy_wh_std": values.std(ddof=1),
            "cost/training_energy_seeds": len(values), "cost/energy_method": runs[0].get("method")}


def collect_summaries(experiments: list[str] | None = None, baseline: str | None = None
                      ) -> tuple[dict[str, dict], dict[str, str], dict[str, dict]]:
    """{variant: summary metrics}, {variant: experiment name} and {variant: params}, the newest experiment of each
    variant; with `experiments`, only the experiments of those names, from any commit or the study's archive
    (`ifdsed.evaluation.experiments`); with `baseline`, that experiment as the baseline. Runs of the oracle
    diagnostic arm (model.ifd_labels: oracle) are left out unless named."""
    named = set(experiments or []) | ({baseline} if baseline else set())
    revisions = experiment_revisions() if named else []
    if not experiments:   # this commit's experiments and the workspace (a baseline may come from any commit)
        revisions = merge_seed_runs(list(all_revisions(show()))) + [r for r in revisions if r.get("name") == baseline]
    found = []
    for revision in revisions:
        model = params_of(revision).get("model") or {}
        name = revision.get("name") or revision.get("rev")
        if experiments and name not in experiments:
            continue
        if name not in named and model.get("ifd_labels", "pseudo") != "pseudo":
            continue   # the oracle arm is a diagnostic, never a variant: only compared when named
        if "ifd" in model and "sedb" in model and (summary := summary_of(revision)):
            variant = variant_name(model["ifd"], model["sedb"], model.get("mean_teacher", False))
            if baseline and variant == "baseline" and name != baseline:
                continue
            # the workspace has no timestamp; it comes last (a finished `dvc exp run` is an experiment too)
            found.append((revision["data"].get("timestamp") or "0000", str(name), variant, summary, revision))
    summaries, sources, params = {}, {}, {}
    for _, name, variant, summary, revision in sorted(found, key=lambda item: item[0], reverse=True):
        if variant not in summaries:   # the newest run of each variant: only its energy files are read
            summaries[variant] = {**summary, **training_energy(revision)}
            sources[variant], params[variant] = name, params_of(revision)
    return summaries, sources, params


def set_headers(params: dict[str, dict]) -> dict[str, str]:
    """The test sets' names for the tables' headers, from the baseline's params (or any variant's):
    `ifdsed.evaluation.set_titles.set_title`; the plain COLUMNS where those params no longer parse (a run of an
    older params.yaml)."""
    try:
        parsed = parse_params(params.get("baseline") or next(iter(params.values())), "the runs' params")
    except (IfdsedError, StopIteration):
        return COLUMNS
    return {key: set_title(key, parsed) for key in COLUMNS}


def param_mismatches(sources: dict[str, str], params: dict[str, dict]) -> list[str]:
    """One line per variant whose params differ from the baseline's in more than its branches (and in params
    that never change a result), naming them: 'IFD (exp-1a2b3) differs from the baseline (workspace) in
    synth.seed (42 -> 7), train.epochs (18 -> 2)'."""
    if "baseline" not in params:
        return []
    lines = []
    for variant in [v for v in RUN_VARIANTS if v in params and v != "baseline"]:
        differences = param_differences(params["baseline"], params[variant])
        if differences:
            named = ", ".join(f"{key} ({base!r} -> {other!r})" for key, (base, other) in differences.items())
            lines.append(f"{variant} ({sources[variant]}) differs from the baseline ({sources['baseline']}) in "
                         f"{named}")
    return lines


def cost_markdown(summaries: dict[str, dict]) -> str:
    """MACs per 10 s clip and parameters of each variant's detector (`ifdsed.evaluation.cost`)."""
    lines = ["**What each detector costs** (MACs: one forward pass per clip, the log-mel front end not counted; "
             "energy: one training, mean +- std over seeds, codecarbon)", "",
             "| model | MACs per clip | parameters | training energy (Wh) |", "|---|---|---|---|"]
    methods = set()
    for variant in [v for v in RUN_VARIANTS if v in summaries]:
        summary = summaries[variant]
        macs, parameters = (summary.get(f"cost/{key}") for key in ("macs_per_clip", "parameters"))
        energy = summary.get("cost/training_energy_wh_mean")
        std = summary.get("cost/training_energy_wh_std")
        methods.add(summary.get("cost/energy_method"))
        lines.append(f"| {variant} | {'n/a' if macs is None else f'{macs / 1e6:.1f} M'} | "
                     f"{'n/a' if parameters is None else parameters} | "
                     + ("n/a" if energy is None else f"{energy:.2f}" + ("" if pd.isna(std) else f" +- {std:.2f}"))
                     + " |")
    methods.discard(None)
    if methods:
        lines += ["", "Energy measured by: " + "; ".join(sorted(methods)) + "."]
    return "\n".join(lines) + "\n"


def domain_gap_figure(diagnostics: dict[str, pd.DataFrame], path: Path) -> Path:
    """The domain-gap probe per variant (bars, std over seeds as error bars): on all frames, on event frames,
    and on each class's event frames."""
    wide = diagnostics["diagnostics"].merge(diagnostics["domain_gap_per_class"], on=["model", "n_seeds"])
    groups = {"all frames": "domain gap, all frames", "event frames": "domain gap, event frames"}
    groups |= {name[:-len("_mean")]: name[:-len("_mean")] for name in diagnostics["domain_gap_per_class"]
               if name.endswith("_mean")}
    table = wide.set_index("model")
    means = pd.DataFrame({group: table[f"{column}_mean"] for group, column in groups.items()}).T.astype(float)
    stds = pd.DataFrame({group: table[f"{column}_std"] for group, column in groups.items()}).T.astype(float)
    low = min(0.5, float(np.floor(10 * (means - stds.fillna(0)).min(axis=None)) / 10))   # a probe can fall below 0.5
    return per_class_bars(means, "Domain-gap probe: balanced accuracy telling synthetic from real-world frame "
                          "embeddings (0.5: no gap)", path, errors=stds, ylabel="balanced accuracy",
                          ylim=(low, 1))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=paths.RESULTS, help="folder of the tables (default: %(default)s)")
    parser.add_argument("--experiments", nargs="+", metavar="NAME",
                        help="compare these experiments (any commit) instead of the newest of each variant")
    parser.add_argument("--baseline", metavar="NAME",
                        help="the experiment to set the variants against (any commit; workspace: the workspace)")


def run(args: argparse.Namespace) -> int:
    summaries, sources, params = collect_summaries(args.experiments, args.baseline)
    missing = sorted(set(args.experiments or []) - set(sources.values()))
    if missing:
        raise IfdsedError(f"no finished experiment named {', '.join(missing)} (or two of one variant)")
    if args.baseline and sources.get("baseline") != args.baseline:
        raise IfdsedError(f"--baseline {args.baseline}: no finished experiment of that name with both branches off "
                          "(model.ifd and model.sedb false)")
    if not summaries:
        raise IfdsedError("no experiment with results/summary.json; run `dvc repro` or `dvc exp run` first")
    mismatches = param_mismatches(sources, params)
    if mismatches and not (args.experiments or args.baseline):
        raise IfdsedError("; ".join(mismatches) + ": their figures are not comparable. Run every variant with the "
                          "baseline's params (`dvc exp run --queue`, docs/usage.md#experiments), or name the runs to "
                          "compare with --baseline NAME or --experiments NAME ...")
    for line in mismatches:
        print(f"compare: warning: {line}")
    for line in comparability_warnings(summaries):
        print(f"compare: warning: {line}")
    tables = paper_tables(summaries)
    headers = set_headers(params)
    args.out.mkdir(parents=True, exist_ok=True)
    frames = []
    for name, table in tables.items():
        title, _ = TABLES[name]
        markdown = to_markdown(table, title, headers)
        atomic.write_text(args.out / f"{name}.md", markdown)
        print(markdown)
        frames.append(table.assign(table=name).astype(object))
    with atomic.atomic_path(args.out / "tables.csv") as tmp:
        pd.concat(frames).to_csv(tmp, index=False, float_format="%.4f")
    diagnostics = diagnostic_tables(summaries)
    titles = {"diagnostics": "Domain-gap probe accuracy (0.5: the domains cannot be told apart) and pseudo-label "
                             "quality at the best epoch",
              "domain_gap_per_class": "Domain-gap probe accuracy on each class's event frames"}
    for name, table in diagnostics.items():
        markdown = columns_markdown(table, titles[name])
        atomic.write_text(args.out / f"{name}.md", markdown)
        print(markdown)
    extra = extra_table(summaries)
    if len(extra.columns) > 2:   # some variant was scored on extra test sets (real.extra_test_sets)
        markdown = columns_markdown(extra, "Extra test sets: event-based macro F1 and PSDS1")
        atomic.write_text(args.out / "extra_sets.md", markdown)
        print(markdown)
    cost = cost_markdown(summaries)
    atomic.write_text(args.out / "cost.md", cost)
    print(cost)
    with atomic.atomic_path(args.out / "diagnostics.csv") as tmp:
        pd.concat([table.assign(table=name) for name, table in diagnostics.items()]).to_csv(
            tmp, index=False, float_format="%.4f")
    if diagnostics["diagnostics"].filter(like="domain gap").notna().any(axis=None):
        domain_gap_figure(diagnostics, args.out / "domain_gap.png")
    print("experiments used: " + ", ".join(f"{v}: {e}" for v, e in sources.items()))
    print(f"tables -> {args.out}/table1.md, table2.md, tables.csv, diagnostics.md, domain_gap_per_class.md, "
          "diagnostics.csv, cost.md, domain_gap.png")
    return 0
