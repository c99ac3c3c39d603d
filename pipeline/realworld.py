"""DVC stage `realworld`: the real-world domain, simulated (embedded default) or imported (real DCASE 2018).

Reads  params.yaml (classes, data, realworld, real) and, for data.source = embedded, data/soundbank/manifest.tsv
       (partition `realworld`); for data.source = real, the user's DCASE 2018 task 4 metadata and audio.
Writes data/realworld/{weak,validation,test}/: clips.tsv, tags.tsv, events.tsv (validation and test only),
       audio/*.wav (simulated sets only); data/realworld/hidden/weak_events.tsv (simulated weak timestamps,
       never read by training); data/realworld/import_report.json (real data: missing and unreadable audio).
"""
import shutil
from pathlib import Path

from ifdsed.config import load_params
from ifdsed.dcase import import_dcase2018
from ifdsed.realworld import simulate_sets
from ifdsed.sources import load_sources

OUT = Path("data/realworld")


def main() -> None:
    params = load_params()
    shutil.rmtree(OUT, ignore_errors=True)
    if params.data.source == "real":
        report = import_dcase2018(params.real, params.classes, OUT, params.data.clip_duration)
        for name, entry in report.items():
            if isinstance(entry, dict) and "n_present" in entry:
                print(f"real-world {name}: {entry['n_present']} of {entry['n_listed']} clips present -> {OUT / name}/")
        print(f"import report -> {OUT / 'import_report.json'}")
        return
    sources, fg_dir, bg_dir = load_sources("realworld")
    summary = simulate_sets(params, sources, fg_dir, bg_dir, OUT, OUT / "hidden")
    for name, counts in summary.items():
        print(f"real-world {name} (simulated): {counts['clips']} clips, {counts['events']} events -> {OUT / name}/")


if __name__ == "__main__":
    main()
