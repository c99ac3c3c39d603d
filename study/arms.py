"""Sets of arms, each a few variants of params.yaml run side by side on the default benchmark, 3 seeds each:

- `pairing` (the default): the diagnostic arms of the IFD branch: the two readings of the paper's pairing
  sentence (model.ifd_domains all | cross) and the upper bound with true frame labels (model.ifd_labels oracle),
  beside IFD with pseudo labels and the baseline
  (docs/ifd-study.md#the-pairing-readings-and-the-oracle-bound-a-first-measurement);
- `mean-teacher`: the first look at the mean teacher (model.mean_teacher), alone and with SEDB&IFD, beside the
  baseline, and with no consistency loss (what the unlabelled clips in each batch and the teacher's selection do
  alone) (docs/ifd-study.md#a-first-look-at-the-mean-teacher).

    python -m study.arms queue [--set NAME]     # the set's arms as DVC queue experiments
    dvc queue start                             # then, once they have run: python -m study.archive --prefix <prefix>
    python -m study.arms collect [--set NAME]   # the table and the contrasts, from live or archived experiments

Every arm runs `params.yaml` as it is (its seeds and schedule) with only the arm's keys changed. `collect` reads
each arm's results/summary.json (`ifdsed.evaluation.experiments`: live in this clone or archived by
study.archive) and prints, in Markdown, each arm's mean +- std over seeds and every contrast's difference of
means with Welch's 95 % interval. Nothing is chosen on these figures: the arms are diagnostics, never variants.
"""
from __future__ import annotations

import argparse
import subprocess
from dataclasses import dataclass

from ifdsed.evaluation.experiments import experiment_revisions, summary_of
from ifdsed.evaluation.statistics import welch
from ifdsed.evaluation.summary import stat_cell



@dataclass(frozen=True)
class ArmSet:
    """Arms (experiment name -> the params it changes) and the contrasts (arm, reference) drawn between them."""
    arms: dict[str, dict[str, str]]
    contrasts: tuple[tuple[str, str], ...]


ARM_SETS = {
    "pairing": ArmSet(
        arms={"arm-baseline": {},
              "arm-ifd-all": {"model.ifd": "true"},
              "arm-ifd-cross": {"model.ifd": "true", "model.ifd_domains": "cross"},
              "arm-ifd-oracle": {"model.ifd": "true", "model.ifd_labels": "oracle"}},
        contrasts=(("arm-ifd-cross", "arm-ifd-all"), ("arm-ifd-oracle", "arm-ifd-all"),
                   ("arm-ifd-all", "arm-baseline"))),
    "mean-teacher": ArmSet(
        arms={"mt-baseline": {},
              "mt-baseline-mt": {"model.mean_teacher": "true"},
              "mt-sedb-ifd-mt": {"model.mean_teacher": "true", "model.sedb": "true", "model.ifd": "true"},
              # a diagnostic: the unlabelled clips in every batch and the teacher's selection, no consistency loss
              "mt-baseline-mt-w0": {"model.mean_teacher": "true", "model.consistency_weight": "0"}},
        contrasts=(("mt-baseline-mt", "mt-baseline"), ("mt-sedb-ifd-mt", "mt-baseline-mt"),
                   ("mt-sedb-ifd-mt", "mt-baseline"), ("mt-baseline-mt-w0", "mt-baseline"),
                   ("mt-baseline-mt", "mt-baseline-mt-w0"))),
}
DEFAULT_SET = "pairing"
METRICS = {  # column -> summary key (without _mean / _std)
    "validation event F1": "real_validation/event_f1_macro",
    "real-world test event F1": "real_test/event_f1_macro",
    "synthetic test event F1": "syn_test/event_f1_macro",
    "real-world test PSDS1": "real_test/psds1",
    "probe on x": "domain_gap_accuracy",
    "probe on v": "domain_gap_v_accuracy",
}
CONTRASTED = ("validation event F1", "real-world test event F1")


def queue(arm_set: ArmSet = ARM_SETS[DEFAULT_SET]) -> None:
    """`dvc exp run --queue` of every arm of `arm_set`, named as it names them."""
    for name, changes in arm_set.arms.items():
        command = ["dvc", "exp", "run", "--queue", "--name", name]
        for key, value in changes.items():
            command += ["-S", f"{key}={value}"]
        subprocess.run(command, check=True)


def summaries(arm_set: ArmSet = ARM_SETS[DEFAULT_SET]) -> dict[str, dict]:
    """{arm: its summary} of every arm of `arm_set` that has finished (live or archived)."""
    return {revision["name"]: summary for revision in experiment_revisions()
            if revision.get("name") in arm_set.arms and (summary := summary_of(revision))}


def table(found: dict[str, dict], arm_set: ArmSet = ARM_SETS[DEFAULT_SET]) -> str:
    """The figures of `arm_set`'s arms and its contrasts, in Markdown."""
    lines = ["| arm | seeds | " + " | ".join(METRICS) + " |", "|---|---|" + "---|" * len(METRICS)]
    for name in [arm for arm in arm_set.arms if arm in found]:
        summary = found[name]
        cells = [stat_cell(summary.get(f"{key}_mean"), summary.get(f"{key}_std")) for key in METRICS.values()]
        lines.append(f"| {name} | {summary['n_seeds']} | " + " | ".join(cells) + " |")
    lines += ["", "| contrast | " + " | ".join(CONTRASTED) + " |", "|---|" + "---|" * len(CONTRASTED)]
    for arm, base in arm_set.contrasts:
        if arm in found and base in found:
            lines.append(f"| {arm} - {base} | " + " | ".join(contrast(found[arm], found[base], METRICS[column])
                                                           for column in CONTRASTED) + " |")
    return "\n".join(lines) + "\n"


def contrast(summary: dict, base: dict, key: str) -> str:
    """'+0.002 (-0.056 to +0.060)': the difference of means and Welch's 95 % interval."""
    test = welch(summary[f"{key}_mean"], summary[f"{key}_std"], summary["n_seeds"],
                 base[f"{key}_mean"], base[f"{key}_std"], base["n_seeds"])
    return f"{float(test.diff):+.3f} ({float(test.low):+.3f} to {float(test.high):+.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("queue", "collect"))
    parser.add_argument("--set", choices=sorted(ARM_SETS), default=DEFAULT_SET, help="which arms (default: %(default)s)")
    args = parser.parse_args()
    arm_set = ARM_SETS[args.set]
    if args.command == "queue":
        queue(arm_set)
    else:
        print(table(summaries(arm_set), arm_set), end="")


if __name__ == "__main__":
    main()
