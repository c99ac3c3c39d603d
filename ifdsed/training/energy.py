"""The energy a training uses, as DCASE 2023-24 ask systems to report it: codecarbon's offline
tracker around the training loop, on the process that trains (rank 0 in a data-parallel run, which then counts
its own process only).

What codecarbon can measure depends on the machine, and `method` says which it was: RAPL power counters on a
Linux CPU that exposes them (/sys/class/powercap/intel-rapl), NVML on an NVIDIA GPU; elsewhere (this project's
development VM, for one) an *estimate*: the CPU at a fixed power per thread times the process's CPU load, RAM from
a power model. Energy is a measurement, like a duration: it differs from run to run, so it is written to its own
file (results/train/seed_<seed>/energy.json), never into the metrics that the same params reproduce to the byte.
A resumed training adds the energy of its new session to the file's total; a killed session's energy is lost.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ifdsed.io import atomic

RAPL = Path("/sys/class/powercap/intel-rapl")
FIELDS = ("energy_kwh", "cpu_energy_kwh", "ram_energy_kwh", "gpu_energy_kwh", "duration_s")


def measurement_method(cuda: bool) -> str:
    cpu = ("RAPL counters" if RAPL.is_dir() and os.access(RAPL, os.R_OK)
           else "estimate: CPU load x a per-thread power (no power counters readable)")
    return f"codecarbon; CPU: {cpu}; RAM: codecarbon's power model" + ("; GPU: NVML" if cuda else "")


class EnergyMeter:
    """`with EnergyMeter(enabled, cuda) as meter: ...` then `meter.session` ({FIELDS} of the block, or None when
    disabled or when codecarbon could not start: the training never fails for want of a measurement)."""

    def __init__(self, enabled: bool, cuda: bool = False):
        self.enabled, self.cuda = enabled, cuda
        self.tracker = None
        self.session: dict | None = None
        self.problem: str | None = None

    def __enter__(self) -> "EnergyMeter":
        if self.enabled:
            try:
                from codecarbon import OfflineEmissionsTracker
                logging.getLogger("codecarbon").setLevel(logging.ERROR)
                self.tracker = OfflineEmissionsTracker(country_iso_code="USA", save_to_file=False,
                                                       log_level="error", tracking_mode="process")
                self.tracker.start()
            except Exception as error:   # noqa: BLE001 - a measurement, never a reason to stop training
                self.tracker, self.problem = None, f"codecarbon did not start: {error}"
        return self

    def __exit__(self, *exc) -> None:
        if self.tracker is None:
            return
        self.tracker.stop()
        data = self.tracker.final_emissions_data
        self.session = {"energy_kwh": data.energy_consumed, "cpu_energy_kwh": data.cpu_energy,
                        "ram_energy_kwh": data.ram_energy, "gpu_energy_kwh": data.gpu_energy,
                        "duration_s": data.duration}


def record(path: Path, session: dict | None, resumed: bool, cuda: bool, why_not: str = "not measured") -> dict | None:
    """Add a session to path's totals (kept only when the training resumed) and write them; returns them, or
    None when nothing was measured: the file (a declared DVC output) then keeps the earlier sessions' totals or,
    without any, says why (`why_not`) with null figures."""
    previous = json.loads(path.read_text()) if resumed and path.is_file() else {}
    if session is None:
        if not previous or previous.get("energy_kwh") is None:
            atomic.write_json(path, {**dict.fromkeys(FIELDS), "sessions": 0, "method": why_not})
        return None
    totals = {key: float(previous.get(key) or 0.0) + float(session[key]) for key in FIELDS}
    totals.update(sessions=int(previous.get("sessions", 0)) + 1, method=measurement_method(cuda))
    atomic.write_json(path, totals)
    return totals
