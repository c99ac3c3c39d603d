"""The mean teacher (ifdsed.training.mean_teacher): the EMA update is its formula, the teacher gets no gradient,
the ramp-up and the consistency loss are what they say, and the teacher's state round-trips (for last.pt)."""
import math

import numpy as np

import pytest
import torch

from ifdsed.models.config import ModelConfig
from ifdsed.models.sed_model import SEDModel
from ifdsed.training.mean_teacher import MeanTeacher, consistency_loss, rampup
from tests.helpers import make_batch


def tiny_model(seed: int = 0) -> SEDModel:
    torch.manual_seed(seed)
    return SEDModel(ModelConfig(channels=(4, 4, 4)))


def parameters(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def move(model: torch.nn.Module, seed: int) -> None:
    """Give every parameter of `model` new random values (standing in for an optimizer step)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))


def test_the_ema_update_is_its_formula_with_the_decay_warm_up():
    student = tiny_model()
    teacher = MeanTeacher(student, decay=0.6)
    for a, b in zip(teacher.model.parameters(), student.parameters()):
        assert a is not b and torch.equal(a, b)                          # a copy, not the same tensors
    move(student, 1)
    teacher.update(student)                                              # the first update copies the student
    for a, b in zip(teacher.model.parameters(), student.parameters()):
        assert torch.equal(a, b)
    for update in (1, 2, 3):                                             # d_k = min(0.6, 1 - 1 / (k + 1))
        before = parameters(teacher.model)
        move(student, 1 + update)
        teacher.update(student)
        decay = min(0.6, 1 - 1 / (update + 1))
        assert decay == teacher.decay_at(update)
        for old, new, s in zip(before, teacher.model.parameters(), student.parameters()):
            torch.testing.assert_close(new, decay * old + (1 - decay) * s, rtol=0, atol=1e-6)
    assert [teacher.decay_at(k) for k in (0, 1, 2)] == [0.0, 0.5, 0.6]


def test_the_teacher_gets_no_gradient_and_stays_out_of_the_optimizer():
    student = tiny_model().train()
    teacher = MeanTeacher(student, decay=0.99)
    optimizer = torch.optim.Adam(student.parameters(), lr=0.1)
    batch = make_batch(n_clips=4, n_frames=8, device=torch.device("cpu"))
    before = parameters(teacher.model)
    outputs = student(batch["features"])
    with torch.no_grad():
        targets = teacher.model.train()(batch["features"])
    loss = consistency_loss(outputs, targets) + student.losses(outputs, batch)["total"]
    loss.backward()
    optimizer.step()
    assert all(not p.requires_grad and p.grad is None for p in teacher.model.parameters())
    assert all(p.grad is not None for p in student.parameters())
    for old, new in zip(before, teacher.model.parameters()):             # only update() moves the teacher
        assert torch.equal(old, new)


def test_the_consistency_loss_is_the_two_mses_and_trains_the_student_only():
    torch.manual_seed(0)
    student = {"frame_probs": torch.rand(3, 5, 10, requires_grad=True), "clip_probs": torch.rand(3, 10,
                                                                                                  requires_grad=True)}
    teacher = {"frame_probs": torch.rand(3, 5, 10, requires_grad=True), "clip_probs": torch.rand(3, 10,
                                                                                                  requires_grad=True)}
    loss = consistency_loss(student, teacher)
    expected = sum(((student[k] - teacher[k]) ** 2).mean() for k in ("frame_probs", "clip_probs"))
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert student["frame_probs"].grad is not None and teacher["frame_probs"].grad is None


@pytest.mark.parametrize("step, steps, expected", [
    (0, 100, math.exp(-5.0)), (50, 100, math.exp(-5.0 * 0.25)), (100, 100, 1.0), (250, 100, 1.0), (0, 0, 1.0)])
def test_the_rampup_is_the_sigmoid_shaped_ramp(step, steps, expected):
    assert rampup(step, steps) == pytest.approx(expected, rel=1e-12)


def test_the_teacher_state_round_trips_with_its_update_count():
    student = tiny_model()
    teacher = MeanTeacher(student, decay=0.9)
    for seed in (1, 2, 3):
        move(student, seed)
        teacher.update(student)
    other = MeanTeacher(tiny_model(seed=5), decay=0.9)
    other.load_state_dict(teacher.state_dict())
    for a, b in zip(other.model.state_dict().values(), teacher.model.state_dict().values()):
        assert torch.equal(a, b)
    move(student, 4)                                                     # both continue alike: same count
    teacher.update(student)
    other.update(student)
    for a, b in zip(other.model.parameters(), teacher.model.parameters()):
        assert torch.equal(a, b)


def test_a_decay_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="decay"):
        MeanTeacher(tiny_model(), decay=1.0)


# ------------------------------------------------------------------------------------- in batches, steps, training
def with_unlabelled_set(store, n_clips: int = 12):
    """The toy store with an unlabelled set as the features stage writes one: features and an index table of row
    and filename, no tags, no frame labels (features.json lists it)."""
    import json

    import numpy as np
    import pandas as pd

    from ifdsed.features.store import INFO_FILE, open_set_features, set_summary
    from ifdsed.paths import UNLABELLED_SET
    from tests.helpers import FRAMES, MELS, TOY_CONFIG
    features = open_set_features(store, UNLABELLED_SET, n_clips, FRAMES, MELS)
    features[:] = np.random.default_rng(1).normal(0, 0.3, size=features.shape)
    features.flush()
    del features
    pd.DataFrame({"row": range(n_clips), "filename": [f"u_{i}.wav" for i in range(n_clips)]}).to_csv(
        store / f"{UNLABELLED_SET}.tsv", sep="\t", index=False)
    info = json.loads((store / INFO_FILE).read_text())
    info["sets"][UNLABELLED_SET] = set_summary(n_clips, TOY_CONFIG, False)
    (store / INFO_FILE).write_text(json.dumps(info))
    return store


def teacher_params(**train):
    """training_params (a tiny SEDB & IFD model, eager float32) with a mean teacher."""
    from tests.helpers import training_params
    params = training_params(channels=(4, 4, 4), compile=False, precision="float32", **train)
    model = params.model.model_copy(update={"mean_teacher": True, "consistency_rampup": 1})
    return params.model_copy(update={"model": model})


def test_unlabelled_clips_join_each_batch_after_the_unchanged_labelled_ones(store):
    from ifdsed.features.normalize import Normalizer
    from ifdsed.features.store import load_feature_set
    from ifdsed.paths import UNLABELLED_SET
    from ifdsed.training.batches import MixedBatches
    with_unlabelled_set(store)
    real, synthetic = load_feature_set(store, "realworld_weak"), load_feature_set(store, "synthetic_train")
    unlabelled = load_feature_set(store, UNLABELLED_SET)
    assert unlabelled.tags is None and unlabelled.frame_labels is None and "event_labels" not in unlabelled.index
    normalize = Normalizer(np.zeros(64, np.float32), np.ones(64, np.float32))
    plain = list(MixedBatches(real, synthetic, normalize, 8, 0.5, seed=3).epoch(0))
    mixed = list(MixedBatches(real, synthetic, normalize, 8, 0.5, seed=3, unlabelled=unlabelled,
                              n_unlabelled=5).epoch(0))
    assert len(plain) == len(mixed)
    drawn = []
    for before, after in zip(plain, mixed):
        assert after["is_unlabelled"].tolist() == [False] * 8 + [True] * 5
        for key, value in before.items():
            assert torch.equal(after[key][:8], value), key                  # the labelled part is unchanged
        assert not after["clip_tags"][8:].any() and not after["frame_labels"][8:].any()
        assert not after["is_synthetic"][8:].any()
        rows = after["clip_index"][8:].numpy()
        assert torch.equal(after["features"][8:], torch.from_numpy(unlabelled.features[rows]))
        drawn.extend(rows)
    counts = np.bincount(drawn, minlength=12)                               # whole shuffled passes: 30 draws
    assert len(drawn) == 30 and set(counts) <= {2, 3}                       # of 12 clips, each 2 or 3 times


def test_the_unlabelled_clips_reach_the_consistency_loss_and_no_loss_that_needs_labels():
    """Unlabelled rows with NaN labels: any loss that read them would be NaN; the consistency loss reads them."""
    from ifdsed.training.execution import Execution
    from ifdsed.training.step import optimisation_step
    torch.manual_seed(0)
    model = SEDModel(ModelConfig(channels=(4, 4, 4), ifd=True, sedb=True, mean_teacher=True)).train()
    teacher = MeanTeacher(model, decay=0.9)
    move(teacher.model, 7)                         # a teacher unlike its student (a copy would agree exactly)
    batch = make_batch(n_clips=6, n_frames=8, device=torch.device("cpu"))
    unlabelled = make_batch(n_clips=4, n_frames=8, seed=1, device=torch.device("cpu"))
    batch = {"features": torch.cat([batch["features"], unlabelled["features"]]),
             "clip_tags": torch.cat([batch["clip_tags"], torch.full((4, 10), float("nan"))]),
             "frame_labels": torch.cat([batch["frame_labels"], torch.full((4, 8, 10), float("nan"))]),
             "is_synthetic": torch.cat([batch["is_synthetic"], torch.zeros(4, dtype=torch.bool)]),
             "clip_index": torch.cat([batch["clip_index"], torch.arange(4)]),
             "is_unlabelled": torch.tensor([False] * 6 + [True] * 4)}
    seen = []
    losses = optimisation_step(model, model, torch.optim.Adam(model.parameters(), lr=0.01), batch,
                               Execution(torch.device("cpu")), observers=[lambda o, labels, l: seen.append(labels)],
                               teacher=teacher, consistency_weight=2.0)
    assert all(torch.isfinite(value).all() for value in losses.values()), losses
    assert len(seen[0]["clip_tags"]) == 6                                     # observers: the labelled rows
    assert losses["consistency"] > 0
    torch.testing.assert_close(losses["total"], losses["atp"] + losses["sedb"] + losses["ifd"]
                               + 2.0 * losses["consistency"])
    assert teacher.averaged.n_averaged == 1                                   # the EMA step followed


def test_a_mean_teacher_training_selects_on_the_teacher_logs_both_and_resumes_to_the_same_bytes(
        store, tmp_path, monkeypatch):
    import ifdsed.training.loop as training
    from ifdsed.models import checkpoint
    from tests.helpers import toy_validation
    with_unlabelled_set(store)
    params, folder = teacher_params(epochs=3), toy_validation(store)
    real_scores, scored = training.validation_scores, []

    def scores(detector, *args):                     # the teacher better than the student, epoch after epoch
        scored.append(detector)
        real_scores(detector, *args)
        teacher = len(scored) % 2 == 0
        return {"event_f1": 0.1 * len(scored) + (0.05 if teacher else 0.0), "frame_f1": 0.5}

    with monkeypatch.context() as patch:
        patch.setattr(training, "validation_scores", scores)
        summary = training.train_seed(params, 1, store, tmp_path / "straight", validation_folder=folder)
    assert summary["variant"] == "SEDB&IFD+MT" and summary["best_epoch"] == 3
    assert summary["best_validation_score"] == pytest.approx(0.65)            # the teacher's score selects
    assert scored[0].model is not scored[1].model                             # student, then teacher
    best, last = (checkpoint.load(tmp_path / "straight/checkpoints" / name) for name in ("best.pt", "last.pt"))
    assert best.config.mean_teacher
    teacher_state = {key.removeprefix("module."): value for key, value in last.extra["teacher"].items()
                     if key.startswith("module.")}
    for key, value in best.model.state_dict().items():                        # best.pt: the teacher's weights
        assert torch.equal(value, teacher_state[key]), key
    assert any(not torch.equal(value, last.model.state_dict()[key])           # not the student's
               for key, value in best.model.state_dict().items())
    logged = (tmp_path / "straight/live/plots/metrics").rglob("*.tsv")
    assert {"student_event_f1_macro.tsv", "event_f1_macro.tsv", "consistency.tsv"} <= {p.name for p in logged}

    from tests.training.test_resume import assert_same_weights
    straight = training.train_seed(params, 1, store, tmp_path / "plain", validation_folder=folder)
    calls = []

    def killed_in_epoch_three(*args):                # two validations an epoch: the student's, the teacher's
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_scores(*args)

    with monkeypatch.context() as patch:
        patch.setattr(training, "validation_scores", killed_in_epoch_three)
        with pytest.raises(KeyboardInterrupt):
            training.train_seed(params, 1, store, tmp_path / "resumed", validation_folder=folder)
    assert checkpoint.load(tmp_path / "resumed/checkpoints/last.pt").epoch == 2
    resumed = training.train_seed(params, 1, store, tmp_path / "resumed", validation_folder=folder)
    assert resumed == straight
    for name in ("best.pt", "last.pt"):
        assert_same_weights(tmp_path / "plain/checkpoints" / name, tmp_path / "resumed/checkpoints" / name)
    assert (checkpoint.load(tmp_path / "plain/checkpoints/last.pt").extra["teacher"].keys()
            == checkpoint.load(tmp_path / "resumed/checkpoints/last.pt").extra["teacher"].keys())
    for key, value in checkpoint.load(tmp_path / "plain/checkpoints/last.pt").extra["teacher"].items():
        assert torch.equal(value, checkpoint.load(tmp_path / "resumed/checkpoints/last.pt").extra["teacher"][key])


def test_a_mean_teacher_without_an_unlabelled_set_is_refused_naming_the_param(store, tmp_path):
    from ifdsed.config import ParamsError
    from ifdsed.training.loop import train_seed
    from tests.helpers import toy_validation
    with pytest.raises(ParamsError, match="realworld.unlabelled_clips"):
        train_seed(teacher_params(epochs=1), 1, store, tmp_path / "run", validation_folder=toy_validation(store))
