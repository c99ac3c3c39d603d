"""Typed, validated access to params.yaml.

Every stage calls `load_params()`. The whole file is checked at once, before any work starts: a wrong type,
an out-of-range value or a misspelt key raises `ParamsError`, whose message names the key, for example
``params.yaml: synth.train_clips: Input should be greater than 0 (got -3)``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from ifdsed.errors import IfdsedError
from ifdsed.models.config import ModelConfig
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

DCASE_CLASSES = (
    "Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog", "Electric_shaver_toothbrush",
    "Frying", "Running_water", "Speech", "Vacuum_cleaner",
)

PARAMS_FILE = Path("params.yaml")


class ParamsError(IfdsedError, ValueError):
    """params.yaml is missing, unreadable or invalid; the message names the key."""


def _ordered(pair: tuple[float, float]) -> tuple[float, float]:
    if pair[0] > pair[1]:
        raise ValueError(f"the lower bound {pair[0]} is above the upper bound {pair[1]}")
    return pair


Range = Annotated[tuple[float, float], Field(strict=False), AfterValidator(_ordered)]  # a YAML list [low, high]


class Section(BaseModel):
    """A params.yaml section: unknown keys are errors, types are strict enough to catch '10' for 10.0."""
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DataParams(Section):
    source: Literal["embedded", "real"] = "embedded"
    sample_rate: int = Field(16000, ge=8000, le=96000)
    clip_duration: float = Field(10.0, gt=0, le=60)


BACKGROUND_KINDS = ("room_tone", "mains_hum", "ventilation", "distant_rumble", "fan", "washing_machine", "traffic",
                    "rain", "babble", "exercise_machine")   # ifdsed/soundbank/backgrounds.py


VARIANT_CLASSES = ("Cat", "Dishes", "Running_water")   # the classes with extra source kinds (soundbank/variants.py)


class SoundbankParams(Section):
    seed: int = Field(0, ge=0)
    clips_per_class: int = Field(24, ge=2)
    backgrounds: int = Field(20, ge=2)
    background_duration: float = Field(12.0, gt=0)
    background_kinds: tuple[Literal[BACKGROUND_KINDS], ...] = Field(BACKGROUND_KINDS, strict=False, min_length=1)
    non_target_clips: int = Field(8, ge=0)   # per non-target kind and partition (ifdsed/soundbank/non_target.py)
    source_variants: tuple[Literal[VARIANT_CLASSES], ...] = Field((), strict=False)   # ifdsed/soundbank/variants.py
    # Held-out sources (ifdsed/soundbank/pools.py): these shares of each class's clips and each kind's beds, per
    # partition, are kept for the validation and test sets only; 0: none (the sets reuse the training sources)
    held_out_validation: float = Field(0.2, ge=0, lt=0.5)
    held_out_test: float = Field(0.2, ge=0, lt=0.5)
    workers: int = Field(2, ge=1, le=64)

    @model_validator(mode="after")
    def _distinct_kinds(self) -> "SoundbankParams":
        if len(set(self.background_kinds)) != len(self.background_kinds):
            raise ValueError("background_kinds: a kind is listed twice")
        if len(set(self.source_variants)) != len(self.source_variants):
            raise ValueError("source_variants: a class is listed twice")
        return self


class ExtraTestSet(Section):
    """A strongly labelled set scored as an extra test set: its DESED tsv and audio folder (absolute, or relative
    to the project root)."""
    tsv: str
    audio: str


class RealParams(Section):
    soundbank: str = ""
    dcase2018: str = ""
    weak_tsv: str = "metadata/train/weak.tsv"
    weak_audio: str = "audio/train/weak"
    validation_tsv: str = "metadata/validation/test_dcase2018.tsv"
    validation_audio: str = "audio/validation"
    test_tsv: str = "metadata/validation/eval_dcase2018.tsv"
    test_audio: str = "audio/validation"
    # DESED's unlabelled in-domain set (the mean teacher's), relative to dcase2018; unlabelled_tsv empty: not imported
    unlabelled_tsv: str = ""
    unlabelled_audio: str = "audio/train/unlabel_in_domain"
    max_missing_fraction: float = Field(0.2, ge=0, le=1)
    # The synthetic test set imported instead of generated (any data.source), e.g. the DCASE 2019 task 4 synthetic
    # evaluation set for the paper's "DCASE 2019 (syn)" column: its strong labels (DESED tsv) and audio folder,
    # absolute or relative to the project root; both empty: Scaper generates it
    syn_test_tsv: str = ""
    syn_test_audio: str = ""
    # Extra test sets, any data.source (e.g. DESED's validation and public evaluation sets, the benchmark SED users
    # compare on with PSDS): name -> {tsv, audio}; imported by the extra_sets stage, scored by evaluate as <name>/...
    extra_test_sets: dict[str, ExtraTestSet] = Field(default_factory=dict, strict=False)

    @model_validator(mode="after")
    def _extra_set_names(self) -> "RealParams":
        reserved = {"real_test", "syn_test", "real_validation"}
        for name in self.extra_test_sets:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in reserved:
                raise ValueError(f"extra_test_sets: {name!r} is not a usable set name: lower-case letters, digits "
                                 f"and _, starting with a letter, and none of {sorted(reserved)}")
        return self

    @model_validator(mode="after")
    def _synthetic_test_both_or_neither(self) -> "RealParams":
        if bool(self.syn_test_tsv) != bool(self.syn_test_audio):
            raise ValueError("syn_test_tsv and syn_test_audio go together: set both to import the synthetic test "
                             "set, or neither to generate it")
        return self


class SynthParams(Section):
    seed: int = Field(42, ge=0)
    train_clips: int = Field(400, gt=0)
    test_clips: int = Field(100, gt=0)
    ref_db: float = Field(-50, ge=-80, le=0)
    snr_db: Range = (6.0, 30.0)
    pitch_shift: float = Field(3.0, ge=0, le=12)
    max_events: int = Field(4, ge=1, le=20)
    max_polyphony: int = Field(2, ge=1, le=5)
    min_event_duration: float = Field(0.25, gt=0)
    min_gap: float = Field(0.15, ge=0)
    max_non_target: int = Field(2, ge=0, le=10)   # unlabelled non-target events per clip, uniform in [0, x]
    workers: int = Field(2, ge=1, le=64)


class RealworldParams(Section):
    seed: int = Field(7, ge=0)
    weak_clips: int = Field(300, gt=0)
    validation_clips: int = Field(100, gt=0)
    test_clips: int = Field(200, gt=0)
    unlabelled_clips: int = Field(0, ge=0)   # the unlabelled in-domain set (the mean teacher's); 0: none
    max_polyphony: int = Field(3, ge=1, le=5)
    min_gap: float = Field(0.15, ge=0)
    snr_db: Range = (0.0, 20.0)
    rt60: Range = (0.15, 1.2)
    direct_to_reverb_db: Range = (-3.0, 9.0)
    noise_floor_db: Range = (-70.0, -40.0)
    level_db: Range = (-36.0, -16.0)
    compression: Range = (1.0, 6.0)
    mic_highpass_hz: Range = (50.0, 400.0)
    mic_presence_db: Range = (0.0, 10.0)          # gain of the microphone's presence peak (1.5-5 kHz)
    mic_lowpass: Range = (0.4, 0.95)              # the microphone's roll-off, a fraction of the Nyquist frequency
    max_non_target: int = Field(2, ge=0, le=10)   # unlabelled non-target events per clip, uniform in [0, x]
    background_levels: bool = True                # each clip's bed at a level drawn from its kind's range
    workers: int = Field(2, ge=1, le=64)

    @model_validator(mode="after")
    def _physical(self) -> "RealworldParams":
        if self.rt60[0] <= 0:
            raise ValueError("rt60 must be positive seconds")
        if self.compression[0] < 1:
            raise ValueError("compression is a ratio >= 1")
        if self.level_db[1] > 0 or self.noise_floor_db[1] > 0:
            raise ValueError("level_db and noise_floor_db are dBFS, at most 0")
        if self.mic_highpass_hz[0] <= 0 or not 0 < self.mic_lowpass[0] <= self.mic_lowpass[1] < 1:
            raise ValueError("mic_highpass_hz must be positive Hz and mic_lowpass a fraction of Nyquist in (0, 1)")
        return self


class FeaturesParams(Section):
    """Log-mel extraction. The default is sized for a CPU; Lin et al.'s settings are sample_rate 44100,
    n_fft 2048, window 0.04, hop 0.02, n_mels 64 (500 frames per 10 s clip)."""
    sample_rate: int = Field(16000, ge=8000, le=96000)
    n_fft: int = Field(1024, ge=64, le=16384)
    window: float = Field(0.04, gt=0, le=1)      # s
    hop: float = Field(0.04, gt=0, le=1)         # s
    n_mels: int = Field(64, ge=1, le=512)  # at least 64: Params checks it against the encoder's pools
    fmin: float = Field(0.0, ge=0)
    fmax: float = Field(8000.0, gt=0)
    log_offset: float = Field(1e-8, gt=0)
    workers: int = Field(2, ge=1, le=64)

    @model_validator(mode="after")
    def _consistent(self) -> "FeaturesParams":
        if self.fmax > self.sample_rate / 2:
            raise ValueError(f"fmax {self.fmax} is above the Nyquist frequency {self.sample_rate / 2}")
        if self.fmin >= self.fmax:
            raise ValueError(f"fmin {self.fmin} is not below fmax {self.fmax}")
        if round(self.window * self.sample_rate) > self.n_fft:
            raise ValueError(f"window {self.window} s is longer than n_fft {self.n_fft} samples")
        return self


_MODEL = ModelConfig()  # the model's defaults are declared once, in ifdsed/models/config.py


class ModelParams(Section):
    """The params.yaml face of `ifdsed.models.config.ModelConfig`: these keys, validated here, become
    ``ModelConfig(n_mels=..., n_classes=..., **params.model.model_dump())`` (`model_config`); their
    defaults are ModelConfig's. Kernels and frequency pools are Lin et al.'s, fixed."""
    ifd: bool = _MODEL.ifd
    sedb: bool = _MODEL.sedb
    # one per conv block (Lin et al.: 160, 160, 160)
    channels: Annotated[tuple[int, ...], Field(strict=False, min_length=3, max_length=3)] = _MODEL.channels
    k_c: int | None = Field(_MODEL.k_c, ge=1)
    dropout: float = Field(_MODEL.dropout, ge=0, lt=1)
    ifd_dim: int | None = Field(_MODEL.ifd_dim, ge=1)
    ifd_margin: float = Field(_MODEL.ifd_margin, ge=0)
    ifd_theta: float = Field(_MODEL.ifd_theta, gt=0, lt=1)
    ifd_pairing: Literal["triplet", "mean"] = _MODEL.ifd_pairing
    ifd_domains: Literal["all", "cross"] = _MODEL.ifd_domains
    ifd_labels: Literal["pseudo", "oracle"] = _MODEL.ifd_labels
    lambda_ifd: float = Field(_MODEL.lambda_ifd, ge=0)
    lambda_sedb: float = Field(_MODEL.lambda_sedb, ge=0)
    mean_teacher: bool = _MODEL.mean_teacher
    mean_teacher_decay: float = Field(_MODEL.mean_teacher_decay, ge=0, lt=1)
    consistency_weight: float = Field(_MODEL.consistency_weight, ge=0)
    consistency_rampup: int = Field(_MODEL.consistency_rampup, ge=0)

    @model_validator(mode="after")
    def _positive_channels(self) -> "ModelParams":
        if any(c < 1 for c in self.channels):
            raise ValueError(f"channels must be positive, got {list(self.channels)}")
        return self


class TrainParams(Section):
    seeds: Annotated[tuple[int, ...], Field(strict=False, min_length=1)] = (1, 2, 3)
    epochs: int = Field(12, ge=1)                        # the most epochs a training runs
    # Early stopping: stop after this many consecutive epochs without a better selection score (null: never)
    patience: int | None = Field(10, ge=1)
    # What picks best.pt and drives early stopping (ifdsed/training/selection.py): event_f1, the paper's measure
    # (event-based macro F1 on validation, post-processed as at test time), or frame_f1, a fast stand-in
    selection: Literal["event_f1", "frame_f1"] = "event_f1"
    batch_size: int = Field(16, ge=2)
    synthetic_fraction: float = Field(0.5, ge=0, le=1)  # share of each batch drawn from the synthetic set
    lr: float = Field(0.0036, gt=0)                     # chosen on validation (docs/ifd-study.md)
    lr_decay: float = Field(0.8, gt=0, le=1)            # multiply lr by this ...
    lr_decay_every: int = Field(10, ge=1)               # ... every this many epochs
    # IFD warm-up: epochs trained with the IFD term weighted 0 (its pair counts are still logged), so that the
    # pseudo strong labels come from ATP frame outputs that mean something; 0: from the first step (the paper)
    ifd_warmup: int = Field(0, ge=0)
    # With model.mean_teacher: unlabelled clips are added to every batch so that they make this share of it (the
    # labelled part stays batch_size clips); 0.5: as many unlabelled clips as labelled ones (the DESED baseline's)
    unlabelled_fraction: float = Field(0.5, ge=0, lt=1)
    threads: int = Field(2, ge=1, le=256)
    # auto: CUDA when present; cuda:N picks a GPU (one experiment per GPU in a queue)
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:(0|[1-9][0-9]*))?)$")
    processes: int = Field(1, ge=1, le=1024)             # > 1: DistributedDataParallel, one process per device
    # How a training step runs (ifdsed/training/execution.py). auto: bfloat16 autocast on a CPU with native
    # bfloat16 (AVX512-BF16 or AMX) and on a GPU that has it, float16 on older GPUs, float32 otherwise.
    precision: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    # torch.compile the training forward (inductor). auto: where the step autocasts (bfloat16, float16) or runs on a
    # GPU; eager on a CPU in float32, where compiling bought 3 % a step for 40 s of compilation (docs/performance.md)
    compile: Literal[True, False, "auto"] = "auto"
    channels_last: bool = False                          # channels-last convolutions (slower on CPUs: measured)
    prefetch: int = Field(2, ge=0, le=64)                # batches made ahead on a background thread (0: inline)
    track_energy: bool = True                            # codecarbon's energy measurement (ifdsed/training/energy.py)
    # Robust-training options (ifdsed/training/augment.py), off in the paper's four variants
    mixup: bool = False                                  # DESED's: hard mixup within each domain, p 0.5, Beta(0.2, 0.2)
    spec_augment: bool = False                           # 2 time masks (<= 10 % of frames) + 2 frequency masks (<= 8 bands)
    gain_filter: bool = False                            # random gain +-6 dB and spectral tilt +-6 dB per clip

    @model_validator(mode="after")
    def _unique_seeds(self) -> "TrainParams":
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds has duplicates: {list(self.seeds)}")
        return self

    @model_validator(mode="after")
    def _one_named_gpu_one_process(self) -> "TrainParams":
        if ":" in self.device and self.processes > 1:
            raise ValueError(f"device {self.device!r} names one GPU, but with processes {self.processes} each "
                             "process takes the GPU of its local rank: use device 'cuda' or 'auto'")
        return self


class PostprocessParams(Section):
    """Clip tags at tag_threshold; frame decisions at frame_threshold gated by the tags; a per-class median
    filter of round_odd(median_fraction x median training-event duration / frame hop) frames."""
    tag_threshold: float = Field(0.5, gt=0, lt=1)
    frame_threshold: float = Field(0.5, gt=0, lt=1)
    median_fraction: float = Field(1 / 3, gt=0, le=2)
    median_min_frames: int = Field(1, ge=1)
    median_max_frames: int | None = Field(None, ge=1)


class EvalParams(Section):
    """sed_eval settings (the paper's: event-based, t_collar 0.2 s, percentage_of_length 0.2)."""
    t_collar: float = Field(0.2, gt=0)
    percentage_of_length: float = Field(0.2, ge=0, le=1)
    segment_resolution: float = Field(1.0, gt=0)
    piano_roll_clips: int = Field(4, ge=0, le=50)
    # 90 % intervals of event F1 and PSDS1 per set and seed (ifdsed/evaluation/bootstrap.py): sed_scores_eval's
    # resampling, this many shuffles of 5 folds; 0: none
    bootstrap_iterations: int = Field(20, ge=0, le=1000)
    bootstrap_psds: bool = False   # PSDS1's interval too (the slow one: every resample is a whole PSD-ROC)


class Params(Section):
    classes: Annotated[tuple[str, ...], Field(strict=False)] = DCASE_CLASSES
    data: DataParams = DataParams()
    soundbank: SoundbankParams = SoundbankParams()
    real: RealParams = RealParams()
    synth: SynthParams = SynthParams()
    realworld: RealworldParams = RealworldParams()
    features: FeaturesParams = FeaturesParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    postprocess: PostprocessParams = PostprocessParams()
    eval: EvalParams = EvalParams()

    @model_validator(mode="after")
    def _classes(self) -> "Params":
        if not self.classes:
            raise ValueError("classes: the class list is empty")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("classes: the class list has duplicates")
        for name in self.classes:   # names go into comma-separated tag cells of tab-separated tables
            if not name or name != name.strip() or any(char in name for char in ",\t\n\r"):
                raise ValueError(f"classes: {name!r} is not a usable class name (it must be non-empty, without "
                                 f"commas, tabs, line breaks or surrounding spaces)")
        unknown = [name for name in self.classes if name not in DCASE_CLASSES]
        if self.data.source == "embedded" and unknown:
            raise ValueError(f"classes: {unknown[0]!r} is not a DCASE class: the embedded sound bank and the "
                             f"simulated real-world domain (data.source: embedded) know only "
                             f"{', '.join(DCASE_CLASSES)}; use data.source: real with your own soundbank")
        if self.model.ifd_labels == "oracle" and self.data.source != "embedded":
            raise ValueError("model.ifd_labels: oracle labels the weak clips' frames with the simulated weak set's "
                             "hidden timestamps, which only data.source: embedded has; real weak clips have none")
        if self.data.source == "real" and not (self.real.soundbank and self.real.dcase2018):
            raise ValueError("data.source is 'real' but real.soundbank or real.dcase2018 is empty")
        return self

    @model_validator(mode="after")
    def _model_fits_features(self) -> "Params":
        """What the model needs of the features, checked here rather than when training starts, by the model's
        own sizes (ModelConfig: its frequency pools, its embedding size), named by the params keys."""
        pooling = _MODEL.mel_pooling
        if self.features.n_mels // pooling < 1:
            pools = ", ".join(str(pool) for pool in _MODEL.freq_pool)
            raise ValueError(f"features.n_mels: {self.features.n_mels} mel bins do not survive the encoder's "
                             f"frequency pools {pools}: use n_mels >= {pooling}")
        emb_dim = ModelConfig(n_mels=self.features.n_mels, channels=self.model.channels).emb_dim
        if self.model.k_c is not None and self.model.k_c > emb_dim:
            raise ValueError(f"model.k_c: {self.model.k_c} is above the frame embedding's size, {emb_dim} "
                             f"(model.channels[-1] x the mel bins left by the pools)")
        return self


def model_config(params: Params, n_mels: int) -> ModelConfig:
    """The model that params.yaml describes, for features of `n_mels` bands."""
    return ModelConfig(n_mels=n_mels, n_classes=len(params.classes), **params.model.model_dump())


def _format_errors(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        got = "" if isinstance(item.get("input"), dict) or "input" not in item else f" (got {item['input']!r})"
        if item["type"] == "extra_forbidden":
            message, got = "unknown key (misspelt?)", ""
        else:
            message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {key + ': ' if key else ''}{message}{got}")
    return "\n".join(lines)


def parse_params(raw: dict, source: str = "params.yaml") -> Params:
    """Validate an already-loaded params mapping."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ParamsError(_format_errors(error, source)) from None


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml (the file in the working directory by default)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found (run from the project root)") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {error}") from None
    return parse_params(raw or {}, str(path))
