"""The per-epoch model selection scores (ifdsed.training.selection): event F1 is evaluation's event-based macro
F1 on validation, the frame F1 stand-in, and the validation labels they read."""
import shutil

import numpy as np
import pytest

from ifdsed.config import EvalParams
from ifdsed.errors import InputError
from ifdsed.evaluation.sets import EVAL_SETS, score_set
from ifdsed.features.store import load_feature_set
from ifdsed.inference.detector import Detector
from ifdsed.inference.settings import detector_settings
from ifdsed.models import checkpoint
from ifdsed.training.loop import train_seed
from ifdsed.training.selection import frame_f1, validation_events, validation_scores
from tests.helpers import toy_validation, training_params

VALIDATION = next(eval_set for eval_set in EVAL_SETS if eval_set.key == "real_validation")


def test_frame_f1_is_the_macro_f1_of_gated_decisions():
    labels = np.zeros((1, 4, 2), np.uint8)
    labels[0, :2, 0] = 1
    frame_probs = np.full((1, 4, 2), 0.9)
    clip_probs = np.array([[0.9, 0.1]])  # class 1 not tagged: its frames are gated off
    # class 0: TP 2, FP 2 -> F1 2/3; class 1: nothing true, nothing predicted -> 0
    assert frame_f1(frame_probs, clip_probs, labels) == pytest.approx((2 / 3 + 0) / 2)


def loaded_detector(path) -> Detector:
    saved = checkpoint.load(path)
    return Detector(saved.model, detector_settings(saved.extra), "cpu", epoch=saved.epoch)


@pytest.mark.filterwarnings("ignore:psds")   # the toy set lacks some classes
def test_event_f1_selection_is_evaluation_s_event_based_macro_f1_on_validation(store, tmp_path):
    """The score that picked best.pt is what evaluation reports for real_validation on best.pt, and the selection
    function gives evaluation's figure for any model."""
    folder = toy_validation(store)
    evaluation = EvalParams()
    assert VALIDATION.store_name == "realworld_validation"
    summary = train_seed(training_params(channels=(8, 8, 8), epochs=2, lr=0.001, compile=False, precision="float32"),
                         1, store, tmp_path / "run", validation_folder=folder)
    validation = load_feature_set(store, VALIDATION.store_name)
    best = loaded_detector(tmp_path / "run/checkpoints/best.pt")
    evaluated = score_set(best, validation, folder, evaluation).metrics["event_f1_macro"]
    assert summary["selection"] == "event_f1"
    assert summary["best_validation_score"] == evaluated > 0
    assert checkpoint.load(tmp_path / "run/checkpoints/best.pt").extra["validation_score"] == evaluated
    # the selection function against evaluation, for the weights of both epochs, under other sed_eval settings too
    truth, seen = validation_events(folder, validation), []
    for path in ("best.pt", "last.pt"):
        detector = loaded_detector(tmp_path / "run/checkpoints" / path)
        frame_probs, clip_probs = detector.feature_outputs(validation.features)
        for evaluation in (EvalParams(), EvalParams(t_collar=1.0, percentage_of_length=0.5)):
            scores = validation_scores(detector, validation, truth, evaluation)
            assert scores["event_f1"] == score_set(detector, validation, folder, evaluation).metrics["event_f1_macro"]
            assert scores["frame_f1"] == frame_f1(frame_probs, clip_probs, validation.frame_labels)
            seen.append(scores["event_f1"])
    assert len(set(seen)) > 1 and all(0 < score < 1 for score in seen), seen


def test_validation_labels_that_are_missing_or_belong_to_other_clips_are_named(store, tmp_path):
    validation = load_feature_set(store, "realworld_validation")
    folder = toy_validation(store)
    assert len(validation_events(folder, validation)) > 0
    with pytest.raises(InputError, match=f"^{tmp_path / 'nowhere' / 'events.tsv'}: not found"):
        train_seed(training_params(compile=False, precision="float32"), 1, store, tmp_path / "run",
                   validation_folder=tmp_path / "nowhere")
    assert not (tmp_path / "run").exists()
    other = shutil.copytree(folder, tmp_path / "other")
    clips = other / "clips.tsv"
    clips.write_text(clips.read_text().replace("realworld_validation_0.wav", "someone_else.wav"))
    with pytest.raises(InputError, match=f"^{clips}: lists other clips than the feature store's "
                                         r"realworld_validation set \(1 not in the store, 1 missing"):
        validation_events(other, validation)
