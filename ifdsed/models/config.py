"""The model's hyper-parameters, as one plain dataclass (nanoGPT style).

`ModelConfig` is everything needed to rebuild a model: a checkpoint stores `config.to_dict()` and
`ModelConfig.from_dict` turns it back into a config (see `ifdsed/models/checkpoint.py`).

The default encoder is sized for a 2-core CPU: channels (16, 32, 64). Lin et al.'s "PS" model, the encoder the
paper builds on, is a params change away: ``channels=(160, 160, 160)`` (same kernels and pools).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

Pairing = Literal["triplet", "mean"]
IFDDomains = Literal["all", "cross"]
IFDLabels = Literal["pseudo", "oracle"]
ORACLE_SUFFIX = " (oracle IFD labels)"   # after the variant name of a run whose IFD read the hidden weak labels
MT_SUFFIX = "+MT"                          # after the variant name of a run trained with a mean teacher


# The paper's four variants, in its table order: name -> (ifd, sedb) branches. The one list of them: tables,
# study recipes and benchmarks read it from here.
VARIANTS: dict[str, tuple[bool, bool]] = {"baseline": (False, False), "IFD": (True, False), "SEDB": (False, True),
                                          "SEDB&IFD": (True, True)}


def variant_name(ifd: bool, sedb: bool, mean_teacher: bool = False) -> str:
    """The paper's name of the variant with these branches (baseline, IFD, SEDB or SEDB&IFD), with MT_SUFFIX when a
    mean teacher trains it."""
    name = {branches: name for name, branches in VARIANTS.items()}[(bool(ifd), bool(sedb))]
    return name + (MT_SUFFIX if mean_teacher else "")


# Every run's variant name, in the tables' order: the paper's four, then each with a mean teacher.
RUN_VARIANTS: tuple[str, ...] = (*VARIANTS, *(name + MT_SUFFIX for name in VARIANTS))


@dataclass(frozen=True)
class ModelConfig:
    """Sizes and switches of `SEDModel`.

    Encoder
        n_mels: mel bins of the input features [batch, frames, n_mels].
        n_classes: number of sound event classes.
        channels: Conv2d filters of each block (Lin et al.: (160, 160, 160)).
        kernels: (time, freq) kernel of each block; 'same' padding.
        freq_pool: (time, freq) max-pool of each block; the time size must be 1 so that every frame survives.
        input_batchnorm: BatchNorm over the mel bins of the input (per-bin statistics), as in Lin et al.'s code.
        dropout: dropout after each block (Lin et al.'s PS model: none).
    ATP head
        k_c: the disentangled-feature dimension of each class: class c sees only the first k_c embedding
            dimensions and divides its attention logits by k_c. None means the full embedding dimension for
            every class (no disentangling); an int applies to every class; a sequence gives one per class.
    Branches
        ifd, sedb: switch the IFD and SEDB training branches (the four variants of the paper).
        ifd_dim: output size of the IFD projection (None: the embedding dimension).
        ifd_margin: alpha of eq. 3.
        ifd_theta: pseudo strong label threshold on the ATP frame probabilities, in (0, 1).
        ifd_pairing: how negatives meet positives in the hinge, "triplet" (default) or "mean" (see ifd.py).
        ifd_domains: which frame pairs enter the hinge: "all" (default) or "cross" (real-synthetic pairs only).
        ifd_labels: the real weak clips' frame labels for IFD: "pseudo" (default, from the ATP frame outputs) or
            "oracle" (the simulated weak set's hidden timestamps: a diagnostic upper bound, never a variant).
        lambda_ifd, lambda_sedb: weights of L_IFD and L_SEDB in the total loss.
    Mean teacher (a training method beside the branches, not the paper's; ifdsed/training/mean_teacher.py)
        mean_teacher: train with an EMA teacher and a consistency loss on every clip, unlabelled ones included.
        mean_teacher_decay: the EMA decay of the teacher's weights.
        consistency_weight: the consistency loss's weight once ramped up.
        consistency_rampup: epochs over which that weight ramps up (0: none).
    """
    n_mels: int = 64
    n_classes: int = 10
    channels: tuple[int, ...] = (16, 32, 64)
    kernels: tuple[tuple[int, int], ...] = ((5, 5), (5, 5), (3, 3))
    freq_pool: tuple[tuple[int, int], ...] = ((1, 4), (1, 4), (1, 4))
    input_batchnorm: bool = True
    dropout: float = 0.0
    k_c: int | tuple[int, ...] | None = None
    ifd: bool = False
    sedb: bool = False
    ifd_dim: int | None = None
    ifd_margin: float = 0.1
    ifd_theta: float = 0.5
    ifd_pairing: Pairing = "triplet"
    ifd_domains: IFDDomains = "all"
    ifd_labels: IFDLabels = "pseudo"
    lambda_ifd: float = 1.0
    lambda_sedb: float = 1.0
    mean_teacher: bool = False
    mean_teacher_decay: float = 0.99
    consistency_weight: float = 2.0
    consistency_rampup: int = 2

    def __post_init__(self) -> None:
        # Accept lists (YAML, JSON) and store tuples, so that configs compare and hash by value.
        set_ = object.__setattr__
        set_(self, "channels", tuple(int(c) for c in self.channels))
        set_(self, "kernels", tuple(tuple(int(k) for k in pair) for pair in self.kernels))
        set_(self, "freq_pool", tuple(tuple(int(p) for p in pair) for pair in self.freq_pool))
        if self.k_c is not None and not isinstance(self.k_c, int):
            set_(self, "k_c", tuple(int(k) for k in self.k_c))
        self._validate()

    def _validate(self) -> None:
        blocks = len(self.channels)
        if blocks == 0 or any(c <= 0 for c in self.channels):
            raise ValueError(f"channels must be positive and non-empty, got {self.channels}")
        if len(self.kernels) != blocks or len(self.freq_pool) != blocks:
            raise ValueError(f"channels, kernels and freq_pool need one entry per block ({blocks}), "
                             f"got {len(self.kernels)} kernels and {len(self.freq_pool)} pools")
        if any(len(k) != 2 or min(k) < 1 for k in self.kernels):
            raise ValueError(f"kernels must be (time, freq) pairs >= 1, got {self.kernels}")
        if any(len(p) != 2 or p[0] != 1 or p[1] < 1 for p in self.freq_pool):
            raise ValueError(f"freq_pool must be (1, f) pairs (pooling on frequency only), got {self.freq_pool}")
        if self.n_mels < 1 or self.n_classes < 1:
            raise ValueError("n_mels and n_classes must be positive")
        if self.mel_bins_out < 1:
            raise ValueError(f"{self.n_mels} mel bins do not survive the pools {self.freq_pool}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        dims = self.class_dims
        if len(dims) != self.n_classes or any(not 1 <= k <= self.emb_dim for k in dims):
            raise ValueError(f"k_c must give {self.n_classes} dimensions in [1, {self.emb_dim}], got {self.k_c}")
        if self.ifd_dim is not None and self.ifd_dim < 1:
            raise ValueError(f"ifd_dim must be positive, got {self.ifd_dim}")
        if self.ifd_pairing not in ("triplet", "mean"):
            raise ValueError(f"ifd_pairing must be 'triplet' or 'mean', got {self.ifd_pairing!r}")
        if self.ifd_domains not in ("all", "cross"):
            raise ValueError(f"ifd_domains must be 'all' or 'cross', got {self.ifd_domains!r}")
        if self.ifd_labels not in ("pseudo", "oracle"):
            raise ValueError(f"ifd_labels must be 'pseudo' or 'oracle', got {self.ifd_labels!r}")
        if self.ifd_margin < 0 or not 0.0 < self.ifd_theta < 1.0:
            raise ValueError("ifd_margin must be >= 0 and ifd_theta in (0, 1)")
        if self.lambda_ifd < 0 or self.lambda_sedb < 0 or self.consistency_weight < 0:
            raise ValueError("loss weights must be >= 0")
        if not 0.0 <= self.mean_teacher_decay < 1.0 or self.consistency_rampup < 0:
            raise ValueError("mean_teacher_decay must be in [0, 1) and consistency_rampup >= 0")

    # ---- derived sizes -------------------------------------------------------------------------------------
    @property
    def mel_pooling(self) -> int:
        """The factor by which the frequency pools divide the mel bins (4 ** 3 for Lin et al.'s three (1, 4))."""
        return math.prod(pool for _, pool in self.freq_pool)

    @property
    def mel_bins_out(self) -> int:
        """Mel bins left after the frequency pools (floor division, as MaxPool2d does: n // a // b = n // (a b))."""
        return self.n_mels // self.mel_pooling

    @property
    def emb_dim(self) -> int:
        """Size of a frame embedding x_t: last block's channels times the mel bins left (64 mels -> 1 bin)."""
        return self.channels[-1] * self.mel_bins_out

    @property
    def class_dims(self) -> tuple[int, ...]:
        """k_c for every class."""
        if self.k_c is None:
            return (self.emb_dim,) * self.n_classes
        if isinstance(self.k_c, int):
            return (self.k_c,) * self.n_classes
        return self.k_c

    @property
    def ifd_out_dim(self) -> int:
        """Size D of the IFD domain embedding v_t."""
        return self.emb_dim if self.ifd_dim is None else self.ifd_dim

    @property
    def variant(self) -> str:
        """The paper's name of this variant (baseline, IFD, SEDB or SEDB&IFD), with MT_SUFFIX when a mean teacher
        trains it."""
        return variant_name(self.ifd, self.sedb, self.mean_teacher)

    @property
    def oracle_labels(self) -> bool:
        """Whether IFD pairs the weak clips' frames by their hidden labels (the diagnostic upper bound)."""
        return self.ifd and self.ifd_labels == "oracle"

    @property
    def run_name(self) -> str:
        """The variant's name as a run reports it: `variant`, marked " (oracle IFD labels)" for the diagnostic arm,
        which is never one of the paper's variants."""
        return self.variant + (ORACLE_SUFFIX if self.oracle_labels else "")

    # ---- (de)serialisation ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-safe dict (tuples become lists)."""
        def plain(value: Any) -> Any:
            return [plain(v) for v in value] if isinstance(value, (tuple, list)) else value
        return {key: plain(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "ModelConfig":
        """Inverse of `to_dict`; an unknown key is an error (a misspelt key must not pass silently)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig keys: {unknown}")
        return cls(**raw)
