"""Training of one seed: mixed batches, Adam with step decay, model selection on validation, resumable.

Each batch holds `batch_size * (1 - synthetic_fraction)` real-world weak clips (clip tags only) and the rest
synthetic clips (tags and strong frame labels). An epoch is one pass over the real weak set (or over the
synthetic set when a batch holds no real clip); the clip order of every epoch comes from (seed, epoch), so a
resumed run sees exactly the batches an uninterrupted one would.

Model selection: after every epoch the validation set is scored (`selection_score`) and the best epoch's
weights are kept in best.pt; last.pt holds everything needed to resume (weights, optimizer, scheduler, epoch,
best score) and a fingerprint of the params and training data, so a checkpoint from other settings is never
resumed.
"""
from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ifdsed.config import Params
from ifdsed.detector import detector_extra, training_median_windows
from ifdsed.features import FeatureSet, LogMelConfig, load_feature_set, load_normalization, read_store_info
from models import checkpoint
from models.config import ModelConfig
from models.sed_model import SEDModel

REAL_TRAIN, SYNTHETIC_TRAIN, VALIDATION = "realworld_weak", "synthetic_train", "realworld_validation"


def model_config(params: Params, n_mels: int) -> ModelConfig:
    """The ModelConfig for params.model, with Lin et al.'s kernels and frequency pools."""
    model = params.model
    return ModelConfig(n_mels=n_mels, n_classes=len(params.classes), channels=model.channels, k_c=model.k_c,
                       dropout=model.dropout, ifd=model.ifd, sedb=model.sedb, ifd_dim=model.ifd_dim,
                       ifd_margin=model.ifd_margin, ifd_theta=model.ifd_theta, ifd_pairing=model.ifd_pairing,
                       lambda_ifd=model.lambda_ifd, lambda_sedb=model.lambda_sedb)


def pick_device(choice: str) -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


class Normalizer:
    """(x - mean) / std per mel band, with the statistics of the training sets."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        self.mean = mean.astype(np.float32)                      # [n_mels]
        self.std = np.maximum(std, 1e-5).astype(np.float32)      # [n_mels]

    def __call__(self, features: np.ndarray) -> torch.Tensor:
        """features [B, T, n_mels] float16 -> normalised float32 tensor [B, T, n_mels]."""
        return torch.from_numpy((features.astype(np.float32) - self.mean) / self.std)


class MixedBatches:
    """Batches that mix real weak clips and synthetic strong clips in a fixed ratio."""

    def __init__(self, real: FeatureSet, synthetic: FeatureSet, normalize: Normalizer, batch_size: int,
                 synthetic_fraction: float, seed: int):
        if synthetic.frame_labels is None:
            raise ValueError(f"{synthetic.name} has no frame labels: the synthetic set must be strongly labelled")
        self.real, self.synthetic, self.normalize, self.seed = real, synthetic, normalize, seed
        self.n_synthetic = round(batch_size * synthetic_fraction)
        self.n_real = batch_size - self.n_synthetic
        lead, per_batch = (len(real.tags), self.n_real) if self.n_real else (len(synthetic.tags), self.n_synthetic)
        self.steps = math.ceil(lead / per_batch)

    def _order(self, rng: np.random.Generator, n_clips: int, count: int) -> np.ndarray:
        """`count` clip indices: whole shuffled passes over the set, as many as needed."""
        passes = math.ceil(count / n_clips) if count else 0
        return np.concatenate([rng.permutation(n_clips) for _ in range(passes)] or [np.zeros(0, int)])[:count]

    def epoch(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        rng = np.random.default_rng([self.seed, epoch])
        real_order = self._order(rng, len(self.real.tags), self.steps * self.n_real)
        synthetic_order = self._order(rng, len(self.synthetic.tags), self.steps * self.n_synthetic)
        for step in range(self.steps):
            real = np.sort(real_order[step * self.n_real:(step + 1) * self.n_real])       # sorted: memmap reads
            synthetic = np.sort(synthetic_order[step * self.n_synthetic:(step + 1) * self.n_synthetic])
            yield self._batch(real, synthetic)

    def _batch(self, real: np.ndarray, synthetic: np.ndarray) -> dict[str, torch.Tensor]:
        features = np.concatenate([self.real.features[real], self.synthetic.features[synthetic]])  # [B, T, F]
        tags = np.concatenate([self.real.tags[real], self.synthetic.tags[synthetic]])              # [B, C]
        strong = self.synthetic.frame_labels[synthetic]                                            # [Bs, T, C]
        frame_labels = np.concatenate([np.zeros((len(real),) + strong.shape[1:], np.uint8), strong])  # [B, T, C]
        return {"features": self.normalize(features),
                "clip_tags": torch.from_numpy(tags.astype(np.float32)),
                "frame_labels": torch.from_numpy(frame_labels.astype(np.float32)),
                "is_synthetic": torch.from_numpy(np.r_[np.zeros(len(real), bool), np.ones(len(synthetic), bool)])}


@torch.no_grad()
def predict(model: SEDModel, features: np.ndarray, normalize: Normalizer, device: torch.device,
            batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """ATP outputs of a whole set: frame_probs [N, T, C] and clip_probs [N, C], float32."""
    model.eval()
    frames, clips = [], []
    for start in range(0, len(features), batch_size):
        outputs = model(normalize(features[start:start + batch_size]).to(device))
        frames.append(outputs["frame_probs"].float().cpu().numpy())
        clips.append(outputs["clip_probs"].float().cpu().numpy())
    return np.concatenate(frames), np.concatenate(clips)


def selection_score(frame_probs: np.ndarray, clip_probs: np.ndarray, frame_labels: np.ndarray,
                    threshold: float = 0.5) -> float:
    """Frame-level macro F1 of tag-gated decisions (p_t,c > 0.5 where P_c > 0.5): a fast stand-in for event F1
    used to pick the best epoch. frame_probs, frame_labels [N, T, C]; clip_probs [N, C]."""
    decisions = (frame_probs > threshold) & (clip_probs[:, None, :] > threshold)          # [N, T, C]
    truth = frame_labels.astype(bool)
    true_pos = (decisions & truth).sum(axis=(0, 1))                                        # [C]
    denominator = decisions.sum(axis=(0, 1)) + truth.sum(axis=(0, 1))                      # [C]
    f1 = np.where(denominator > 0, 2 * true_pos / np.maximum(denominator, 1), 0.0)
    return float(f1.mean())


def store_features(store: Path) -> LogMelConfig:
    """The LogMelConfig the feature store was built with (features.json)."""
    described = read_store_info(store)["config"]
    return LogMelConfig(**{name: described[name] for name in LogMelConfig.__dataclass_fields__})


def data_fingerprint(store: Path, params: Params, seed: int) -> str:
    """Hash of what a checkpoint depends on: model and train params, the seed, and the feature store's
    index tables and normalisation statistics (which change whenever the training data change)."""
    digest = hashlib.sha256()
    settings = {"model": params.model.model_dump(), "train": params.train.model_dump(exclude={"seeds"}),
                "postprocess": params.postprocess.model_dump(), "seed": seed, "classes": params.classes}
    digest.update(json.dumps(settings, sort_keys=True, default=list).encode())
    for path in sorted(store.glob("*.tsv")) + [store / "normalization.npz", store / "features.json"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class RunPaths:
    """Where one seed's training writes: checkpoints (kept across reruns to resume) and dvclive logs."""
    root: Path

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def live(self) -> Path:
        return self.root / "live"


def _resume_state(paths: RunPaths, fingerprint: str, device: torch.device):
    """The last checkpoint when it was written by these settings; otherwise clear the run folder."""
    if paths.last.is_file():
        saved = checkpoint.load(paths.last, map_location=device)
        if saved.extra.get("fingerprint") == fingerprint:
            return saved
        print(f"{paths.last}: written with other params or data; starting afresh")
    shutil.rmtree(paths.checkpoints, ignore_errors=True)
    shutil.rmtree(paths.live, ignore_errors=True)
    return None


def train_seed(params: Params, seed: int, store: Path, out_dir: Path) -> dict:
    """Train (or resume) one seed; returns the summary written to the dvclive metrics."""
    from dvclive import Live
    from tqdm import tqdm

    train = params.train
    torch.set_num_threads(train.threads)
    device = pick_device(train.device)
    paths = RunPaths(out_dir)
    fingerprint = data_fingerprint(store, params, seed)
    real, synthetic = load_feature_set(store, REAL_TRAIN), load_feature_set(store, SYNTHETIC_TRAIN)
    validation = load_feature_set(store, VALIDATION)
    mean, std = load_normalization(store)
    normalize = Normalizer(mean, std)
    features = store_features(store)
    windows = training_median_windows(synthetic, params, features.frame_hop)
    detector = detector_extra(params, features, mean, std, windows)  # stored in every checkpoint
    batches = MixedBatches(real, synthetic, normalize, train.batch_size, train.synthetic_fraction, seed)

    torch.manual_seed(seed)
    model = SEDModel(model_config(params, real.features.shape[-1])).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=train.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=train.lr_decay_every, gamma=train.lr_decay)
    start_epoch, best_score, best_epoch = 0, -1.0, -1
    saved = _resume_state(paths, fingerprint, device)
    if saved is not None:
        model.load_state_dict(saved.model.state_dict())
        optimizer.load_state_dict(saved.optimizer_state)
        scheduler.load_state_dict(saved.extra["scheduler"])
        torch.set_rng_state(saved.extra["torch_rng"].cpu())  # load() maps tensors to the device
        start_epoch, best_score, best_epoch = saved.epoch, saved.extra["best_score"], saved.extra["best_epoch"]
        print(f"resuming {paths.last} after epoch {start_epoch}")

    live = Live(str(paths.live), dvcyaml=False, save_dvc_exp=False, resume=saved is not None, report=None)
    for epoch in range(start_epoch, train.epochs):
        model.train()
        sums: dict[str, float] = {}
        for batch in tqdm(batches.epoch(epoch), total=batches.steps, desc=f"seed {seed} epoch {epoch + 1}",
                          unit="batch", leave=False):
            batch = {key: value.to(device) for key, value in batch.items()}
            losses = model.losses(model(batch["features"]), batch)
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            optimizer.step()
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
        scheduler.step()
        frame_probs, clip_probs = predict(model, validation.features, normalize, device)
        score = selection_score(frame_probs, clip_probs, validation.frame_labels)
        for key, total in sums.items():
            live.log_metric(f"train/{key}", total / batches.steps)
        live.log_metric("validation/frame_f1_macro", score)
        live.log_metric("lr", optimizer.param_groups[0]["lr"])
        if score > best_score:
            best_score, best_epoch = score, epoch + 1
            checkpoint.save(paths.best, model, epoch=epoch + 1, extra={
                "fingerprint": fingerprint, "seed": seed, "validation_score": score, "detector": detector})
        checkpoint.save(paths.last, model, optimizer, epoch=epoch + 1, extra={
            "fingerprint": fingerprint, "seed": seed, "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(), "best_score": best_score, "best_epoch": best_epoch,
            "detector": detector})
        live.next_step()
        print(f"seed {seed} epoch {epoch + 1}/{train.epochs}: loss {sums['total'] / batches.steps:.4f}, "
              f"validation frame F1 {score:.4f}")
    summary = {"best_epoch": best_epoch, "best_validation_frame_f1": best_score,
               "variant": model.config.variant, "seed": seed}
    live.summary.update(summary)
    live.end()
    return summary
