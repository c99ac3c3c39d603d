"""Provenance in the metrics files (ifdsed.evaluation.provenance): set fingerprints that change with the data,
package versions, the git revision, seeds that agree, and the warnings of results that do not."""
import subprocess

import pytest

from ifdsed.evaluation.provenance import (PACKAGES, agreed, comparability_warnings, git_revision, missing_clips,
                                          provenance, set_fingerprint)


@pytest.fixture
def clip_set(tmp_path):
    folder = tmp_path / "test"
    folder.mkdir()
    (folder / "events.tsv").write_text("filename\tonset\toffset\tevent_label\na.wav\t0.5\t1.0\tDog\n")
    (folder / "clips.tsv").write_text("filename\tpath\tduration\na.wav\t/x/a.wav\t10.0\nb.wav\t/x/b.wav\t10.0\n")
    return folder


def test_the_fingerprint_changes_with_the_truth_or_the_clip_list_and_not_with_paths(clip_set):
    first = set_fingerprint(clip_set)
    assert len(first) == 16 and set_fingerprint(clip_set) == first
    (clip_set / "clips.tsv").write_text("filename\tpath\tduration\na.wav\t/y/a.wav\t10.0\nb.wav\t/y/b.wav\t10.0\n")
    assert set_fingerprint(clip_set) == first                     # another machine's paths: the same set
    (clip_set / "clips.tsv").write_text("filename\tpath\tduration\na.wav\t/y/a.wav\t10.0\n")
    assert set_fingerprint(clip_set) != first                     # a clip less
    (clip_set / "clips.tsv").write_text("filename\tpath\tduration\na.wav\t/x/a.wav\t10.0\nb.wav\t/x/b.wav\t10.0\n")
    (clip_set / "events.tsv").write_text("filename\tonset\toffset\tevent_label\na.wav\t0.5\t1.1\tDog\n")
    assert set_fingerprint(clip_set) != first                     # one offset moved


def test_provenance_records_revision_versions_and_each_sets_counts(clip_set, tmp_path):
    record = provenance({"real_test": (clip_set, ["a.wav", "b.wav"], 3)}, root=tmp_path)
    assert record["provenance/git_revision"] is None               # not a git repository
    assert all(f"provenance/{name}" in record for name in PACKAGES) and record["provenance/torch"]
    assert record["provenance/real_test/fingerprint"] == set_fingerprint(clip_set)
    assert (record["provenance/real_test/clips_scored"], record["provenance/real_test/clips_missing"]) == (2, 3)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x"],
                   cwd=tmp_path, check=True)
    assert len(git_revision(tmp_path)) == 40


def test_missing_clips_come_from_the_import_report():
    report = {"test": {"n_listed": 880, "n_present": 871}}
    assert missing_clips(report, "test") == 9
    assert missing_clips(report, None) == 0 and missing_clips(None, "test") == 0


def test_seeds_agree_or_say_differs_and_compare_warns_on_any_difference():
    seed = {"provenance/torch": "2.13.0", "provenance/real_test/fingerprint": "aaaa", "real_test/x": 0.3}
    other = {**seed, "provenance/real_test/fingerprint": "bbbb"}
    assert agreed([seed, dict(seed)]) == {"provenance/torch": "2.13.0", "provenance/real_test/fingerprint": "aaaa"}
    assert agreed([seed, other])["provenance/real_test/fingerprint"] == "differs"
    assert comparability_warnings({"baseline": seed, "IFD": dict(seed)}) == []
    warnings = comparability_warnings({"baseline": seed, "IFD": other, "SEDB": {"real_test/x": 0.2}})
    assert any(line.startswith("provenance/real_test/fingerprint differs: baseline aaaa, IFD bbbb") for line in warnings)
    assert any("carry no provenance" in line and "SEDB" in line for line in warnings)
