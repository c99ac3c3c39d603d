"""A generated set's label statistics beside the DCASE 2018 set it stands in for (docs/data.md shows the table).

    python -m ifdsed.dcase.side_by_side data/realworld/weak/tags.tsv [--set weak]

Reads the set's tags.tsv (filename, event_labels) and the committed DCASE 2018 statistics
(ifdsed/dcase/dcase2018_stats.json, `load_stats`), and prints one Markdown table: the share of clips tagged with
each class, then the share of clips with 0, 1, 2, ... labels, DCASE 2018 beside the generated set.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ifdsed.dcase.stats import load_stats, tag_stats
from ifdsed.io.tables import read_tags


def side_by_side(tags: pd.DataFrame, reference: dict, classes: list[str]) -> pd.DataFrame:
    """Rows "clips with <class>" and "clips with <n> labels"; columns dcase2018 and generated (shares of clips)."""
    generated = tag_stats(tags, classes)
    rows = [(f"clips with {name}", reference["class_frequency"].get(name, 0.0), generated["class_frequency"][name])
            for name in classes]
    counts = sorted({*reference["tags_per_clip"], *generated["tags_per_clip"]}, key=int)
    rows += [(f"clips with {n} label{'s' if n != '1' else ''}", reference["tags_per_clip"].get(n, 0.0),
              generated["tags_per_clip"].get(n, 0.0)) for n in counts]
    table = pd.DataFrame(rows, columns=["statistic", "dcase2018", "generated"])
    table.attrs["n_clips"] = (reference["n_clips"], generated["n_clips"])
    return table


def markdown(table: pd.DataFrame, set_name: str) -> str:
    reference_clips, generated_clips = table.attrs["n_clips"]
    lines = [f"| share of clips | DCASE 2018 {set_name} ({reference_clips} clips) | generated ({generated_clips} clips) |",
             "|---|---|---|"]
    lines += [f"| {row.statistic} | {row.dcase2018:.3f} | {row.generated:.3f} |" for row in table.itertuples()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ifdsed.dcase.side_by_side", description=__doc__.split("\n\n")[0])
    parser.add_argument("tags", type=Path, help="a set's tags.tsv, e.g. data/realworld/weak/tags.tsv")
    parser.add_argument("--set", default="weak", choices=["weak", "validation", "test"],
                        help="the DCASE 2018 set it stands in for (default: weak)")
    args = parser.parse_args(argv)
    stats = load_stats()
    print(markdown(side_by_side(read_tags(args.tags), stats["sets"][args.set], stats["classes"]), args.set), end="")


if __name__ == "__main__":
    main()
