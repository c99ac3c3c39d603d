"""DVC stage `train@<seed>` (a matrix over train.seeds): train one model, or resume an interrupted training.

Reads  params.yaml (classes, model, train) and the feature store data/features/ (realworld_weak,
       synthetic_train for training; realworld_validation for model selection).
Writes data/train/seed_<seed>/checkpoints/{best,last}.pt (self-describing: model config + weights; kept
       across reruns so a killed training resumes) and data/train/seed_<seed>/live/ (dvclive: metrics.json
       and per-epoch plots of every loss term and the validation score).
"""
import argparse
from pathlib import Path

from ifdsed.config import load_params
from ifdsed.training import train_seed

STORE = Path("data/features")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    params = load_params()
    if args.seed not in params.train.seeds:
        parser.error(f"--seed {args.seed} is not in train.seeds {list(params.train.seeds)}")
    out_dir = Path("data/train") / f"seed_{args.seed}"
    summary = train_seed(params, args.seed, STORE, out_dir)
    print(f"seed {args.seed}: best epoch {summary['best_epoch']} (validation frame F1 "
          f"{summary['best_validation_frame_f1']:.4f}) -> {out_dir / 'checkpoints' / 'best.pt'}")


if __name__ == "__main__":
    main()
