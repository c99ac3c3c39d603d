"""The feature store (ifdsed.features.store): layout, stored features, normalisation statistics from the
training sets only, the config check, interrupted builds never read, odd and bad audio, byte-identical builds
(bad input: docs/reliability.md)."""
import json
import math
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ifdsed.config import DCASE_CLASSES
from ifdsed.dcase.metadata import import_set
from ifdsed.features.logmel import FeatureError, LogMelConfig
from ifdsed.features.store import build_store, check_store, load_feature_set, load_normalization, read_store_info
from ifdsed.io.tables import tags_from_events, write_clips, write_events, write_tags
from ifdsed.paths import CLIP_SETS, TRAIN_SETS
from ifdsed.soundbank.bank import index_soundbank
from tests.helpers import (CLASSES, DEFAULT_LOGMEL as DEFAULT, SR, complete_sets, digests, noisy_tones,
                           our_logmel as ours, strong_table, tone, wav, write_wav)

SMALL = replace(DEFAULT, clip_duration=2.0)
SETS = {"synthetic_train": "synthetic/train", "synthetic_test": "synthetic/test", "realworld_weak": "realworld/weak",
        "realworld_validation": "realworld/validation", "realworld_test": "realworld/test"}


def make_set(root: Path, folder: str, clips: int, *, strong: bool, level: float, seed: int) -> None:
    """A clip set with relative audio paths: one Dog event per clip (Cat too in odd clips)."""
    set_dir = root / folder
    names = [f"{folder.replace('/', '_')}_{i}.wav" for i in range(clips)]
    for i, name in enumerate(names):
        write_wav(set_dir / "audio" / name, noisy_tones(1.5 + 0.5 * (i % 2), 16000, seed=seed + i, level=level), 16000)
    rows = [(name, 0.2, 1.0, "Dog") for name in names] + [(name, 0.5, 0.9, "Cat") for name in names[1::2]]
    events = pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"])
    write_clips(pd.DataFrame({"filename": names, "path": [f"{folder}/audio/{n}" for n in names], "duration": 2.0}),
                set_dir / "clips.tsv")
    write_tags(tags_from_events(events, names), set_dir / "tags.tsv")
    if strong:
        write_events(events, set_dir / "events.tsv")


def make_sets(root: Path, eval_level: float = 0.3) -> dict:
    """The five sets; validation and test at `eval_level`."""
    for name, folder in SETS.items():
        evaluation = name in ("synthetic_test", "realworld_validation", "realworld_test")
        make_set(root, folder, 3, strong=name != "realworld_weak", seed=len(name),
                 level=eval_level if evaluation else 0.3)
    return {name: root / folder for name, folder in SETS.items()}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    sets = make_sets(root)
    info = build_store(sets, root / "features", SMALL, DCASE_CLASSES, root=root, workers=2, device="cpu")
    return root, info


def test_store_layout(store):
    root, info = store
    out = root / "features"
    assert sorted(info["sets"]) == sorted(SETS)
    assert json.loads((out / "features.json").read_text()) == info
    assert info["config"]["frames"] == 50 and info["dtype"] == "float32"
    assert not (root / "features.partial").exists()
    for name in SETS:
        data = load_feature_set(out, name)
        assert isinstance(data.features, np.memmap)
        assert data.features.shape == (3, 50, 64) and data.features.dtype == np.float32
        assert data.tags.shape == (3, 10) and data.tags.dtype == np.uint8
        assert data.index.columns.tolist() == ["row", "filename", "event_labels"]
        assert data.index["row"].tolist() == [0, 1, 2]
        assert data.index["event_labels"].tolist() == ["Dog", "Cat,Dog", "Dog"]
        assert data.tags[:, DCASE_CLASSES.index("Cat")].tolist() == [0, 1, 0]
        if name == "realworld_weak":
            assert data.frame_labels is None and not (out / f"{name}_frame_labels.npy").exists()
        else:
            assert data.frame_labels.shape == (3, 50, 10) and data.frame_labels.dtype == np.uint8
            assert np.flatnonzero(data.frame_labels[0, :, DCASE_CLASSES.index("Dog")]).tolist() == list(range(5, 25))
    in_ram = load_feature_set(out, "synthetic_test", mmap=False)
    assert not isinstance(in_ram.features, np.memmap)


def test_stored_features_are_the_extractor_output(store):
    root, _ = store
    data = load_feature_set(root / "features", "realworld_validation")
    path = root / "realworld/validation/audio" / data.index["filename"][1]
    np.testing.assert_allclose(data.features[1].astype(np.float32), ours(path, SMALL), atol=0.02)
    np.testing.assert_allclose(data.features[0, -5:], math.log(SMALL.log_offset), rtol=1e-6)   # 1.5 s, padded


def test_normalization_comes_from_training_sets_only(store, tmp_path):
    root, info = store
    assert info["train_sets"] == list(TRAIN_SETS)
    train = np.concatenate([load_feature_set(root / "features", name).features.reshape(-1, 64)
                            for name in TRAIN_SETS]).astype(np.float64)           # [frames, n_mels]
    mean, std = load_normalization(root / "features")
    assert mean.shape == std.shape == (64,) and mean.dtype == np.float32
    np.testing.assert_allclose(mean, train.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(std, np.maximum(train.std(axis=0), 1e-3), rtol=1e-4, atol=1e-5)

    # Very different validation and test audio changes their features but not the statistics.
    loud = make_sets(tmp_path, eval_level=0.9)
    for name, folder in loud.items():
        if name not in TRAIN_SETS:
            for wav in (folder / "audio").glob("*.wav"):
                sf.write(wav, np.zeros(8000, dtype=np.float32) + 0.5, 16000, subtype="PCM_16")
    build_store(loud, tmp_path / "features", SMALL, DCASE_CLASSES, root=tmp_path, workers=1, device="cpu")
    other_mean, other_std = load_normalization(tmp_path / "features")
    np.testing.assert_array_equal(other_mean, mean)
    np.testing.assert_array_equal(other_std, std)
    for name in ("normalization.npz", "synthetic_train.npy", "realworld_weak_tags.npy", "synthetic_train.tsv"):
        assert (tmp_path / "features" / name).read_bytes() == (root / "features" / name).read_bytes(), name
    assert not np.array_equal(load_feature_set(tmp_path / "features", "realworld_test").features,
                              load_feature_set(root / "features", "realworld_test").features)


def test_store_config_check(store):
    root, _ = store
    assert check_store(root / "features", SMALL, DCASE_CLASSES)["config"]["n_mels"] == 64
    with pytest.raises(ValueError, match="rerun the features stage"):
        check_store(root / "features", replace(SMALL, n_mels=40), DCASE_CLASSES)


def test_an_interrupted_build_leaves_no_complete_store(tmp_path):
    sets = make_sets(tmp_path)
    (tmp_path / "realworld/test/audio/realworld_test_2.wav").unlink()      # the last set fails mid-way
    with pytest.raises(RuntimeError, match="realworld_test_2.wav"):
        build_store(sets, tmp_path / "features", SMALL, DCASE_CLASSES, root=tmp_path, workers=2, device="cpu")
    assert not (tmp_path / "features").exists()
    with pytest.raises(FileNotFoundError):
        read_store_info(tmp_path / "features")
    with pytest.raises(FileNotFoundError):
        load_feature_set(tmp_path / "features.partial", "synthetic_train")


# ------------------------------------------------------------------------------------ odd and bad audio
def test_features_of_odd_audio_and_a_nan_clip_that_slipped_in(audio, tmp_path):
    """Other rates, channel counts, very short and long clips, silence and clipping all give finite features;
    a NaN clip in a set (changed after the import checked it) stops the features stage naming it."""
    folder, _, usable = audio
    config = LogMelConfig(sample_rate=SR, n_fft=512, window=0.032, hop=0.1, n_mels=32, fmin=0.0, fmax=8000.0,
                          log_offset=1e-8, clip_duration=4.0)
    set_dir = tmp_path / "set"
    set_dir.mkdir()
    names = sorted(usable)
    pd.DataFrame({"filename": names, "path": [str(folder / n) for n in names], "duration": 4.0}).to_csv(
        set_dir / "clips.tsv", sep="\t", index=False)
    pd.DataFrame({"filename": names, "event_labels": "Dog"}).to_csv(set_dir / "tags.tsv", sep="\t", index=False)
    build_store({"s": set_dir}, tmp_path / "features", config, CLASSES, train_sets=("s",), workers=2, device="cpu")
    stored = load_feature_set(tmp_path / "features", "s").features
    assert stored.shape == (len(names), 40, 32) and np.isfinite(stored.astype(np.float32)).all()

    for bad, phrase in [("nan.wav", "holds NaN or Inf samples (the first at 1.000 s)"),
                        ("huge.wav", "gives non-finite log-mel features (samples up to 1e+29")]:
        if bad == "huge.wav":
            wav(tmp_path / bad, 1e30 * tone(1.0), subtype="DOUBLE")
        path = folder / bad if bad == "nan.wav" else tmp_path / bad
        clips = pd.read_csv(set_dir / "clips.tsv", sep="\t")
        clips.loc[2, "path"] = str(path)
        clips.to_csv(set_dir / "clips.tsv", sep="\t", index=False)
        with pytest.raises(FeatureError) as error:
            build_store({"s": set_dir}, tmp_path / "new", config, CLASSES, train_sets=("s",), workers=2,
                        device="cpu")
        assert str(error.value).startswith(f"{path}: ") and phrase in str(error.value), str(error.value)
        assert "the features stage stops here" in str(error.value)
        assert not (tmp_path / "new").exists()                     # nothing that looks like a store


# ---------------------------------------------------------------------------------------------- interrupted
def test_an_interrupted_feature_store_is_never_read(tmp_path, monkeypatch):
    import ifdsed.features.store as features
    complete_sets(tmp_path)
    config = LogMelConfig(sample_rate=SR, n_fft=512, window=0.032, hop=0.1, n_mels=32, fmin=0.0, fmax=8000.0,
                          log_offset=1e-8, clip_duration=1.0)
    sets = {name: tmp_path / folder for name, folder in CLIP_SETS.items()}
    real_write_set, calls = features._write_set, []

    def killed_in_third_set(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_write_set(*args, **kwargs)

    monkeypatch.setattr(features, "_write_set", killed_in_third_set)
    with pytest.raises(KeyboardInterrupt):
        build_store(sets, tmp_path / "features", config, CLASSES, root=tmp_path, workers=1, device="cpu")
    assert (tmp_path / "features.partial" / "synthetic_train.npy").is_file()
    assert not (tmp_path / "features").exists()
    with pytest.raises(FileNotFoundError, match=r"features/features.json: no complete feature store here"):
        load_feature_set(tmp_path / "features", "synthetic_train")
    monkeypatch.setattr(features, "_write_set", real_write_set)
    build_store(sets, tmp_path / "features", config, CLASSES, root=tmp_path, workers=1, device="cpu")
    assert read_store_info(tmp_path / "features")["sets"].keys() == sets.keys()
    assert not (tmp_path / "features.partial").exists()


# ---------------------------------------------------------------------------------------------- determinism
def test_imports_indexes_and_features_are_byte_identical(audio, user_bank, tmp_path):
    folder, unusable, usable = audio
    root, _, _ = user_bank
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manifests = [index_soundbank(root, ["Cat", "Dog"]) for _ in range(2)]
    pd.testing.assert_frame_equal(*manifests)
    assert manifests[0].attrs == manifests[1].attrs
    tsv = strong_table(tmp_path / "eval.tsv", sorted([*unusable, *usable]))
    for run in ("a", "b"):
        import_set("test", tsv, folder, CLASSES, tmp_path / run / "test", strong=True, max_missing_fraction=1.0)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    config = LogMelConfig(sample_rate=SR, n_fft=512, window=0.032, hop=0.1, n_mels=32, fmin=0.0, fmax=8000.0,
                          log_offset=1e-8, clip_duration=4.0)
    for run, workers in (("a", 1), ("b", 2)):
        build_store({"s": tmp_path / run / "test"}, tmp_path / run / "features", config, CLASSES,
                    train_sets=("s",), workers=workers, device="cpu")
    assert digests(tmp_path / "a" / "features", skip=("features.json",)) == digests(tmp_path / "b" / "features",
                                                                                    skip=("features.json",))
    infos = [read_store_info(tmp_path / run / "features") for run in ("a", "b")]   # all but the set's folder
    assert [{**info, "sets": {"s": {**info["sets"]["s"], "source": None}}} for info in infos][0] == \
        {**infos[1], "sets": {"s": {**infos[1]["sets"]["s"], "source": None}}}
