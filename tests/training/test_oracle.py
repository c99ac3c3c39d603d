"""The oracle arm (ifdsed.training.oracle, model.ifd_labels: oracle): the weak clips' hidden timestamps as frame
labels, added to each batch, read by the IFD loss alone; the file is read in this arm only, and named when it is
missing."""
import numpy as np
import pytest
import torch

from ifdsed import paths as layout
from ifdsed.config import parse_params
from ifdsed.errors import InputError
from ifdsed.features.store import load_feature_set
from ifdsed.models.config import ModelConfig
from ifdsed.training.oracle import oracle_frame_labels, with_oracle_labels
from tests.helpers import CLASSES, FRAME_SECONDS, FRAMES, toy_validation, training_params

FAST = {"channels": (4, 4, 4), "compile": False, "precision": "float32"}


def hidden_events(path, weak):
    """A hidden event table for the toy weak set: clip i has one event of each of its tags, frames i % 15 to
    i % 15 + 5 (onset and offset on frame boundaries); clip 0 a second Dog event past the clip's end. Returns the
    frame labels [N, T, C] they mean, set by hand."""
    expected = np.zeros((len(weak.tags), FRAMES, len(CLASSES)), np.uint8)
    rows = []
    for i, name in enumerate(weak.index["filename"]):
        start = i % 15
        for c in np.flatnonzero(weak.tags[i]):
            rows.append(f"{name}\t{start * FRAME_SECONDS:.3f}\t{(start + 5) * FRAME_SECONDS:.3f}\t{CLASSES[c]}\n")
            expected[i, start:start + 5, c] = 1
    rows.append(f"{weak.index['filename'][0]}\t9.2\t12.0\tDog\n")          # frame 18 to the end, cut at 10 s
    expected[0, 18:, CLASSES.index("Dog")] = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("filename\tonset\toffset\tevent_label\n" + "".join(rows))
    return expected


def oracle_params(**train):
    raw = training_params(**FAST, **train).model_dump()
    raw["model"]["ifd_labels"] = "oracle"
    return parse_params(raw)


def test_the_hidden_timestamps_become_frame_labels_as_the_store_makes_them(store, tmp_path):
    weak = load_feature_set(store, layout.REAL_TRAIN_SET)
    expected = hidden_events(tmp_path / "weak_events.tsv", weak)
    labels = oracle_frame_labels(tmp_path / "weak_events.tsv", weak, CLASSES, FRAME_SECONDS)
    assert labels.dtype == torch.uint8 and np.array_equal(labels.numpy(), expected)


def test_a_missing_hidden_file_is_one_clear_error(store, tmp_path):
    weak = load_feature_set(store, layout.REAL_TRAIN_SET)
    with pytest.raises(InputError, match=r"model.ifd_labels is oracle, but .*weak_events.tsv .*does not exist"):
        oracle_frame_labels(tmp_path / "weak_events.tsv", weak, CLASSES, FRAME_SECONDS)


def test_batches_get_their_real_clips_rows_and_zeros_for_synthetic_clips():
    labels = torch.arange(4 * 3 * 2).reshape(4, 3, 2) % 2                       # [N=4, T=3, C=2]
    batch = {"is_synthetic": torch.tensor([False, False, True, True]), "clip_index": torch.tensor([3, 1, 7, 0]),
             "clip_tags": torch.ones(4, 2)}
    (out,) = with_oracle_labels([batch], labels)
    assert out["oracle_frame_labels"].dtype == torch.float32 and out["clip_tags"] is batch["clip_tags"]
    assert torch.equal(out["oracle_frame_labels"][:2], labels[[3, 1]].float())
    assert not out["oracle_frame_labels"][2:].any()                              # clip_index 7: no such real row


def test_training_with_oracle_labels_pairs_the_weak_frames_by_their_hidden_labels(store, tmp_path, monkeypatch):
    """Every IFD loss of the training (the step's and the gradient-norm diagnostic's) gets the hidden frame labels
    for the weak clips and the store's strong labels for the synthetic ones; the run and its checkpoint say it is
    the oracle arm."""
    import ifdsed.models.sed_model as sed_model
    from ifdsed.models import checkpoint
    from ifdsed.training.loop import train_seed
    weak = load_feature_set(store, layout.REAL_TRAIN_SET)
    synthetic = load_feature_set(store, layout.SYNTHETIC_TRAIN_SET)
    expected = hidden_events(tmp_path / "hidden/weak_events.tsv", weak)
    seen, losses = [], sed_model.SEDModel.losses

    def recorded_ifd_loss(v, frame_labels, clip_tags, **options):
        seen[-1]["frame_labels"] = frame_labels.detach().cpu()
        return ifd_loss(v, frame_labels, clip_tags, **options)

    def recorded_losses(self, outputs, batch, lambda_ifd=None):
        seen.append({key: batch[key].cpu() for key in ("clip_index", "is_synthetic")})
        return losses(self, outputs, batch, lambda_ifd)

    ifd_loss = sed_model.ifd_loss
    monkeypatch.setattr(sed_model, "ifd_loss", recorded_ifd_loss)
    monkeypatch.setattr(sed_model.SEDModel, "losses", recorded_losses)
    summary = train_seed(oracle_params(epochs=1), 1, store, tmp_path / "run", validation_folder=toy_validation(store),
                         oracle_events=tmp_path / "hidden/weak_events.tsv")
    assert seen and all("frame_labels" in call for call in seen)
    for call in seen:
        real, rows = ~call["is_synthetic"], call["clip_index"]
        assert np.array_equal(call["frame_labels"][real].numpy(), expected[rows[real].numpy()])
        assert np.array_equal(call["frame_labels"][~real].numpy(), synthetic.frame_labels[rows[~real].numpy()])
    assert summary["variant"] == "SEDB&IFD (oracle IFD labels)"
    assert checkpoint.load(tmp_path / "run/checkpoints/last.pt").config.ifd_labels == "oracle"


def test_the_oracle_arm_stops_when_its_hidden_file_is_missing(store, tmp_path):
    from ifdsed.training.loop import train_seed
    with pytest.raises(InputError, match="model.ifd_labels is oracle"):
        train_seed(oracle_params(epochs=1), 1, store, tmp_path / "run", validation_folder=toy_validation(store),
                   oracle_events=tmp_path / "nowhere/weak_events.tsv")


def test_without_the_ifd_branch_oracle_reads_nothing(store, tmp_path):
    """ifd_labels oracle without the IFD branch changes nothing: no file is needed, the run is the baseline."""
    from ifdsed.training.loop import train_seed
    raw = oracle_params(epochs=1).model_dump()
    raw["model"].update(ifd=False, sedb=False)
    summary = train_seed(parse_params(raw), 1, store, tmp_path / "run", validation_folder=toy_validation(store),
                         oracle_events=tmp_path / "nowhere/weak_events.tsv")
    assert summary["variant"] == ModelConfig().run_name == "baseline"
