"""DVC stage `extra_sets`: import the extra test sets named in params.yaml real.extra_test_sets (e.g. DESED's
validation and public evaluation sets), to be scored beside the paper's two test sets.

Reads  params.yaml (classes, data.clip_duration, real.extra_test_sets, real.max_missing_fraction) and each set's
       DESED table (filename onset offset event_label) and audio folder.
Writes data/extra/<name>/: clips.tsv (paths to the user's audio, left where it is), tags.tsv, events.tsv and
       import_report.json (missing and unreadable files; more missing than real.max_missing_fraction stops the
       stage, `ifdsed.dcase.metadata.import_set`); data/extra/sets.json lists the sets imported (none by default).
Every table is checked row by row before any audio is probed.
"""
import json
import shutil

from ifdsed import paths
from ifdsed.config import load_params
from ifdsed.dcase.metadata import import_set, read_set_labels
from ifdsed.errors import run_stage
from ifdsed.io import atomic


def main() -> None:
    params = load_params()
    extra, duration = params.real.extra_test_sets, params.data.clip_duration
    labels = {name: read_set_labels(source.tsv, params.classes, True, duration) for name, source in extra.items()}
    shutil.rmtree(paths.EXTRA, ignore_errors=True)
    paths.EXTRA.mkdir(parents=True)
    for name, source in extra.items():
        report = import_set(name, source.tsv, source.audio, params.classes, paths.EXTRA / name, strong=True,
                            max_missing_fraction=params.real.max_missing_fraction, clip_duration=duration,
                            labels=labels[name])
        print(f"extra test set {name}: {report['n_present']} of {report['n_listed']} clips present, "
              f"{report['n_events']} events -> {paths.EXTRA / name}/")
    atomic.write_text(paths.EXTRA_INDEX, json.dumps({"sets": list(extra)}, indent=2) + "\n")
    if not extra:
        print("extra_sets: no extra test set in params.yaml (real.extra_test_sets)")


if __name__ == "__main__":
    run_stage("extra_sets", main)
