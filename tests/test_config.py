"""params.yaml validation (ifdsed.config): every mistake fails at once with the key in the message (bad input:
docs/reliability.md)."""
import json

import pytest
import yaml

from ifdsed.config import DCASE_CLASSES, ParamsError, load_params, parse_params
from tests.helpers import ROOT


def project_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_project_params_are_valid_and_complete():
    params = load_params(ROOT / "params.yaml")
    assert params.classes == DCASE_CLASSES
    assert params.synth.snr_db == (6.0, 30.0)
    assert params.features.n_mels == 64
    train = params.train      # how a step runs: the measured defaults (docs/performance.md)
    assert (train.precision, train.compile, train.channels_last, train.prefetch) == ("auto", "auto", False, 2)
    # at most train.epochs, early stopping and model selection by the paper's measure; patience null: no stopping
    assert (train.epochs, train.patience, train.selection, train.ifd_warmup) == (5, 5, "event_f1", 0)
    raw = project_params()
    raw["train"]["patience"] = None
    assert parse_params(raw).train.patience is None


@pytest.mark.parametrize("section, key, value, expected", [
    ("synth", "train_clips", -3, "synth.train_clips: Input should be greater than 0 (got -3)"),
    ("synth", "train_clips", "10", "synth.train_clips: Input should be a valid integer"),
    ("synth", "seed", 1.5, "synth.seed: Input should be a valid integer"),
    ("synth", "workers", True, "synth.workers: Input should be a valid integer"),
    ("synth", "snr_db", [30, 6], "synth.snr_db: the lower bound 30.0 is above the upper bound 6.0"),
    ("synth", "snr_db", [6], "synth.snr_db"),
    ("data", "source", "youtube", "data.source: Input should be 'embedded' or 'real'"),
    ("data", "sample_rate", 1000, "data.sample_rate: Input should be greater than or equal to 8000"),
    ("realworld", "rt60", [0.0, 0.5], "realworld: rt60 must be positive seconds"),
    ("features", "fmax", 12000.0, "features: fmax 12000.0 is above the Nyquist frequency 8000.0"),
    ("real", "max_missing_fraction", 1.5, "real.max_missing_fraction: Input should be less than or equal to 1"),
    ("features", "n_mels", 40, "features.n_mels: 40 mel bins do not survive the encoder's frequency pools "
                               "(1, 4), (1, 4), (1, 4): use n_mels >= 64"),
    ("model", "k_c", 65, "model.k_c: 65 is above the frame embedding's size, 64"),
    ("model", "channels", [32, 64], "model.channels: Tuple should have at least 3 items"),
    ("model", "channels", [32, 64, 64, 64], "model.channels: Tuple should have at most 3 items"),
    ("train", "device", "gpu", "train.device: String should match pattern"),
    ("train", "device", "cuda:x", "train.device: String should match pattern"),
    ("train", "device", "cuda:01", "train.device: String should match pattern"),
    ("train", "precision", "half", "train.precision: Input should be 'auto', 'float32', 'bfloat16' or 'float16' "
                                   "(got 'half')"),
    ("train", "compile", "maybe", "train.compile: Input should be True, False or 'auto' (got 'maybe')"),
    ("train", "channels_last", 2, "train.channels_last: Input should be a valid boolean (got 2)"),
    ("train", "prefetch", -1, "train.prefetch: Input should be greater than or equal to 0 (got -1)"),
    ("train", "patience", 0, "train.patience: Input should be greater than or equal to 1 (got 0)"),
    ("train", "patience", "5", "train.patience: Input should be a valid integer (got '5')"),
    ("train", "selection", "foo", "train.selection: Input should be 'event_f1' or 'frame_f1' (got 'foo')"),
    ("soundbank", "background_kinds", ["fan", "sauna"], "soundbank.background_kinds.1: Input should be 'room_tone', "),
    ("soundbank", "background_kinds", ["fan", "fan"], "soundbank: background_kinds: a kind is listed twice"),
    ("soundbank", "background_kinds", [], "soundbank.background_kinds: Tuple should have at least 1 item"),
    ("soundbank", "source_variants", ["Cat", "Dog"], "soundbank.source_variants.1: Input should be 'Cat', "),
    ("soundbank", "source_variants", ["Cat", "Cat"], "soundbank: source_variants: a class is listed twice"),
    ("soundbank", "non_target_clips", -1, "soundbank.non_target_clips: Input should be greater than or equal to 0"),
    ("synth", "max_non_target", 11, "synth.max_non_target: Input should be less than or equal to 10"),
    ("realworld", "mic_lowpass", [0.5, 1.2], "realworld: mic_highpass_hz must be positive Hz and "
                                             "mic_lowpass a fraction of Nyquist in (0, 1)"),
    ("realworld", "background_levels", "yes", "realworld.background_levels: Input should be a valid boolean"),
])
def test_bad_values_name_the_key(section, key, value, expected):
    raw = project_params()
    raw[section][key] = value
    with pytest.raises(ParamsError) as error:
        parse_params(raw)
    assert expected in str(error.value)
    assert str(error.value).startswith("params.yaml: ")


def test_misspelt_keys_and_sections_are_rejected():
    raw = project_params()
    raw["synth"]["tarin_clips"] = 10
    raw["synht"] = {}
    with pytest.raises(ParamsError) as error:
        parse_params(raw)
    message = str(error.value)
    assert "synth.tarin_clips: unknown key (misspelt?)" in message
    assert "synht: unknown key (misspelt?)" in message


def test_empty_or_duplicated_class_list_is_rejected():
    raw = project_params()
    raw["classes"] = []
    with pytest.raises(ParamsError, match="classes: the class list is empty"):
        parse_params(raw)
    raw["classes"] = ["Dog", "Dog"]
    with pytest.raises(ParamsError, match="classes: the class list has duplicates"):
        parse_params(raw)


def test_real_source_needs_its_paths():
    raw = project_params()
    raw["data"]["source"] = "real"
    with pytest.raises(ParamsError, match="real.soundbank or real.dcase2018 is empty"):
        parse_params(raw)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "params.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("synth: [unclosed\n")
    with pytest.raises(ParamsError, match="broken.yaml: not valid YAML"):
        load_params(broken)


def test_paper_scale_profile_overrides_are_valid_params():
    """`make paper-scale` passes these -S overrides to dvc exp run: each key must exist and validate."""
    import shlex

    text = (ROOT / "Makefile").read_text()
    block = text[text.index("PAPER_SCALE :="):].split("\n\n")[0].replace("\\\n", " ")
    tokens = shlex.split(block.split(":=", 1)[1])
    overrides = [tokens[i + 1] for i, token in enumerate(tokens) if token == "-S"]
    raw = project_params()
    for override in overrides:
        key, value = override.split("=", 1)
        section, name = key.split(".")
        assert name in raw[section], f"{key} is not in params.yaml"
        raw[section][name] = yaml.safe_load(value)
    params = parse_params(raw)
    assert params.model.channels == (160, 160, 160) and len(params.train.seeds) == 20
    assert params.features.sample_rate == 44100 and round(params.data.clip_duration / params.features.hop) == 500
    assert params.synth.train_clips == 6373 and params.realworld.weak_clips == 1578


def test_the_params_check_of_mel_bins_is_the_models_pooling():
    from ifdsed.models.config import ModelConfig
    pooling = ModelConfig().mel_pooling
    assert pooling == 4 ** 3 and ModelConfig(n_mels=pooling).mel_bins_out == 1
    with pytest.raises(ValueError, match="do not survive the pools"):
        ModelConfig(n_mels=pooling - 1)
    raw = project_params()
    raw["features"]["n_mels"] = pooling - 1
    with pytest.raises(ParamsError, match=f"use n_mels >= {pooling}"):
        parse_params(raw)


def test_one_named_gpu_cannot_serve_several_processes():
    raw = project_params()
    raw["train"].update(device="cuda:1", processes=2)
    with pytest.raises(ParamsError, match=r"train: device 'cuda:1' names one GPU, but with processes 2"):
        parse_params(raw)
    raw["train"].update(device="cuda")
    assert parse_params(raw).train.processes == 2


# The params cases of docs/reliability.md, on the tiny params.
BAD_PARAMS = [   # (section, key, value, phrase): each message starts with params.yaml and names the key
    ("synth", "train_clips", "many", "params.yaml: synth.train_clips: Input should be a valid integer"),
    ("features", "n_mels", 2, "params.yaml: features.n_mels: 2 mel bins do not survive the encoder's frequency "
                              "pools (1, 4), (1, 4), (1, 4): use n_mels >= 64"),
    ("realworld", "snr_db", [20, 0], "params.yaml: realworld.snr_db: the lower bound 20.0 is above the upper"),
    ("train", "devise", "cpu", "params.yaml: train.devise: unknown key (misspelt?)"),
    ("train", "precision", "half", "params.yaml: train.precision: Input should be 'auto', 'float32', 'bfloat16' or "
                                   "'float16' (got 'half')"),
    (None, "classes", [], "params.yaml: classes: the class list is empty"),
    (None, "classes", ["Dog", "Cat,Dog"], "params.yaml: classes: 'Cat,Dog' is not a usable class name"),
    (None, "classes", ["Dog", "Doorbell"], "params.yaml: classes: 'Doorbell' is not a DCASE class"),
    (None, "data", {"source": "real"}, "params.yaml: data.source is 'real' but real.soundbank or real.dcase2018"),
]


@pytest.mark.parametrize("section, key, value, phrase", BAD_PARAMS, ids=[case[1] for case in BAD_PARAMS])
def test_bad_params_name_the_key(tiny_params, section, key, value, phrase):
    raw = json.loads(json.dumps(tiny_params))
    if section is None:
        raw[key] = value
    else:
        raw[section][key] = value
    with pytest.raises(ParamsError) as error:
        parse_params(raw)
    assert phrase in str(error.value), str(error.value)


def test_an_imported_synthetic_test_set_needs_both_its_table_and_its_audio():
    raw = project_params()
    raw["real"]["syn_test_tsv"] = "metadata/eval/synthetic.tsv"
    with pytest.raises(ParamsError, match="syn_test_tsv and syn_test_audio go together"):
        parse_params(raw)
    raw["real"]["syn_test_audio"] = "audio/eval/synthetic"
    assert parse_params(raw).real.syn_test_audio == "audio/eval/synthetic"
