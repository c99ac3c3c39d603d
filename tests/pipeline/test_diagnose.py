"""`python -m pipeline.diagnose --seed S` (pipeline/diagnose.py): each epoch's pseudo labels against the hidden
weak timestamps, in a project folder of its own (toy store, hand-built pseudo labels and truth)."""
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from ifdsed import paths
from tests.helpers import CLASSES, FRAME_SECONDS, ROOT, run_stage, write_toy_store

N_CLIPS = 4


@pytest.fixture
def project(tmp_path):
    """A project folder with the toy store, two epochs of pseudo labels and a training log naming epoch 2 best."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["classes"] = CLASSES
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    write_toy_store(tmp_path / paths.FEATURES, [(paths.REAL_TRAIN_SET, N_CLIPS, False)])
    frames = np.load(tmp_path / paths.FEATURES / f"{paths.REAL_TRAIN_SET}.npy").shape[1]
    folder = tmp_path / paths.pseudo_labels(1)
    folder.mkdir(parents=True)
    for epoch, last_frame in ((1, 1), (2, 3)):   # epoch 1 labels frame 0 of clip 0; epoch 2 frames 0-2
        labels = np.zeros((N_CLIPS, frames, len(CLASSES)), bool)
        labels[0, :last_frame, 0] = True
        np.savez_compressed(folder / f"epoch_{epoch:03d}.npz", labels=labels, seen=np.ones(N_CLIPS, bool))
    (tmp_path / paths.train_logs(1)).mkdir(parents=True)
    (tmp_path / paths.train_logs(1) / "metrics.json").write_text(json.dumps({"best_epoch": 2}))
    return tmp_path


def hide_truth(project, events):
    (project / paths.HIDDEN).mkdir(parents=True)
    pd.DataFrame(events, columns=["filename", "onset", "offset", "event_label"]).to_csv(
        project / paths.HIDDEN / "weak_events.tsv", sep="\t", index=False)


def test_each_epochs_precision_and_recall_against_the_hidden_timestamps(project):
    # the truth: clip 0 has class 0 over its first two frames
    hide_truth(project, [(f"{paths.REAL_TRAIN_SET}_0.wav", 0.0, 2 * FRAME_SECONDS, CLASSES[0])])
    done = run_stage_with_seed(project)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(project / paths.diagnostics(1) / "pseudo_labels.tsv", sep="\t")
    assert list(table["epoch"]) == [1, 2]
    assert list(table["precision"]) == pytest.approx([1.0, 2 / 3], abs=1e-4)
    assert list(table["recall"]) == pytest.approx([0.5, 1.0], abs=1e-4)
    frames = np.load(project / paths.FEATURES / f"{paths.REAL_TRAIN_SET}.npy").shape[1]
    assert table["truth_share"].iloc[0] == pytest.approx(2 / (N_CLIPS * frames), abs=1e-4)
    metrics = json.loads((project / paths.diagnostics(1) / "metrics.json").read_text())
    assert metrics["best_epoch"] == 2
    assert metrics["pseudo_label_precision"] == pytest.approx(2 / 3) and metrics["pseudo_label_recall"] == 1.0


def test_without_hidden_timestamps_only_the_share_is_reported(project):
    done = run_stage_with_seed(project)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((project / paths.diagnostics(1) / "metrics.json").read_text())
    assert metrics["pseudo_label_share"] > 0 and metrics["pseudo_label_precision"] is None


def test_no_pseudo_labels_is_an_error_that_names_the_folder(project):
    for path in (project / paths.pseudo_labels(1)).glob("*.npz"):
        path.unlink()
    done = run_stage_with_seed(project)
    assert done.returncode != 0 and str(paths.pseudo_labels(1)) in done.stderr


def run_stage_with_seed(project):
    return run_stage("pipeline.diagnose", project, "--seed", "1")
