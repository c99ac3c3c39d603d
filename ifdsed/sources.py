"""Source audio for the synthesis stages, read from the sound bank manifest (data/soundbank/manifest.tsv).

The manifest lists every source file: ``partition role label path duration sample_rate``. Paths are relative
to the manifest's folder (the embedded bank) or absolute (a user's real soundbank).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

MANIFEST = Path("data/soundbank/manifest.tsv")


def load_sources(partition: str, manifest: Path = MANIFEST) -> tuple[pd.DataFrame, str, str]:
    """The foreground and background files of one partition -> (sources, fg_dir, bg_dir).

    `sources` has columns role, label, file, duration, where file is a path usable from the working
    directory; fg_dir and bg_dir are the Scaper folders (one subfolder per label) holding them."""
    table = pd.read_csv(manifest, sep="\t", dtype={"label": str, "path": str}, keep_default_na=False)
    table = table[table["partition"] == partition]
    if table.empty:
        raise ValueError(f"{manifest}: no source audio in partition {partition!r}")
    root = manifest.parent
    files = [path if Path(path).is_absolute() else str(root / path) for path in table["path"]]
    sources = pd.DataFrame({"role": table["role"].to_numpy(), "label": table["label"].to_numpy(),
                            "file": files, "duration": table["duration"].astype(float).to_numpy()})
    folders = {}
    for role in ("foreground", "background"):
        role_files = sources.loc[sources["role"] == role, "file"]
        if role_files.empty:
            raise ValueError(f"{manifest}: partition {partition!r} has no {role} audio")
        folders[role] = str(Path(role_files.iloc[0]).parent.parent)
    return sources, folders["foreground"], folders["background"]
