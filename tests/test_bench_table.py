"""The performance table in docs/performance.md is bench/results.json's figures, as written by bench/run_all.py,
so a rerun of the benchmarks cannot leave a stale figure in it (the README links to it rather than copying it)."""
import json
from pathlib import Path

import pytest

from bench import run_all

ROOT = Path(__file__).resolve().parents[1]


def table_in(doc: Path) -> str:
    text = doc.read_text()
    assert run_all.TABLE_START in text and run_all.TABLE_END in text, f"{doc.name} lost its table markers"
    return text.split(run_all.TABLE_START, 1)[1].split(run_all.TABLE_END, 1)[0].strip()


@pytest.mark.parametrize("doc", run_all.TABLE_DOCS, ids=lambda doc: doc.name)
def test_document_table_matches_results_json(doc):
    results = json.loads(run_all.RESULTS.read_text())
    assert table_in(doc) == run_all.render(results).strip(), (
        f"{doc.relative_to(ROOT)}'s table differs from bench/results.json: run "
        "`.venv/bin/python -m bench.run_all --table`")


def test_every_benchmark_of_the_suite_has_a_result():
    results = json.loads(run_all.RESULTS.read_text())["benchmarks"]
    assert set(results) == set(run_all.BENCHMARKS)
    for name, entry in results.items():
        assert "result" in entry, f"{name} failed in the recorded run: {entry.get('error')}"
        assert not entry.get("quick"), f"{name} was recorded with --quick: its figures are not the ones to quote"


def test_table_marks_a_missed_target():
    results = {"benchmarks": {"synthesis": {"command": "c", "loadavg_before": [0.0],
                                            "result": {"scaling": 1.2, "met": False}}}}
    row = next(line for line in run_all.render(results).splitlines() if line.startswith("| synthesis"))
    assert "`scaling` = 1.2" in row and "**no**" in row


def test_the_machine_line_names_the_cpu_s_kernel_path_where_it_was_recorded():
    host = run_all.machine()
    old = {"cpu_model": "AMD EPYC", "cores": 2}                       # recorded before the kernel path was kept
    results = {"benchmarks": {name: {"command": "c", "loadavg_before": [0.0], "result": {}, "machine": machine}
                              for name, machine in (("synthesis", host), ("features", old))}}
    line = next(line for line in run_all.render(results).splitlines() if line.startswith("Machine: "))
    bfloat16 = "native bfloat16" if host["native_bfloat16"] else "no native bfloat16"
    assert f"{host['cpu_model']} ({host['cpu_capability']}, {bfloat16}), {host['cores']} cores" in line
    assert "AMD EPYC, 2 cores" in line
