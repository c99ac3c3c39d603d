"""The sound bank manifest (ifdsed.soundbank.manifest): the synthesis stages check its source files before Scaper
starts (bad input: docs/reliability.md)."""
import warnings

import pytest

from ifdsed.errors import InputError
from ifdsed.soundbank.bank import index_soundbank
from ifdsed.soundbank.manifest import load_sources, write_manifest
from tests.helpers import tone, wav


def test_synthesis_sources_are_checked_before_scaper(user_bank, tmp_path):
    root, _, _ = user_bank
    manifest_path = tmp_path / "soundbank" / "manifest.tsv"
    with pytest.raises(InputError, match=r"manifest.tsv: not found: run the soundbank stage first"):
        load_sources("synthetic", manifest_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manifest = index_soundbank(root, ["Cat", "Dog"])
    write_manifest(manifest, manifest_path)
    assert len(load_sources("synthetic", manifest_path)[0]) == len(manifest)
    (root / "foreground" / "Cat" / "good.wav").unlink()                     # deleted since indexing
    wav(root / "foreground" / "Dog" / "good.wav", tone(0.5))                # replaced by a shorter file
    with pytest.raises(InputError) as error:
        load_sources("synthetic", manifest_path)
    message = str(error.value)
    assert "2 source file(s) changed since the soundbank stage indexed them" in message
    assert f"{root}/foreground/Cat/good.wav: missing" in message
    assert f"{root}/foreground/Dog/good.wav: 0.500 s long, the manifest says 1.000 s" in message
    assert "dvc repro -f soundbank" in message
