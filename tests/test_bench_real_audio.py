"""bench/real_audio.py's scoring on hand-made sanity sets: a detector whose first class is always on finds one
event per 10 s window, so its false alarms and its events of classes absent from the mixes are 6 a minute."""
from __future__ import annotations

from bench.real_audio import score_model
from ifdsed.config import parse_params
from ifdsed.features.logmel import LogMelConfig
from ifdsed.sanity.sets import make_sanity_sets
from tests.helpers import make_checkpoint, sanity_bank

SR = 16000

FEATURES = LogMelConfig(sample_rate=SR, n_fft=1024, window=0.04, hop=0.04, n_mels=64, fmin=0.0, fmax=8000.0,
                        log_offset=1e-8, clip_duration=10.0)


def test_scores_of_a_detector_that_always_hears_its_first_class(tmp_path):
    sizes = make_sanity_sets(sanity_bank(tmp_path / "bank", SR), tmp_path / "sets", SR, 10.0, seed=1, mixes=4)
    checkpoint = make_checkpoint(tmp_path / "best.pt", FEATURES)          # class 0, Alarm_bell_ringing: always on
    scores = score_model(checkpoint, tmp_path / "sets", sizes["classes"], parse_params({}).eval)
    assert sizes["classes"] == ["Dog", "Speech"] and sizes["background_windows"] == 2
    assert scores["false_alarms_per_minute"] >= 6.0 and scores["background_windows_with_alarm"] == 1.0
    assert scores["false_alarm_classes"]["Alarm_bell_ringing"] == 2        # one whole-window event per window
    assert scores["absent_class_events_per_minute"] >= 6.0                 # Alarm is in no mix
    assert 0.0 <= scores["event_f1_macro"] <= 1.0 and set(scores["event_f1"]) == {"Dog", "Speech"}
