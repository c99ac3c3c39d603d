"""DVC stage `train@<seed>` (a matrix over train.seeds): train one model, or resume an interrupted training.

Reads  params.yaml (classes, model, train, postprocess; eval's sed_eval settings for the selection score;
       data.source, recorded in every checkpoint), the feature store data/features/ (realworld_weak,
       synthetic_train for training; realworld_validation for model selection and early stopping) and the
       validation set's labels data/realworld/validation/events.tsv (and clips.tsv); no test set's labels, nor
       the hidden weak timestamps, except in the diagnostic arm model.ifd_labels: oracle (IFD pairs the weak
       clips' frames by data/realworld/weak_frame_labels/oracle/weak_events.tsv; embedded data only; the run
       reports its variant as "<variant> (oracle IFD labels)").
Writes data/train/seed_<seed>/checkpoints/{best,last}.pt (self-describing: model config + weights, and what
       they were trained on: data.source and the training sets' sizes, ifdsed/models/training_data.py; kept
       across reruns so a killed training resumes) and results/train/seed_<seed>/ (dvclive: metrics.json and
       per-epoch plots of every loss term and both validation scores; tracked by git, as DVC metrics are).

With train.processes = N > 1 the command starts itself again under torchrun, N processes on this machine
(DistributedDataParallel; NCCL on GPUs, gloo on CPUs): the stage command does not change. Started by torchrun
(or any launcher that sets RANK, LOCAL_RANK and WORLD_SIZE: `torchrun --nnodes ... -m pipeline.train --seed S`
on a cluster), it is one rank of that job. See docs/scaling.md.
"""
import argparse
import os

from ifdsed import paths
from ifdsed.config import load_params
from ifdsed.errors import run_stage
from ifdsed.training import distributed


def main() -> int | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    params = load_params()
    if args.seed not in params.train.seeds:
        parser.error(f"--seed {args.seed} is not in train.seeds {list(params.train.seeds)}")
    if params.train.processes > 1 and not distributed.launched():
        return distributed.relaunch(params.train.processes, ["pipeline.train", "--seed", str(args.seed)])
    from ifdsed.training.loop import train_seed  # after the relaunch decision: the launching process needs no torch
    out_dir = paths.train_dir(args.seed)
    summary = train_seed(params, args.seed, paths.FEATURES, out_dir, live_dir=paths.train_logs(args.seed),
                         validation_folder=paths.CLIP_SETS[paths.VALIDATION_SET])
    if os.environ.get("RANK", "0") == "0":  # one line per job, not per rank
        stopped = ", stopped early" if summary["stopped_early"] else ""
        print(f"seed {args.seed} {summary['variant']}: best epoch {summary['best_epoch']} of {summary['epochs_run']}"
              f"{stopped} (validation {summary['selection']} {summary['best_validation_score']:.4f}, "
              f"{summary['samples_seen']} training samples) -> {paths.best_checkpoint(args.seed)}")
    return 0


if __name__ == "__main__":
    run_stage("train", main)
