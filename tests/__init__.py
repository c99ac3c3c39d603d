"""The tests mirror the code: tests/<package>/test_<module>.py tests <package>/<module>.py (ifdsed's sub-packages,
models among them, and the stage scripts of pipeline/); tests/test_<module>.py tests ifdsed/<module>.py, and
tests/test_layers.py the import rules between ifdsed's sub-packages. tests/end_to_end/ runs the DVC pipeline
itself in throw-away copies of the project; tests/test_dvc_yaml.py and tests/test_bench_table.py check dvc.yaml
and the benchmark tables against the code. Shared helpers are in tests/helpers.py, shared fixtures in
conftest.py. Each bad-input case of docs/reliability.md names its test."""
