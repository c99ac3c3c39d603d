"""The domain-gap probe (ifdsed.evaluation.domain_gap): all frames, event frames only, per class; on the encoder's
output x always and on the IFD projection v where the model has the IFD branch."""
import numpy as np
import pytest
import torch

from ifdsed.evaluation.domain_gap import (MIN_FRAMES, TooFewFrames, domain_gap, domain_gap_metrics,
                                          domain_gap_report)


def domains(n_clips=40, frames=50, dim=8, seed=0):
    """Two domains whose background frames come from one distribution and whose event frames (class 0, frames
    10-29 of every clip) differ in one dimension: the gap is in the event frames only. Class 1 has two frames."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((n_clips, frames, 2), np.uint8)
    labels[:, 10:30, 0] = 1
    labels[0, 10:12, 1] = 1                                  # class 1: 2 event frames of one clip, too few
    synthetic, real = rng.normal(size=(2, n_clips, frames, dim)).astype(np.float32)
    synthetic[:, 10:30, 0] += 4.0
    return synthetic, real, labels


def test_the_gap_shows_on_event_frames_and_is_diluted_on_all_frames():
    synthetic, real, labels = domains()
    metrics = domain_gap_metrics(synthetic, real, labels, labels, ["event", "rare"], seed=1)
    assert metrics["domain_gap_accuracy_events"] > 0.95          # event frames: fully separable
    assert metrics["domain_gap_accuracy_events/event"] == metrics["domain_gap_accuracy_events"]
    assert 0.55 < metrics["domain_gap_accuracy"] < 0.8          # 40 % of frames differ: a partial gap
    assert metrics["domain_gap_accuracy_events/rare"] is None   # too few frames to probe


def test_all_frames_probe_is_unchanged_by_the_masks_option():
    """The all-frames figure is the probe as it always was (same seed, same value), and a mask that selects every
    frame draws the same frames."""
    synthetic, real, labels = domains(seed=3)
    plain = domain_gap(synthetic, real, seed=2)["domain_gap_accuracy"]
    every = np.ones(labels.shape[:2], bool)
    assert domain_gap_metrics(synthetic, real, labels, labels, ["event", "rare"], seed=2)["domain_gap_accuracy"] == plain
    assert domain_gap(synthetic, real, seed=2, synthetic_frames=every, real_frames=every)["domain_gap_accuracy"] == plain


def test_too_few_selected_frames_are_refused():
    synthetic, real, labels = domains()
    few = np.zeros(labels.shape[:2], bool)
    few[:, 0] = True                                          # one frame per clip: 20 per half, below MIN_FRAMES
    assert 20 < MIN_FRAMES
    with pytest.raises(TooFewFrames):
        domain_gap(synthetic, real, seed=0, synthetic_frames=few, real_frames=few)


# ---------------------------------------------------------------------------------- the probe on x and on v
def test_the_report_probes_v_beside_x_only_when_v_is_given():
    """x keeps its keys and values; v gets the same three probes under domain_gap_v_."""
    synthetic, real, labels = domains(seed=4)
    v_synthetic, v_real = synthetic[..., :4] * 0.5, real[..., :4] * 0.5         # another embedding, [N, T, 4]
    classes = ["event", "rare"]
    x_only = domain_gap_report({"x": synthetic}, {"x": real}, labels, labels, classes, seed=2)
    assert x_only == domain_gap_metrics(synthetic, real, labels, labels, classes, seed=2)
    assert not [key for key in x_only if key.startswith("domain_gap_v")]
    both = domain_gap_report({"x": synthetic, "v": v_synthetic}, {"x": real, "v": v_real}, labels, labels, classes,
                             seed=2)
    v_keys = {"domain_gap_v_accuracy", "domain_gap_v_accuracy_events", "domain_gap_v_accuracy_events/event",
              "domain_gap_v_accuracy_events/rare"}
    assert set(both) == set(x_only) | v_keys
    assert {key: both[key] for key in x_only} == x_only
    plain = domain_gap_metrics(v_synthetic, v_real, labels, labels, classes, seed=2)
    assert {key: both[key.replace("domain_gap", "domain_gap_v")] for key in plain} == plain
    assert both["domain_gap_v_accuracy_events"] > 0.95                          # the gap of dimension 0 is in v too


@pytest.mark.parametrize("ifd", [False, True])
def test_the_detector_gives_v_exactly_when_the_ifd_branch_exists(ifd):
    """Detector.feature_outputs_and_embeddings: x as the model's forward gives it; v = the IFD projection of x,
    present iff the model has the IFD branch; the probabilities are feature_outputs', from the same pass."""
    from ifdsed.config import parse_params
    from ifdsed.inference.detector import Detector
    from ifdsed.inference.settings import detector_extra, detector_settings
    from ifdsed.models.config import ModelConfig
    from ifdsed.models.sed_model import SEDModel
    from tests.helpers import TOY_CONFIG

    params = parse_params({})
    torch.manual_seed(0)
    model = SEDModel(ModelConfig(n_mels=TOY_CONFIG.n_mels, n_classes=len(params.classes), channels=(4, 4, 4),
                                 ifd=ifd, ifd_dim=3))
    extra = detector_extra(params.classes, params.postprocess, TOY_CONFIG, np.zeros(TOY_CONFIG.n_mels, np.float32),
                           np.ones(TOY_CONFIG.n_mels, np.float32), np.ones(len(params.classes), np.int64))
    detector = Detector(model, detector_settings({"detector": extra}), "cpu")
    features = np.random.default_rng(0).normal(size=(5, 7, TOY_CONFIG.n_mels)).astype(np.float32)
    frame_probs, clip_probs, embeddings = detector.feature_outputs_and_embeddings(features, batch_size=2)
    assert set(embeddings) == ({"x", "v"} if ifd else {"x"})
    for got, expected in zip((frame_probs, clip_probs), detector.feature_outputs(features, batch_size=2)):
        np.testing.assert_array_equal(got, expected)                                       # same batches
    with torch.inference_mode():                                                           # the same batches
        x = np.concatenate([model.eval().encoder(detector.normalize(features[i:i + 2])).numpy() for i in (0, 2, 4)])
    np.testing.assert_array_equal(embeddings["x"], x)
    if ifd:
        with torch.inference_mode():
            expected = model.eval().ifd(torch.from_numpy(embeddings["x"])).numpy()          # [5, 7, 3]
        assert embeddings["v"].shape == (5, 7, 3) and embeddings["v"].dtype == np.float32
        np.testing.assert_allclose(embeddings["v"], expected, rtol=0, atol=1e-6)
