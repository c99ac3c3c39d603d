"""The training's diagnostics (ifdsed.training.diagnostics): the pseudo labels recorded per epoch, and each loss
term's gradient norm into the encoder, measured without changing the training."""
import copy

import numpy as np
import pytest
import torch

from ifdsed.evaluation.pseudo_labels import read_epoch
from ifdsed.models.config import ModelConfig
from ifdsed.models.sed_model import SEDModel
from ifdsed.training.diagnostics import PseudoLabelRecorder, encoder_gradient_norms
from ifdsed.training.execution import Execution
from ifdsed.training.step import optimisation_step
from tests.helpers import make_batch

CPU = torch.device("cpu")


def hand_built_step():
    """Three real clips (rows 2, 0, 2 of the weak set: row 2 twice) and one synthetic clip, 2 frames, 3 classes."""
    frame_probs = torch.tensor([
        [[0.9, 0.2, 0.8], [0.1, 0.6, 0.4]],    # real row 2, tags {0, 1}: frame 0 -> class 0; frame 1 -> class 1
        [[0.7, 0.7, 0.7], [0.2, 0.2, 0.2]],    # real row 0, tags {2}: frame 0 -> class 2; frame 1 -> nothing
        [[0.9, 0.2, 0.8], [0.1, 0.6, 0.4]],    # real row 2 again (same clip, same outputs)
        [[0.9, 0.9, 0.9], [0.9, 0.9, 0.9]],    # synthetic row 2: must not be recorded as real row 2
    ])
    tags = torch.tensor([[1., 1., 0.], [0., 0., 1.], [1., 1., 0.], [1., 1., 1.]])
    labels = {"clip_tags": tags, "is_synthetic": torch.tensor([False, False, False, True]),
              "clip_index": torch.tensor([2, 0, 2, 2])}
    return {"frame_probs": frame_probs}, labels


def test_the_recorder_keeps_each_real_clips_pseudo_labels_and_ignores_synthetic_clips(tmp_path):
    recorder = PseudoLabelRecorder(n_clips=4, frames=2, n_classes=3, theta=0.5, device=CPU)
    outputs, labels = hand_built_step()
    recorder(outputs, labels, {})
    expected = np.zeros((4, 2, 3), bool)
    expected[2, 0, 0], expected[2, 1, 1], expected[0, 0, 2] = True, True, True
    recorder.save(tmp_path / "epoch_001.npz")
    saved, seen = read_epoch(tmp_path / "epoch_001.npz")
    np.testing.assert_array_equal(saved, expected)
    np.testing.assert_array_equal(seen, [True, False, True, False])
    # rows 0 and 2 were seen: 4 frames, 3 of them with a pseudo label
    assert recorder.share() == pytest.approx(3 / 4)
    # the same labels give the same bytes; a new epoch starts empty
    recorder.save(tmp_path / "again.npz")
    assert (tmp_path / "again.npz").read_bytes() == (tmp_path / "epoch_001.npz").read_bytes()
    recorder.start_epoch()
    assert recorder.share() == 0.0 and not recorder.labels.any()


def test_recording_every_step_changes_nothing_in_training():
    torch.manual_seed(0)
    model = SEDModel(ModelConfig(channels=(4, 4, 4), ifd=True, sedb=True))
    twin = copy.deepcopy(model)
    execution = Execution(CPU)
    batch = make_batch(n_clips=8, n_frames=12, device=CPU)
    recorder = PseudoLabelRecorder(n_clips=4, frames=12, n_classes=10, theta=0.5, device=CPU)
    for net, observers in ((model, [recorder]), (twin, [])):
        optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
        for _ in range(2):
            optimisation_step(net, net, optimizer, batch, execution, observers=observers)
    assert recorder.seen[:4].all()
    for mine, theirs in zip(model.state_dict().values(), twin.state_dict().values()):
        assert torch.equal(mine, theirs)


def test_gradient_norms_are_each_weighted_terms_and_leave_the_model_alone():
    torch.manual_seed(0)
    model = SEDModel(ModelConfig(channels=(4, 4, 4), ifd=True, sedb=True, lambda_sedb=2.0)).train()
    before = copy.deepcopy(model.state_dict())
    batch = make_batch(n_clips=8, n_frames=12, device=CPU)
    batch["frame_labels"][:4] = 0
    norms = encoder_gradient_norms(model, batch, Execution(CPU), lambda_ifd=0.5)
    assert set(norms) == {"atp", "sedb", "ifd_hinge", "ifd_norm"}
    # the model, its BatchNorm statistics included, is untouched and has no gradients
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(p.grad is None for p in model.parameters())
    # by hand: the SEDB term's gradient, weighted by lambda_sedb, on a fresh copy
    shadow = copy.deepcopy(model)
    losses = shadow.losses(shadow(batch["features"]), batch)
    grads = torch.autograd.grad(2.0 * losses["sedb"], list(shadow.encoder.parameters()))
    assert norms["sedb"] == pytest.approx(float(torch.linalg.vector_norm(torch.stack(
        [torch.linalg.vector_norm(g) for g in grads]))), rel=1e-5)
    # during an IFD warm-up the IFD terms send nothing
    warm = encoder_gradient_norms(model, batch, Execution(CPU), lambda_ifd=0.0)
    assert warm["ifd_hinge"] == warm["ifd_norm"] == 0.0 and warm["atp"] == pytest.approx(norms["atp"])


def test_a_variant_reports_only_its_own_terms():
    model = SEDModel(ModelConfig(channels=(4, 4, 4)))
    norms = encoder_gradient_norms(model, make_batch(n_clips=4, n_frames=8, device=CPU), Execution(CPU), 1.0)
    assert set(norms) == {"atp"} and norms["atp"] > 0
