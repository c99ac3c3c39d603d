"""What an evaluation set is called wherever a person reads it: the evaluate stage's log, its plots, tables.

A set is named for what it holds, which params decide: with ``data.source: embedded`` the real-world sets are
simulated (generated audio through an acoustic chain), with ``data.source: real`` they are the imported DCASE
2018 task 4 sets (``real.validation_tsv``: its 288-clip test set; ``real.test_tsv``: its 880-clip evaluation
set); the synthetic test set is imported when ``real.syn_test_tsv`` is set (the DCASE 2019 task 4 synthetic
evaluation set, for the paper's second column) and generated otherwise, from held-out sounds when
``soundbank.held_out_test`` holds some out. The paper's columns ("DCASE 2018", "DCASE 2019 (syn)") are what these
sets stand in for, said in the docs; a generated set is never given a DCASE name.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ifdsed.config import Params

# The sets whose content params decide: key -> (title with data.source embedded, title with data.source real)
REAL_WORLD = {
    "real_test": ("simulated real-world test", "real-world test (DCASE 2018 evaluation set)"),
    "real_validation": ("simulated real-world validation", "real-world validation (DCASE 2018 test set)"),
}
SYNTHETIC_TEST = "syn_test"


def set_title(key: str, params: Params) -> str:
    """The title of the evaluation set with metric prefix `key` (real_test, syn_test, real_validation, or an
    extra test set's name) under `params` (data.source, real.syn_test_tsv, soundbank.held_out_test)."""
    if key in REAL_WORLD:
        embedded, imported = REAL_WORLD[key]
        return imported if params.data.source == "real" else embedded
    if key == SYNTHETIC_TEST:
        if params.real.syn_test_tsv:
            return "synthetic test (DCASE 2019 syn)"
        sounds = "held-out sounds" if params.soundbank.held_out_test > 0 else "from the training sounds"
        return f"synthetic test (generated, {sounds})"
    return f"extra test set {key}"   # real.extra_test_sets: imported, named by the user
