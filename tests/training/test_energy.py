"""The training's energy (ifdsed.training.energy): codecarbon around a block, totals that add up over resumed
sessions, nothing written when nothing was measured, and its own file beside the reproducible metrics."""
import json

import pytest

from ifdsed.training.energy import FIELDS, EnergyMeter, record
from ifdsed.training.loop import train_seed
from ifdsed.paths import RunPaths
from tests.helpers import toy_validation, training_params

SESSION = {"energy_kwh": 0.002, "cpu_energy_kwh": 0.001, "ram_energy_kwh": 0.001, "gpu_energy_kwh": 0.0,
           "duration_s": 10.0}


def test_sessions_add_up_when_the_training_resumed_and_start_over_when_not(tmp_path):
    path = tmp_path / "energy.json"
    first = record(path, SESSION, resumed=False, cuda=False)
    assert first["energy_kwh"] == pytest.approx(0.002) and first["sessions"] == 1 and "codecarbon" in first["method"]
    second = record(path, SESSION, resumed=True, cuda=False)
    assert second["energy_kwh"] == pytest.approx(0.004) and second["sessions"] == 2
    assert json.loads(path.read_text()) == second
    assert record(path, SESSION, resumed=False, cuda=False)["sessions"] == 1      # a fresh training
    # nothing measured: the declared output still exists, saying why, or keeps a resumed training's totals
    assert record(tmp_path / "none.json", None, resumed=False, cuda=False, why_not="off") is None
    assert json.loads((tmp_path / "none.json").read_text()) == {**dict.fromkeys(FIELDS), "sessions": 0,
                                                                 "method": "off"}
    assert record(path, None, resumed=True, cuda=False) is None and json.loads(path.read_text())["sessions"] == 1


def test_the_meter_measures_a_block_or_nothing_when_disabled():
    with EnergyMeter(False) as off:
        pass
    assert off.session is None and off.problem is None
    with EnergyMeter(True) as on:
        sum(range(10 ** 6))
    assert on.problem is None, on.problem
    assert set(on.session) == set(FIELDS) and on.session["duration_s"] > 0 and on.session["energy_kwh"] >= 0


def test_training_writes_its_energy_beside_the_metrics_and_not_into_them(store, tmp_path):
    train_seed(training_params(epochs=1, channels=(4, 4, 4), compile=False, precision="float32", track_energy=True),
               1, store, tmp_path / "run", validation_folder=toy_validation(store))
    paths = RunPaths(tmp_path / "run")
    energy = json.loads(paths.energy.read_text())
    assert energy["sessions"] == 1 and energy["duration_s"] > 0
    assert not any("energy" in key for key in json.loads((paths.live / "metrics.json").read_text()))
