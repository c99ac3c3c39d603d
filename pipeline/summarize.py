"""DVC stage `summarize`: mean +- std over the seeds of this experiment, for `dvc exp show`.

Reads  results/eval/seed_<seed>/metrics.json and data/eval/seed_<seed>/per_class.csv for every seed in train.seeds.
Writes results/metrics.json (flat keys: <set>/<metric>_mean, <set>/<metric>_std, n_seeds, variant) and
       results/per_class.csv (per-class F1, mean over seeds).
"""
import json
from pathlib import Path

import pandas as pd

from ifdsed.config import load_params
from ifdsed.evaluation.summary import summarize_seeds

OUT = Path("results")


def main() -> None:
    params = load_params()
    folders = [Path("data/eval") / f"seed_{seed}" for seed in params.train.seeds]
    per_seed = [json.loads((Path("results/eval") / f"seed_{seed}" / "metrics.json").read_text())
                for seed in params.train.seeds]
    summary = summarize_seeds(per_seed)
    OUT.mkdir(exist_ok=True)
    (OUT / "metrics.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    per_class = pd.concat([pd.read_csv(folder / "per_class.csv") for folder in folders])
    per_class.groupby("class", sort=False).mean().to_csv(OUT / "per_class.csv", float_format="%.4f")
    for key in ("real_test", "syn_test"):
        mean, std = summary[f"{key}/event_f1_macro_mean"], summary[f"{key}/event_f1_macro_std"]
        print(f"{summary['variant']} {key}: event F1 macro {mean:.3f} +- {std:.3f} over {summary['n_seeds']} seeds")
    print(f"summary -> {OUT / 'metrics.json'}, per-class F1 -> {OUT / 'per_class.csv'}")


if __name__ == "__main__":
    main()
