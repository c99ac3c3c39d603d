"""The project's data layout, in one place: every stage script and library default takes its paths from here,
and `tests/test_dvc_yaml.py` checks that dvc.yaml's deps and outs name the same folders.

All paths are relative to the project root (DVC runs every stage there).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path("data")
RESULTS = Path("results")

SOUNDBANK = DATA / "soundbank"
MANIFEST = SOUNDBANK / "manifest.tsv"
SYNTHETIC = DATA / "synthetic"                      # train/, test/
REALWORLD = DATA / "realworld"                      # weak/, validation/, test/
# The real weak clips' frame labels for IFD, one folder per value of model.ifd_labels (the train stage depends on
# the folder of its value only): pseudo/ holds nothing to read (the model labels the frames as it trains);
# oracle/ is the hidden truth, the simulated weak set's timestamps: for measurement and the oracle diagnostic only.
WEAK_FRAME_LABELS = REALWORLD / "weak_frame_labels"
HIDDEN = WEAK_FRAME_LABELS / "oracle"
IMPORT_REPORT = REALWORLD / "import_report.json"   # real DCASE data: each set's missing and unreadable audio
SYNTHETIC_TEST_IMPORT_REPORT = SYNTHETIC / "test" / IMPORT_REPORT.name   # an imported synthetic test set's
FEATURES = DATA / "features"
EXTRA = DATA / "extra"                              # extra test sets: <name>/ and sets.json (written by extra_sets)
EXTRA_INDEX = EXTRA / "sets.json"

# Clip set name (as in the feature store) -> its folder, in the order the features stage writes them.
CLIP_SETS = {
    "synthetic_train": SYNTHETIC / "train",
    "synthetic_test": SYNTHETIC / "test",
    "realworld_weak": REALWORLD / "weak",
    "realworld_validation": REALWORLD / "validation",
    "realworld_test": REALWORLD / "test",
}
# The sets training reads (and the only ones normalisation statistics may read), and the one that selects epochs.
SYNTHETIC_TRAIN_SET, REAL_TRAIN_SET = "synthetic_train", "realworld_weak"
TRAIN_SETS = (SYNTHETIC_TRAIN_SET, REAL_TRAIN_SET)
VALIDATION_SET = "realworld_validation"
# The unlabelled in-domain set (model.mean_teacher's): in the store where the realworld stage wrote one (its
# clips.tsv and sources.tsv only; realworld.unlabelled_clips 0: none).
UNLABELLED_SET = "realworld_unlabelled"
UNLABELLED = REALWORLD / "unlabelled"

# What the summarize stage writes: the headline figures, the one file DVC lists as metrics (`dvc exp show`), and
# every figure over seeds (per set, per class, diagnostics, provenance), which `ifdsed compare` and the study read.
HEADLINE = RESULTS / "metrics.json"
SUMMARY = RESULTS / "summary.json"
SUMMARY_PER_CLASS = RESULTS / "per_class.csv"


@dataclass(frozen=True)
class RunPaths:
    """Where one training writes: its folder `root` (checkpoints, kept across reruns to resume; the pseudo labels
    of each epoch) and its dvclive logs (in `live_dir`, or root/live). The pipeline's runs are `training_run(seed)`:
    logs under results/, tracked by git, so that queued DVC experiments, which see only git- and DVC-tracked
    files, find them."""
    root: Path
    live_dir: Path | None = None

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last(self) -> Path:
        """last.pt: everything needed to resume, written every epoch."""
        return self.checkpoints / "last.pt"

    @property
    def best(self) -> Path:
        """best.pt: the weights of the best validation score, the model evaluation and prediction use."""
        return self.checkpoints / "best.pt"

    @property
    def pseudo_labels(self) -> Path:
        """epoch_<NNN>.npz: the real weak clips' pseudo strong labels of each epoch (diagnostics)."""
        return self.root / "pseudo_labels"

    @property
    def live(self) -> Path:
        """metrics.json and plots/ (dvclive)."""
        return self.live_dir if self.live_dir is not None else self.root / "live"

    @property
    def energy(self) -> Path:
        """energy.json: the training's energy (`ifdsed.training.energy`), beside the logs."""
        return self.live / "energy.json"


def training_run(seed: int) -> RunPaths:
    """One seed's training in the pipeline: data/train/seed_<seed>/ and its logs in results/train/seed_<seed>/."""
    return RunPaths(DATA / "train" / f"seed_{seed}", RESULTS / "train" / f"seed_{seed}")


def train_dir(seed: int) -> Path:
    """One seed's training outputs: checkpoints/{best,last}.pt, pseudo_labels/."""
    return training_run(seed).root


def checkpoints(seed: int) -> Path:
    return training_run(seed).checkpoints


def best_checkpoint(seed: int) -> Path:
    return training_run(seed).best


def train_logs(seed: int) -> Path:
    """One seed's dvclive logs (metrics.json, energy.json, plots/)."""
    return training_run(seed).live


def eval_dir(seed: int) -> Path:
    """One seed's evaluation outputs: per_class.csv, predictions/<set>.tsv, plots/."""
    return DATA / "eval" / f"seed_{seed}"


def eval_metrics(seed: int) -> Path:
    """One seed's metrics (tracked by git; not a DVC metric: `dvc exp show` lists only HEADLINE)."""
    return RESULTS / "eval" / f"seed_{seed}" / "metrics.json"


def pseudo_labels(seed: int) -> Path:
    """One seed's per-epoch pseudo strong labels of the real weak clips (written by training)."""
    return training_run(seed).pseudo_labels


def diagnostics(seed: int) -> Path:
    """One seed's diagnostics against hidden truth (pseudo_labels.tsv, metrics.json; tracked by git)."""
    return RESULTS / "diagnostics" / f"seed_{seed}"


def extra_clip_sets() -> dict[str, Path]:
    """The extra test sets the extra_sets stage imported: {store name "extra_<name>": folder}; empty before it ran
    or without extra sets."""
    import json
    if not EXTRA_INDEX.is_file():
        return {}
    return {f"extra_{name}": EXTRA / name for name in json.loads(EXTRA_INDEX.read_text())["sets"]}
