"""DVC stage `summarize`: mean +- std over the seeds of this experiment, the headline for `dvc exp show`.

Reads  results/eval/seed_<seed>/metrics.json, results/diagnostics/seed_<seed>/metrics.json (the pseudo labels'
       quality at the best epoch) and data/eval/seed_<seed>/per_class.csv for every seed in train.seeds.
Writes results/summary.json (flat keys: <set>/<metric>_mean, <set>/<metric>_std, n_seeds, variant, and the
       provenance/... keys the seeds share, "differs" where they do not: what `ifdsed compare` reads),
       results/metrics.json (the headline keys of it, `ifdsed.evaluation.summary.headline`: the only file DVC
       lists as metrics, so `dvc exp show` stays readable) and results/per_class.csv (per-class F1, mean over
       seeds).
"""
import json

import pandas as pd

from ifdsed import paths
from ifdsed.config import load_params
from ifdsed.errors import run_stage
from ifdsed.evaluation.summary import headline, summarize_run
from ifdsed.io import atomic


def main() -> None:
    params = load_params()
    per_seed = [{**json.loads((paths.diagnostics(seed) / "metrics.json").read_text()),
                 **json.loads(paths.eval_metrics(seed).read_text())} for seed in params.train.seeds]
    summary = summarize_run(per_seed)
    atomic.write_json(paths.SUMMARY, summary)
    atomic.write_json(paths.HEADLINE, headline(summary))
    per_class = pd.concat([pd.read_csv(paths.eval_dir(seed) / "per_class.csv") for seed in params.train.seeds])
    with atomic.atomic_path(paths.SUMMARY_PER_CLASS) as tmp:
        per_class.groupby("class", sort=False).mean().to_csv(tmp, float_format="%.4f")
    for key in ("real_test", "syn_test"):
        mean, std = summary[f"{key}/event_f1_macro_mean"], summary[f"{key}/event_f1_macro_std"]
        print(f"{summary['variant']} {key}: event F1 macro {mean:.3f} +- {std:.3f} over {summary['n_seeds']} seeds")
    print(f"headline -> {paths.HEADLINE}, every figure -> {paths.SUMMARY}, per-class F1 -> {paths.SUMMARY_PER_CLASS}")


if __name__ == "__main__":
    run_stage("summarize", main)
