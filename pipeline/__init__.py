"""One short script per DVC stage (soundbank, synthesize, realworld, features, train, evaluate, summarize) and
the command-line tools predict, score and compare; each reads params.yaml, calls the library and writes its
outputs. Run them as `python -m pipeline.<name>` from the project root (dvc.yaml does)."""
