"""The training-data record and its warning (ifdsed.models.training_data): plain values and JSON that read back
to the same record, malformed records refused, one warning line for a model trained on generated data or of
unknown training data and none for real data, and the measurement it names is the one the docs report."""
from pathlib import Path

import pytest

from ifdsed.models.training_data import (KEY, REAL_AUDIO_F1, TrainingData, TrainingDataError, from_extra,
                                         from_json, to_json, warning)

ROOT = Path(__file__).resolve().parents[2]
EMBEDDED = TrainingData("embedded", 1600, 400)


def test_the_record_reads_back_from_plain_values_and_json():
    assert TrainingData.from_dict(EMBEDDED.to_dict()) == EMBEDDED
    assert EMBEDDED.to_dict() == {"source": "embedded", "synthetic_train_clips": 1600, "weak_clips": 400}
    assert from_extra({KEY: EMBEDDED.to_dict(), "detector": {}}) == EMBEDDED
    assert from_extra({"detector": {}}) is None                           # an old checkpoint: unknown
    text = to_json(EMBEDDED)
    assert from_json(text) == EMBEDDED and from_json(None) is None
    assert text == to_json(TrainingData("embedded", 1600, 400))           # the same bytes for the same record
    assert text == '{"source": "embedded", "synthetic_train_clips": 1600, "weak_clips": 400}'


@pytest.mark.parametrize("stored, phrase", [
    ({"source": "fsd50k", "synthetic_train_clips": 1, "weak_clips": 1}, "is not one of"),
    ({"source": "real", "synthetic_train_clips": -1, "weak_clips": 1}, "must be a count"),
    ({"source": "real", "synthetic_train_clips": 1.5, "weak_clips": 1}, "must be a count"),
    ({"source": "real", "synthetic_train_clips": True, "weak_clips": 1}, "must be a count"),
    ({"source": "real", "synthetic_train_clips": 1}, "holds the keys"),
    (["real", 1, 1], "holds the keys"),
])
def test_a_malformed_record_is_refused(stored, phrase):
    with pytest.raises(TrainingDataError, match=phrase):
        TrainingData.from_dict(stored)


def test_json_that_is_not_a_record_is_refused():
    with pytest.raises(TrainingDataError, match="not JSON"):
        from_json("{source: embedded")


def test_one_warning_line_for_generated_or_unknown_training_data_and_none_for_real():
    model = Path("runs/best.pt")
    embedded, unknown = warning(EMBEDDED, model), warning(None, model)
    assert warning(TrainingData("real", 1578, 1578), model) is None
    for line in (embedded, unknown):
        assert "\n" not in line and line.startswith(f"warning: {model} ")
        assert "do" in line and "not work on real recordings" in line
        assert f"event F1 {REAL_AUDIO_F1} on real audio" in line and "docs/results.md" in line
        assert "data.source: real" in line and "docs/real-data.md" in line
    assert "data.source: embedded, 1600 synthetic and 400 simulated weak clips" in embedded
    assert "does not record its training data" in unknown


def test_the_measurement_the_warning_names_is_the_one_the_docs_report():
    results = (ROOT / "docs" / "results.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert f"event-based macro F1 **{REAL_AUDIO_F1}**" in results and "bench.real_audio" in results
    assert f"event F1 {REAL_AUDIO_F1}" in readme
    assert (ROOT / "docs" / "real-data.md").is_file()
