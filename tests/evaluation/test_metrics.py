"""Scoring (ifdsed.evaluation.metrics): sed_eval's default evaluated length, fixed class lists, table formats,
tagging F1 and PSDS on hand-made cases (the golden figures through the CLI: tests/cli/test_score.py)."""
import numpy as np
import pandas as pd
import pytest

from ifdsed.config import DCASE_CLASSES
from ifdsed.evaluation.metrics import (DURATION_COLUMNS, event_based, frame_scores_to_sed_scores, psds,
                                       psds_ground_truth, read_table, score_tables, segment_based, tagging_f1)

EVENTS = ["filename", "onset", "offset", "event_label"]


def _events(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=EVENTS).astype({"onset": float, "offset": float})


# ------------------------------------------------------------------------------------------------ golden

def test_without_durations_matches_sed_eval_default_length(fixtures_dir):
    """No durations: sed_eval's own evaluated length (the report's 10864.96 s), with the same F1."""
    truth = read_table(fixtures_dir / "dcase_metadata" / "validation.tsv")
    predictions = read_table(fixtures_dir / "metrics" / "desed_teacher" / "predictions0.5.csv")
    metrics = segment_based(truth, predictions, DCASE_CLASSES)
    assert metrics["segment_evaluated_length_s"] == pytest.approx(10864.96, abs=0.01)
    assert metrics["segment_f1_macro"] == pytest.approx(0.7157, abs=1e-4)


# -------------------------------------------------------------------------------------- class lists, files

def test_fixed_class_list_counts_a_never_predicted_class():
    truth = _events([("a.wav", 1.0, 3.0, "A"), ("a.wav", 5.0, 6.0, "B"), ("b.wav", 2.0, 4.0, "B")])
    predictions = _events([("a.wav", 1.05, 3.1, "A")])                         # no B at all
    metrics = event_based(truth, predictions, ["A", "B", "C"])
    assert metrics["event_f1/A"] == 1.0
    assert metrics["event_f1/B"] == 0.0                                         # zero, not missing
    assert metrics["event_f1/C"] is None                                        # no reference, no detection
    assert metrics["event_f1_macro"] == pytest.approx(0.5)                      # mean of A and B
    assert metrics["event_f1_micro"] == pytest.approx(2 * 1 / (1 + 3))          # P = 1, R = 1/3
    segment = segment_based(truth, predictions, ["A", "B", "C"])
    assert segment["segment_f1/A"] == pytest.approx(0.8)                       # 1 s segments 1, 2 (+ 3 wrong)
    assert segment["segment_f1/B"] == 0.0 and segment["segment_f1/C"] is None
    assert segment["segment_f1_macro"] == pytest.approx(0.4)


def test_missing_files_and_empty_reference_files_count():
    truth = pd.DataFrame({"filename": ["a.wav", "b.wav"], "onset": [1.0, np.nan], "offset": [3.0, np.nan],
                          "event_label": ["A", ""]})                            # b.wav: a clip with no event
    predictions = _events([("b.wav", 0.0, 1.0, "A"), ("zzz.wav", 0.0, 1.0, "A")])
    with pytest.warns(UserWarning, match="outside the evaluated set"):
        metrics = event_based(truth, predictions, ["A"])
    assert metrics["event_files"] == 2
    assert metrics["event_f1_micro"] == 0.0
    assert metrics["event_error_rate"] == pytest.approx(2.0)                    # 1 deletion + 1 insertion
    nothing = event_based(truth, _events([]), ["A"], filenames=["c.wav"])
    assert nothing["event_files"] == 3 and nothing["event_f1_macro"] == 0.0


def test_segment_durations_cover_whole_files():
    truth = _events([("a.wav", 1.0, 3.0, "A")])
    predictions = _events([("a.wav", 1.0, 3.0, "A")])
    durations = pd.DataFrame({"filename": ["a.wav", "b.wav"], "duration": [10.0, 10.0]})
    metrics = score_tables(truth, predictions, ["A"], durations=durations)
    assert metrics["segment_files"] == 2 and metrics["event_files"] == 2
    assert metrics["segment_evaluated_length_s"] == pytest.approx(20.0)
    assert metrics["segment_f1_macro"] == 1.0 and metrics["event_f1_macro"] == 1.0


# -------------------------------------------------------------------------------------------- table formats

def test_comma_tab_and_index_column_inputs_agree(fixtures_dir, tmp_path):
    truth = read_table(fixtures_dir / "dcase_metadata" / "validation.tsv")
    predictions = read_table(fixtures_dir / "metrics" / "desed_teacher" / "predictions0.5.csv")
    files = sorted(truth["filename"].unique())[:120]
    truth = truth[truth["filename"].isin(files)]
    predictions = predictions[predictions["filename"].isin(files)]
    variants = {
        "tab.tsv": dict(sep="\t", index=False),
        "comma.csv": dict(sep=",", index=False),
        "index_tab.tsv": dict(sep="\t", index=True),
        "index_comma.csv": dict(sep=",", index=True),
    }
    results = []
    for name, options in variants.items():
        path = tmp_path / name
        predictions[["event_label", "onset", "offset", "filename"]].to_csv(path, **options)
        results.append(score_tables(truth, read_table(path), DCASE_CLASSES))
    assert all(result == results[0] for result in results[1:])
    renamed = tmp_path / "renamed.tsv"
    predictions.rename(columns={"filename": "file", "event_label": "event_labels"}).to_csv(
        renamed, sep="\t", index=False)
    assert score_tables(truth, read_table(renamed), DCASE_CLASSES) == results[0]


def test_read_table_errors_name_the_file(tmp_path):
    path = tmp_path / "broken.tsv"
    path.write_text("filename\tonset\tevent_label\na.wav\t1.0\tA\n")
    with pytest.raises(ValueError, match=r"broken\.tsv.*offset"):
        read_table(path)
    durations = tmp_path / "durations.csv"
    durations.write_text(",filename,duration\n0,a.wav,10.0\n")
    assert read_table(durations, DURATION_COLUMNS).to_dict("list") == {"filename": ["a.wav"], "duration": [10.0]}


def test_reference_blank_rows_read_as_no_event(fixtures_dir):
    truth = read_table(fixtures_dir / "dcase_metadata" / "validation.tsv")
    blank = truth[truth["event_label"] == ""]
    assert len(blank) > 0 and blank["onset"].isna().all()


# ---------------------------------------------------------------------------------------------------- tagging

def test_tagging_f1_hand_example():
    truth = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]])
    predicted = np.array([[1, 1, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0]])
    metrics = tagging_f1(truth, predicted, ["A", "B", "C"])
    # A: TP 1, FN 1 -> 2/3; B: TP 2, FP 1 -> 4/5; C: no tag anywhere -> undefined
    assert metrics["tagging_f1/A"] == pytest.approx(2 / 3)
    assert metrics["tagging_f1/B"] == pytest.approx(4 / 5)
    assert metrics["tagging_f1/C"] is None
    assert metrics["tagging_f1_macro"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert metrics["tagging_f1_micro"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    with pytest.raises(ValueError):
        tagging_f1(truth, predicted[:, :2])


# ------------------------------------------------------------------------------------------------------- PSDS

def test_frame_scores_to_sed_scores_format():
    scores = frame_scores_to_sed_scores(np.array([[0.1, 0.9], [0.2, 0.8], [0.3, 0.7]]), 0.04, ["A", "B"])
    assert list(scores.columns) == ["onset", "offset", "A", "B"]
    assert scores["onset"].tolist() == [0.0, 0.04, 0.08]
    assert scores["offset"].tolist() == [0.04, 0.08, 0.12]
    assert scores["B"].tolist() == [0.9, 0.8, 0.7]


def _psds_case(seed: int = 0):
    classes, hop, frames = ["A", "B", "C"], 0.1, 100
    rng = np.random.default_rng(seed)
    rows, perfect, garbage = [], {}, {}
    for i in range(12):
        name = f"clip{i}.wav"
        activity = np.zeros((frames, 3))
        for c in range(3):
            if (i + c) % 3:
                start = int(rng.integers(0, 60))
                stop = start + int(rng.integers(10, 40))
                rows.append((name, start * hop, stop * hop, classes[c]))
                activity[start:stop, c] = 1.0
        perfect[name] = frame_scores_to_sed_scores(activity, hop, classes)
        garbage[name] = frame_scores_to_sed_scores(rng.random((frames, 3)), hop, classes)
    durations = {name: 10.0 for name in perfect}
    return classes, _events(rows), durations, perfect, garbage


def test_psds_perfect_and_garbage():
    classes, truth, durations, perfect, garbage = _psds_case()
    good, curves = psds(perfect, truth, durations, classes)
    bad, _ = psds(garbage, truth, durations, classes)
    assert good["psds1"] > 0.99 and good["psds2"] > 0.99
    assert bad["psds1"] < 0.1 and bad["psds2"] < 0.1
    assert set(curves) == {"psds1", "psds2"} and curves["psds2"]["etpr"].shape == curves["psds2"]["efpr"].shape
    assert {f"psds1/{name}" for name in classes} <= set(good)


def test_psds_class_without_reference_events_is_left_out():
    classes, truth, durations, perfect, _ = _psds_case()
    truth = truth[truth["event_label"] != "C"]
    with pytest.warns(UserWarning, match="no reference event"):
        metrics, _ = psds(perfect, truth, durations, classes)
    assert metrics["psds1/C"] is None and metrics["psds2"] > 0.99
    with pytest.raises(ValueError, match="class columns"):
        psds(perfect, truth, durations, ["A", "B"])


def test_psds_ground_truth_merges_overlapping_events(fixtures_dir):
    from sed_scores_eval.base_modules.io import assert_non_connected_events

    truth = read_table(fixtures_dir / "dcase_metadata" / "validation.tsv")
    files = sorted(truth["filename"].unique())
    ground_truth = psds_ground_truth(truth, files, DCASE_CLASSES)
    assert_non_connected_events(ground_truth)                                  # real overlaps were merged
    assert len(ground_truth) == len(files)
    hand = psds_ground_truth(_events([("a.wav", 0.0, 2.0, "A"), ("a.wav", 1.0, 3.0, "A"),
                                      ("a.wav", 3.0, 4.0, "A"), ("a.wav", 5.0, 6.0, "A"),
                                      ("a.wav", 1.0, 2.0, "B")]), ["a.wav", "b.wav"], ["A", "B"])
    assert sorted(hand["a.wav"]) == [(0.0, 4.0, "A"), (1.0, 2.0, "B"), (5.0, 6.0, "A")]
    assert hand["b.wav"] == []
