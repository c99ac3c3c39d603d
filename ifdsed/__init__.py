"""ifdsed: the library behind the pipeline, in sub-packages by job (see the README's "The code").

io (audio, tables, atomic writes), models (the PyTorch model and its checkpoints), soundbank, scenes and dcase
(data making), features, training, inference (the one Detector), evaluation; config (params.yaml's schema), paths
(the data layout), errors, devices. Imports go one way: tests/test_layers.py states and checks the rules."""

import warnings

# dcase_util (imported by sed_eval) imports pkg_resources, whose deprecation warning every scoring run printed:
# ignored for that module and that message only; every other warning is shown as before.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning,
                        module=r"dcase_util(\.|$)")
