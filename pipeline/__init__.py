"""One short script per DVC stage (soundbank, synthesize, realworld, extra_sets, features, train, evaluate,
diagnose, summarize); each reads params.yaml, calls the library and writes its outputs. Run them as
`python -m pipeline.<name>` from the project root (dvc.yaml does). The command-line tools are the `ifdsed`
command (ifdsed/cli/)."""
