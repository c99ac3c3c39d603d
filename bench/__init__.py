"""Benchmarks of the project: each one a module run from the project root, `.venv/bin/python -m bench.NAME`
(bench/run_all.py runs them all and records their figures in bench/results.json)."""
