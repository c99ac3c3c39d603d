"""DVC stage `synthesize`: Scaper soundscapes of the synthetic (strong-labelled) domain.

Reads  params.yaml (classes, data, synth; real.syn_test_*) and data/soundbank/manifest.tsv (partition `synthetic`).
Writes data/synthetic/{train,test}/: audio/*.wav, jams/*.jams, clips.tsv, tags.tsv, events.tsv
       (DESED format: filename onset offset event_label).

With real.syn_test_tsv and real.syn_test_audio set, the test set is imported instead of generated (the DCASE 2019
task 4 synthetic evaluation set, for the paper's "DCASE 2019 (syn)" column): its table is checked row by row
first, its audio is probed and left where it is (clips.tsv points to it), and data/synthetic/test/
import_report.json lists missing and unreadable files; more missing than real.max_missing_fraction stops the
stage (`ifdsed.dcase.metadata.import_set`). The train set is generated either way, byte for byte the same.

The manifest and every source file it lists are checked before the old output is deleted; a clip that Scaper
cannot mix stops the stage naming the clip and its sources. A set folder is complete once its clips.tsv exists
(written last).
"""
import os
import shutil
from pathlib import Path

from ifdsed import paths
from ifdsed.config import load_params
from ifdsed.errors import run_stage
from ifdsed.dcase.metadata import REPORT_NAME, import_set, read_set_labels
from ifdsed.scenes.synthesis import SYNTHETIC_SETS, synthesize_sets
from ifdsed.soundbank.manifest import load_sources

OUT = paths.SYNTHETIC


def main() -> None:
    params = load_params()
    real = params.real
    sources, fg_dir, bg_dir = load_sources("synthetic")
    imported = bool(real.syn_test_tsv)
    if imported:   # every row of the table checked before any audio is read or anything deleted
        labels = read_set_labels(Path(real.syn_test_tsv), params.classes, True, params.data.clip_duration)
    shutil.rmtree(OUT, ignore_errors=True)
    summary = synthesize_sets(params, sources, fg_dir, bg_dir, OUT, sets=("train",) if imported else SYNTHETIC_SETS)
    for name, counts in summary.items():
        print(f"synthetic {name}: {counts['clips']} clips, {counts['events']} events -> {OUT / name}/")
    if imported:
        report = import_set("syn_test", real.syn_test_tsv, real.syn_test_audio, params.classes, OUT / "test",
                            strong=True, max_missing_fraction=real.max_missing_fraction,
                            clip_duration=params.data.clip_duration, labels=labels,
                            workers=min(params.synth.workers, os.cpu_count() or 1))
        print(f"synthetic test (imported from {real.syn_test_tsv}): {report['n_present']} of {report['n_listed']} "
              f"clips present, {report['n_events']} events -> {OUT / 'test'}/ (report: "
              f"{OUT / 'test' / REPORT_NAME})")


if __name__ == "__main__":
    run_stage("synthesize", main)
