"""ifdsed.io.atomic: a file appears complete under its final name, or not at all."""
import json

import pytest

from ifdsed.io.atomic import atomic_path, write_json, write_text


def test_the_target_appears_only_when_the_block_ends(tmp_path):
    target = tmp_path / "deep" / "table.tsv"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".table.") and tmp.suffix == ".tsv"
        tmp.write_text("a\tb\n")
        assert not target.exists()
    assert target.read_text() == "a\tb\n" and sorted(p.name for p in target.parent.iterdir()) == ["table.tsv"]


def test_an_error_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
    target = write_text(tmp_path / "metrics.json", "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_json_is_sorted_with_a_final_newline(tmp_path):
    path = write_json(tmp_path / "m.json", {"b": 1, "a": 0.5})
    assert path.read_text() == '{\n "a": 0.5,\n "b": 1\n}\n' and json.loads(path.read_text()) == {"a": 0.5, "b": 1}
