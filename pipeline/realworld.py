"""DVC stage `realworld`: the real-world domain, simulated (embedded default) or imported (real DCASE 2018).

Reads  params.yaml (classes, data, realworld, real) and, for data.source = embedded, data/soundbank/manifest.tsv
       (partition `realworld`); for data.source = real, the user's DCASE 2018 task 4 metadata and audio.
Writes data/realworld/{weak,validation,test}/: clips.tsv, tags.tsv, events.tsv (validation and test only),
       audio/*.wav and sources.tsv (what each clip was mixed from; simulated sets only);
       data/realworld/unlabelled/ (the mean teacher's unlabelled in-domain set: realworld.unlabelled_clips
       simulated clips, or with data.source real DESED's list named by real.unlabelled_tsv): clips.tsv only
       (and audio/*.wav, sources.tsv when simulated), no label table;
       data/realworld/weak_frame_labels/: pseudo/README.txt, and for simulated sets oracle/weak_events.tsv (the
       weak set's hidden timestamps: read by training only with model.ifd_labels: oracle, a diagnostic arm);
       data/realworld/import_report.json (real data: missing and unreadable audio, with the reason for each
       unreadable file, and notes on clipped, very short or long files that were kept).

The inputs are checked before the old output is deleted: the sound bank manifest and its files (simulated), or
every metadata table (file:line errors) and every audio file (imported). A set folder is complete once its
clips.tsv exists (written last). Bad input stops the stage with one message, without a traceback.
"""
import os
import shutil

from ifdsed import paths
from ifdsed.config import load_params
from ifdsed.dcase.metadata import REPORT_NAME, scan_dcase2018, write_dcase2018
from ifdsed.errors import run_stage
from ifdsed.scenes.realworld import simulate_sets
from ifdsed.soundbank.manifest import load_sources

OUT = paths.REALWORLD


PSEUDO_NOTE = ("With model.ifd_labels: pseudo (the default), IFD labels the weak clips' frames from the model's own "
               "frame probabilities as it trains: training reads nothing here. The train stage depends on this "
               "folder so that it depends on the hidden timestamps (../oracle/) only with model.ifd_labels: oracle.\n")


def write_pseudo_marker() -> None:
    """data/realworld/weak_frame_labels/pseudo/README.txt: what the train stage depends on by default."""
    marker = paths.WEAK_FRAME_LABELS / "pseudo" / "README.txt"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(PSEUDO_NOTE)


def main() -> None:
    params = load_params()
    if params.data.source == "real":
        scanned = scan_dcase2018(params.real, params.classes, params.data.clip_duration,
                                 workers=min(params.realworld.workers, os.cpu_count() or 1))
        shutil.rmtree(OUT, ignore_errors=True)
        write_pseudo_marker()
        try:
            report = write_dcase2018(scanned, params.real.max_missing_fraction, OUT)
        finally:
            print(f"import report -> {OUT / REPORT_NAME}")
        for name, entry in report.items():
            print(f"real-world {name}: {entry['n_present']} of {entry['n_listed']} clips present -> {OUT / name}/")
            for filename, reason in entry["unreadable_reasons"].items():
                print(f"  skipped {filename}: {reason}")
            for filename, note in entry["notes"].items():
                print(f"  kept {filename}: {note}")
        return
    sources, fg_dir, bg_dir = load_sources("realworld")
    shutil.rmtree(OUT, ignore_errors=True)
    write_pseudo_marker()
    summary = simulate_sets(params, sources, fg_dir, bg_dir, OUT, paths.HIDDEN)
    for name, counts in summary.items():
        print(f"real-world {name} (simulated): {counts['clips']} clips, {counts['events']} events -> {OUT / name}/")


if __name__ == "__main__":
    run_stage("realworld", main)
