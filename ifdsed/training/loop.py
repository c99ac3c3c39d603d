"""Training of one seed: mixed batches, Adam with step decay, model selection on validation, resumable.

Each batch holds `batch_size * (1 - synthetic_fraction)` real-world weak clips (clip tags only) and the rest
synthetic clips (tags and strong frame labels). An epoch is one pass over the real weak set (or over the
synthetic set when a batch holds no real clip); the clip order of every epoch comes from (seed, epoch), so a
resumed run sees exactly the batches an uninterrupted one would.

Model selection: after every epoch the validation set is scored (`selection_score`) and the best epoch's
weights are kept in best.pt; last.pt holds everything needed to resume (weights, optimizer, scheduler, epoch,
best score) and a fingerprint of the params and training data, so a checkpoint from other settings is never
resumed.

Data-parallel training (under torchrun, see ifdsed/training/distributed.py and docs/scaling.md), with W processes:
- Batches: every rank draws the same global batch order from (seed, epoch) and takes its shard of each batch:
  the real clips r, r + W, ... and the synthetic clips likewise (`MixedBatches(rank=, world_size=)`), so the
  ranks together see exactly the clips of the single-process epoch, `batch_size / W` clips per rank and step,
  in the same real / synthetic ratio. Both parts of a batch must split evenly over the W ranks.
- Losses: the outputs and labels of all ranks are gathered (`distributed.gather_batch`) and every loss term is
  computed over the global batch, as in a single process (IFD pairs span the ranks' clips); the loss is scaled by
  W so that DDP's gradient average is the gradient of the global-batch loss. The logged terms are therefore the
  same on every rank. BatchNorm stays plain BatchNorm, per rank, over the rank's shard (SyncBatchNorm has no CPU
  implementation, and one code path serves gloo and NCCL); DDP broadcasts rank 0's running statistics.
- Seeds: the same initial weights on every rank (torch.manual_seed(seed), and DDP broadcasts rank 0's anyway);
  afterwards each rank has its own random stream (dropout), saved per rank in last.pt.
- Rank 0 alone scores the validation set, logs with dvclive and writes checkpoints; the score is broadcast.
  A resumed run reads last.pt on rank 0 and broadcasts it, so ranks need no shared checkpoint folder.
- The number of processes enters the fingerprint: a checkpoint of a W-process run resumes only with W.
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

from ifdsed.training import distributed
from ifdsed.config import Params
from ifdsed.inference.settings import detector_extra, training_median_windows
from ifdsed.features.store import FeatureSet, LogMelConfig, load_feature_set, load_normalization, read_store_info
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
    """train.device -> a torch device: 'auto' is CUDA when present, else the CPU; 'cuda' or 'cuda:N' must exist."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(choice)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index or 0) >= count:
            raise RuntimeError(f"params.yaml: train.device: {choice!r}, but this machine has {count} CUDA device(s) "
                               "visible to torch: use 'auto' or 'cpu'" + (f", or cuda:0..{count - 1}" if count else ""))
    return device


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
                 synthetic_fraction: float, seed: int, rank: int = 0, world_size: int = 1):
        """rank, world_size: yield only this rank's shard of every batch (data-parallel training)."""
        if synthetic.frame_labels is None:
            raise ValueError(f"{synthetic.name} has no frame labels: the synthetic set must be strongly labelled")
        self.real, self.synthetic, self.normalize, self.seed = real, synthetic, normalize, seed
        self.n_synthetic = round(batch_size * synthetic_fraction)
        self.n_real = batch_size - self.n_synthetic
        self.rank, self.world_size = rank, world_size
        if self.n_real % world_size or self.n_synthetic % world_size:
            raise ValueError(
                f"train.batch_size {batch_size} with synthetic_fraction {synthetic_fraction} makes batches of "
                f"{self.n_real} real and {self.n_synthetic} synthetic clips, which do not split evenly over "
                f"{world_size} processes: choose a batch_size whose real and synthetic parts are both multiples "
                f"of {world_size}")
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
            if self.world_size > 1:   # this rank's shard: every world_size-th clip of each part
                real, synthetic = real[self.rank::self.world_size], synthetic[self.rank::self.world_size]
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


def data_fingerprint(store: Path, params: Params, seed: int, world_size: int = 1) -> str:
    """Hash of what a checkpoint depends on: model and train params, the seed, the number of data-parallel
    processes, and the feature store's index tables and normalisation statistics (which change whenever the
    training data change)."""
    digest = hashlib.sha256()
    # the device is left out: a run killed on one GPU (or the CPU) resumes on another
    settings = {"model": params.model.model_dump(), "train": params.train.model_dump(exclude={"seeds", "device"}),
                "postprocess": params.postprocess.model_dump(), "seed": seed, "classes": params.classes}
    if world_size > 1:
        settings["world_size"] = world_size
    digest.update(json.dumps(settings, sort_keys=True, default=list).encode())
    for path in sorted(store.glob("*.tsv")) + [store / "normalization.npz", store / "features.json"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class RunPaths:
    """Where one seed's training writes: checkpoints (kept across reruns to resume) and dvclive logs (in
    `live_dir`, or root/live). The pipeline keeps the logs under results/, tracked by git, so that queued DVC
    experiments, which see only git- and DVC-tracked files, find them."""
    root: Path
    live_dir: Path | None = None

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
        return self.live_dir if self.live_dir is not None else self.root / "live"


def _resume_state(paths: RunPaths, fingerprint: str, device: torch.device):
    """The last checkpoint when it was written by these settings and its logs are there; otherwise clear the
    run folder (a damaged last.pt, other params or data, or missing logs all mean starting afresh)."""
    if paths.last.is_file():
        try:
            saved = checkpoint.load(paths.last, map_location=device)
        except checkpoint.CheckpointError as error:
            saved, reason = None, f"unusable ({error})"
        else:
            reason = "written with other params or data"
            if saved.extra.get("fingerprint") == fingerprint:
                if (paths.live / "metrics.json").is_file():
                    return saved
                reason = f"its training logs are missing from {paths.live}"
        print(f"{paths.last}: {reason}; starting afresh")
    shutil.rmtree(paths.checkpoints, ignore_errors=True)
    shutil.rmtree(paths.live, ignore_errors=True)
    return None


def _resume(paths: RunPaths, fingerprint: str, device: torch.device, ctx: distributed.Context) -> dict | None:
    """What to resume from ({"state_dict", "optimizer", "epoch", "extra"}), or None to start afresh. In a
    data-parallel run rank 0 reads (or clears) the run folder and broadcasts the state to the other ranks."""
    if ctx.distributed:
        saved = _resume_state(paths, fingerprint, torch.device("cpu")) if ctx.is_main else None
    else:
        saved = _resume_state(paths, fingerprint, device)
    state = None if saved is None else {"state_dict": saved.model.state_dict(), "optimizer": saved.optimizer_state,
                                        "epoch": saved.epoch, "extra": saved.extra}
    return ctx.broadcast(state)


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"].cpu())  # load() maps tensors to the device
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


# What SEDModel.losses reads: gathered from every rank in a data-parallel run.
LOSS_OUTPUTS = ("clip_logits", "frame_probs", "sedb_logits", "ifd_embeddings")
LOSS_LABELS = ("clip_tags", "frame_labels", "is_synthetic")


def train_seed(params: Params, seed: int, store: Path, out_dir: Path, live_dir: Path | None = None) -> dict:
    """Train (or resume) one seed; returns the summary written to the dvclive metrics.

    In a process started by torchrun with WORLD_SIZE > 1 this is one rank of a data-parallel training (see the
    module docstring); otherwise an ordinary single-process training."""
    with distributed.session(params.train.device) as ctx:
        return _train_seed(params, seed, store, RunPaths(out_dir, live_dir), ctx)


def _train_seed(params: Params, seed: int, store: Path, paths: RunPaths, ctx: distributed.Context) -> dict:
    from dvclive import Live
    from torch.nn.parallel import DistributedDataParallel
    from tqdm import tqdm

    train = params.train
    torch.set_num_threads(train.threads)
    device = pick_device(train.device)
    if device.type == "cuda" and ctx.distributed:
        device = torch.device("cuda", ctx.local_rank)
    if ctx.is_main and ctx.distributed and ctx.world_size != train.processes:
        print(f"running on {ctx.world_size} processes (from the launcher); train.processes is {train.processes}")
    fingerprint = data_fingerprint(store, params, seed, ctx.world_size)
    real, synthetic = load_feature_set(store, REAL_TRAIN), load_feature_set(store, SYNTHETIC_TRAIN)
    validation = load_feature_set(store, VALIDATION)
    mean, std = load_normalization(store)
    normalize = Normalizer(mean, std)
    features = store_features(store)
    windows = training_median_windows(synthetic, params, features.frame_hop)
    detector = detector_extra(params, features, mean, std, windows)  # stored in every checkpoint
    batches = MixedBatches(real, synthetic, normalize, train.batch_size, train.synthetic_fraction, seed,
                           rank=ctx.rank, world_size=ctx.world_size)

    torch.manual_seed(seed)
    model = SEDModel(model_config(params, real.features.shape[-1])).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=train.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=train.lr_decay_every, gamma=train.lr_decay)
    if ctx.distributed:  # the same initial weights everywhere; from here on each rank its own random stream
        torch.manual_seed(int(np.random.SeedSequence([seed, ctx.rank]).generate_state(1)[0]))
    start_epoch, best_score, best_epoch, samples_seen = 0, -1.0, -1, 0
    saved = _resume(paths, fingerprint, device, ctx)
    if saved is not None:
        extra = saved["extra"]
        model.load_state_dict(saved["state_dict"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(extra["scheduler"])
        if ctx.distributed:
            _set_rng_state(extra["rng_per_rank"][ctx.rank], device)
        else:
            _set_rng_state({"cpu": extra["torch_rng"], **({"cuda": extra["cuda_rng"]} if "cuda_rng" in extra else {})},
                           device)
        start_epoch, best_score, best_epoch = saved["epoch"], extra["best_score"], extra["best_epoch"]
        samples_seen = extra.get("samples_seen", start_epoch * batches.steps * train.batch_size)
        if ctx.is_main:
            print(f"resuming {paths.last} after epoch {start_epoch}")
    # Every parameter takes part in every loss, so DDP needs no search for unused ones.
    net = (DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
           if ctx.distributed else model)

    live = (Live(str(paths.live), dvcyaml=False, save_dvc_exp=False, resume=saved is not None, report=None)
            if ctx.is_main else None)
    for epoch in range(start_epoch, train.epochs):
        net.train()
        sums: dict[str, float] = {}
        seen = 0
        for batch in tqdm(batches.epoch(epoch), total=batches.steps, desc=f"seed {seed} epoch {epoch + 1}",
                          unit="batch", leave=False, disable=not ctx.is_main):
            batch = {key: value.to(device) for key, value in batch.items()}
            outputs = net(batch["features"])
            seen += len(batch["features"])
            if ctx.distributed:  # the loss of the global batch; x W: DDP averages the ranks' gradients
                losses = model.losses(
                    distributed.gather_batch({key: outputs[key] for key in LOSS_OUTPUTS if key in outputs}, ctx),
                    distributed.gather_batch({key: batch[key] for key in LOSS_LABELS}, ctx))
                loss = losses["total"] * ctx.world_size
            else:
                losses = model.losses(outputs, batch)
                loss = losses["total"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
        scheduler.step()
        samples_seen += ctx.sum(seen)
        score = None
        if ctx.is_main:
            frame_probs, clip_probs = predict(model, validation.features, normalize, device)
            score = selection_score(frame_probs, clip_probs, validation.frame_labels)
        score = ctx.broadcast(score)
        rng_per_rank = ctx.gather_objects(_rng_state(device)) if ctx.distributed else None
        improved = score > best_score
        if improved:
            best_score, best_epoch = score, epoch + 1
        if not ctx.is_main:
            continue
        for key, total in sums.items():  # the same on every rank: the losses are over the global batch
            live.log_metric(f"train/{key}", total / batches.steps)
        live.log_metric("validation/frame_f1_macro", score)
        live.log_metric("lr", optimizer.param_groups[0]["lr"])
        if improved:
            checkpoint.save(paths.best, model, epoch=epoch + 1, extra={
                "fingerprint": fingerprint, "seed": seed, "validation_score": score, "detector": detector})
        extra = {"fingerprint": fingerprint, "seed": seed, "scheduler": scheduler.state_dict(),
                 "torch_rng": torch.get_rng_state(), "best_score": best_score, "best_epoch": best_epoch,
                 "detector": detector, "samples_seen": samples_seen, "world_size": ctx.world_size}
        if device.type == "cuda":
            extra["cuda_rng"] = torch.cuda.get_rng_state(device)
        if rng_per_rank is not None:
            extra["rng_per_rank"] = rng_per_rank
        checkpoint.save(paths.last, model, optimizer, epoch=epoch + 1, extra=extra)
        live.next_step()
        print(f"seed {seed} epoch {epoch + 1}/{train.epochs}: loss {sums['total'] / batches.steps:.4f}, "
              f"validation frame F1 {score:.4f}" + (f" ({ctx.world_size} processes)" if ctx.distributed else ""))
    summary = {"best_epoch": best_epoch, "best_validation_frame_f1": best_score,
               "variant": model.config.variant, "seed": seed, "samples_seen": samples_seen,
               "processes": ctx.world_size}
    if ctx.is_main:
        live.summary.update(summary)
        live.end()
    ctx.barrier()
    return summary
