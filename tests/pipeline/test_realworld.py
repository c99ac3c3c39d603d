"""DVC stage `realworld` (pipeline/realworld.py): bad metadata stops it before it deletes anything (bad input:
docs/reliability.md)."""
import json

import pytest

from ifdsed.dcase.metadata import MetadataError
from tests.helpers import run_stage, write_params


def test_bad_metadata_stops_the_realworld_stage_before_it_deletes_anything(tmp_path, monkeypatch, tiny_params):
    from pipeline import realworld as stage
    desed = tmp_path / "desed"
    (desed / "metadata" / "train").mkdir(parents=True)
    (desed / "metadata" / "train" / "weak.tsv").write_text("filename\tevent_labels\n../../x.wav\tDog\n")
    raw = json.loads(json.dumps(tiny_params))
    raw["data"]["source"] = "real"
    raw["real"].update(soundbank=str(tmp_path), dcase2018=str(desed))
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, raw)
    previous = tmp_path / "data" / "realworld" / "weak" / "clips.tsv"
    previous.parent.mkdir(parents=True)
    previous.write_text("filename\tpath\tduration\n")
    with pytest.raises(MetadataError, match=rf"{desed}/metadata/train/weak.tsv:2: filename '../../x.wav'"):
        stage.main()
    assert previous.is_file()
    done = run_stage("pipeline.realworld", tmp_path)                  # as DVC runs it: one line, no traceback
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith(f"realworld: {desed}/metadata/train/weak.tsv:2: filename '../../x.wav'")
