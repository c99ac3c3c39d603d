"""ifdsed: the library behind the pipeline, in sub-packages by job (see the README's "The code").

io (audio, tables, atomic writes), soundbank, scenes and dcase (data making), features, training, inference (the
one Detector), evaluation; config (params.yaml's schema), paths (the data layout), errors, devices."""
