"""DVC stage `synthesize`: Scaper soundscapes of the synthetic (strong-labelled) domain.

Reads  params.yaml (classes, data, synth) and data/soundbank/manifest.tsv (partition `synthetic`).
Writes data/synthetic/{train,test}/: audio/*.wav, jams/*.jams, clips.tsv, tags.tsv, events.tsv
       (DESED format: filename onset offset event_label).

The manifest and every source file it lists are checked before the old output is deleted; a clip that Scaper
cannot mix stops the stage naming the clip and its sources. A set folder is complete once its clips.tsv exists
(written last).
"""
import shutil

from ifdsed import paths
from ifdsed.config import load_params
from ifdsed.errors import run_stage
from ifdsed.scenes.synthesis import synthesize_sets
from ifdsed.soundbank.manifest import load_sources

OUT = paths.SYNTHETIC


def main() -> None:
    params = load_params()
    sources, fg_dir, bg_dir = load_sources("synthetic")
    shutil.rmtree(OUT, ignore_errors=True)
    summary = synthesize_sets(params, sources, fg_dir, bg_dir, OUT)
    for name, counts in summary.items():
        print(f"synthetic {name}: {counts['clips']} clips, {counts['events']} events -> {OUT / name}/")


if __name__ == "__main__":
    run_stage("synthesize", main)
