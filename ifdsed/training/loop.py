"""Training of one seed: mixed batches (`ifdsed.training.batches`), Adam with step decay, model selection on
validation with early stopping (`ifdsed.training.selection`), resumable (`ifdsed.training.resume`).

`train_seed` is the loop: `_start` (data, model, optimizer, how a step runs, the validation labels; a resumed
state), then `_train_epochs` under an energy meter (`ifdsed.training.energy`, written to energy.json beside the
logs): per epoch, up to `train.epochs`, `_train_epoch` (batches made ahead by `ifdsed.training.prefetch`,
each through `ifdsed.training.step`, under the precision and compilation of `ifdsed.training.execution`),
`_validate` (both selection scores, through the same float32 `Detector` and post-processing as evaluation),
`_select` (the score named by `train.selection`: a better one makes best.pt, `train.patience` epochs in a row
without one stop the training), `_log_epoch` (dvclive) and `_save_epoch` (best.pt when the score improved, last.pt
always; both float32, whatever the training's precision, and both with the training-data record of
`ifdsed.models.training_data`: params data.source and the two training sets' sizes in the store). last.pt holds
the early-stopping count and whether the run stopped, so a killed run resumes exactly and a run that stopped early
returns its summary without training.

With model.mean_teacher (`ifdsed.training.mean_teacher`; single-process only): the teacher starts as a copy of the
model, runs in training mode on every batch, which holds `train.unlabelled_fraction` unlabelled clips besides the
labelled ones, and takes an EMA step after every optimizer step; the consistency weight ramps up over
`model.consistency_rampup` epochs of steps. Validation scores both; the teacher's score is the selection score
and best.pt holds the teacher's weights (the student's score is logged as validation/student_*); last.pt holds
both, so a killed run resumes to the same bytes.

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
- Rank 0 alone scores the validation set, logs with dvclive and writes checkpoints; the scores are broadcast, so
  every rank keeps the same best score and early-stopping count, and all stop at the same epoch.
  A resumed run reads last.pt on rank 0 and broadcasts it, so ranks need no shared checkpoint folder.
- The number of processes enters the fingerprint: a checkpoint of a W-process run resumes only with W.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ifdsed import paths as layout
from ifdsed.config import Params, ParamsError, model_config
from ifdsed.devices import pick_device
from ifdsed.features.normalize import Normalizer
from ifdsed.features.store import FeatureSet, load_feature_set, load_normalization, read_store_info, store_config
from ifdsed.inference.detector import Detector
from ifdsed.inference.settings import detector_extra, detector_settings, training_median_windows
from ifdsed.models import checkpoint
from ifdsed.models.sed_model import SEDModel
from ifdsed.models.training_data import KEY as TRAINING_DATA, TrainingData
from ifdsed.paths import RunPaths
from ifdsed.training import distributed
from ifdsed.training.augment import Augmentation, Augmenter
from ifdsed.training.batches import MixedBatches, unlabelled_per_batch
from ifdsed.training.diagnostics import PseudoLabelRecorder, encoder_gradient_norms
from ifdsed.training.energy import EnergyMeter, record
from ifdsed.training.execution import Execution
from ifdsed.training.mean_teacher import MeanTeacher, rampup
from ifdsed.training.oracle import ORACLE_EVENTS, oracle_frame_labels, with_oracle_labels
from ifdsed.training.prefetch import prefetched
from ifdsed.training.resume import data_fingerprint, resume, rng_state, set_rng_state
from ifdsed.training.selection import validation_events, validation_scores
from ifdsed.training.step import labelled_rows, optimisation_step

REAL_TRAIN, SYNTHETIC_TRAIN, VALIDATION = layout.REAL_TRAIN_SET, layout.SYNTHETIC_TRAIN_SET, layout.VALIDATION_SET


@dataclass
class Run:
    """Everything one seed's training works with, set up by `_start`."""
    params: Params
    seed: int
    paths: RunPaths
    ctx: distributed.Context
    device: torch.device
    execution: Execution          # precision, compilation and memory format of the training step
    fingerprint: str
    batches: MixedBatches
    validation: FeatureSet
    validation_events: pd.DataFrame   # the validation set's events.tsv, for the event-based selection score
    detector: dict                # the detector settings stored in every checkpoint
    training_data: TrainingData   # what the model is trained on, recorded in every checkpoint
    model: SEDModel
    validator: Detector           # the model as evaluation will run it, for the per-epoch validation score
    net: torch.nn.Module          # what the step calls: the model, in DistributedDataParallel, compiled, as set
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.StepLR
    scaler: torch.amp.GradScaler | None   # float16's loss scaler
    pseudo_labels: PseudoLabelRecorder    # the real clips' pseudo strong labels of each epoch
    augment: Augmenter                    # the robust-training options (none by default)
    oracle_labels: torch.Tensor | None    # model.ifd_labels oracle: the weak clips' hidden frame labels [N, T, C]
    teacher: MeanTeacher | None = None    # model.mean_teacher: the EMA teacher
    teacher_validator: Detector | None = None   # the teacher as evaluation will run it
    start_epoch: int = 0
    epochs_run: int = 0           # epochs trained so far (across resumes)
    best_score: float = -1.0      # of train.selection
    best_epoch: int = -1
    epochs_without_improvement: int = 0
    stopped_early: bool = False
    samples_seen: int = 0
    resumed: bool = False


def train_seed(params: Params, seed: int, store: Path, out_dir: Path, live_dir: Path | None = None,
               validation_folder: Path = layout.CLIP_SETS[VALIDATION], oracle_events: Path = ORACLE_EVENTS) -> dict:
    """Train (or resume) one seed; returns the summary written to the dvclive metrics.

    validation_folder: the validation set's clip-set folder (events.tsv, clips.tsv), the pipeline's by default.
    oracle_events: the simulated weak set's hidden timestamps, read only with model.ifd_labels oracle and the IFD
    branch on (`ifdsed.training.oracle`).
    In a process started by torchrun with WORLD_SIZE > 1 this is one rank of a data-parallel training (see the
    module docstring); otherwise an ordinary single-process training."""
    from dvclive import Live

    train = params.train
    with distributed.session(train.device) as ctx:
        run = _start(params, seed, store, RunPaths(out_dir, live_dir), validation_folder, oracle_events, ctx)
        live = (Live(str(run.paths.live), dvcyaml=False, save_dvc_exp=False, resume=run.resumed, report=None)
                if ctx.is_main else None)
        if run.stopped_early and ctx.is_main:
            print(f"seed {seed}: stopped early after epoch {run.epochs_run} (best epoch {run.best_epoch}); "
                  "nothing to train")
        to_train = not run.stopped_early and run.start_epoch < train.epochs
        meter = EnergyMeter(train.track_energy and ctx.is_main and to_train, run.device.type == "cuda")
        with meter:
            _train_epochs(run, live)
        summary = {"best_epoch": run.best_epoch, "best_validation_score": run.best_score,
                   "selection": train.selection, "epochs_run": run.epochs_run, "stopped_early": run.stopped_early,
                   "variant": run.model.config.run_name, "seed": seed, "samples_seen": run.samples_seen,
                   "processes": ctx.world_size, **run.execution.describe()}
        if ctx.is_main:
            live.summary.update(summary)
            live.end()
            why_not = meter.problem or ("not measured (train.track_energy: false)" if not train.track_energy
                                        else "not measured (nothing left to train)")
            energy = record(run.paths.energy, meter.session, run.resumed, run.device.type == "cuda", why_not)
            if energy is not None:
                print(f"seed {seed}: training used {energy['energy_kwh'] * 1000:.3f} Wh ({energy['method']})")
            elif meter.problem:
                print(f"seed {seed}: no energy measurement: {meter.problem}")
        ctx.barrier()
        return summary


def _train_epochs(run: Run, live) -> None:
    """The epochs left to train: each trained, validated, selected on, logged and saved; stops early as set."""
    ctx, train, seed = run.ctx, run.params.train, run.seed
    for epoch in range(run.start_epoch, train.epochs):
        if run.stopped_early:
            break
        losses = _train_epoch(run, epoch)
        scores = _validate(run)
        improved = _select(run, epoch, scores[train.selection])
        rng_per_rank = ctx.gather_objects(rng_state(run.device)) if ctx.distributed else None
        if ctx.is_main:
            _log_epoch(run, live, losses, scores)
            _save_epoch(run, epoch, scores[train.selection], improved, rng_per_rank)
            live.next_step()
            processes = f" ({ctx.world_size} processes)" if ctx.distributed else ""
            print(f"seed {seed} epoch {epoch + 1}/{train.epochs}: loss {losses['total']:.4f}, validation "
                  f"event F1 {scores['event_f1']:.4f}, frame F1 {scores['frame_f1']:.4f}"
                  f"{' (best)' if improved else ''}{processes}")
            if run.stopped_early:
                print(f"seed {seed}: stopping early: no better validation {train.selection} in "
                      f"{train.patience} epochs (best epoch {run.best_epoch})")


def _start(params: Params, seed: int, store: Path, paths: RunPaths, validation_folder: Path, oracle_events: Path,
           ctx: distributed.Context) -> Run:
    """Data, model, optimizer and schedule of a new training, or of the one last.pt resumes. Of the labels, only
    the training sets' (in the store) and the validation set's (in the store and `validation_folder`) are read,
    and `oracle_events` in the oracle arm only (model.ifd_labels oracle with the IFD branch)."""
    from torch.nn.parallel import DistributedDataParallel

    train = params.train
    torch.set_num_threads(train.threads)
    device = pick_device(train.device)
    if device.type == "cuda" and ctx.distributed:
        device = torch.device("cuda", ctx.local_rank)
    execution = Execution.from_params(train, device)
    if ctx.is_main and ctx.distributed and ctx.world_size != train.processes:
        print(f"running on {ctx.world_size} processes (from the launcher); train.processes is {train.processes}")
    real, synthetic = load_feature_set(store, REAL_TRAIN), load_feature_set(store, SYNTHETIC_TRAIN)
    validation = load_feature_set(store, VALIDATION)
    truth = validation_events(validation_folder, validation)
    config = model_config(params, real.features.shape[-1])
    unlabelled, n_unlabelled = _unlabelled_clips(params, config.mean_teacher, store, ctx)
    features = store_config(store)
    oracle = (oracle_frame_labels(oracle_events, real, params.classes, features.frame_hop)   # [N, T, C]
              if config.oracle_labels else None)
    fingerprint = data_fingerprint(store, params, seed, ctx.world_size, validation_folder,
                                   oracle_events if config.oracle_labels else None)
    mean, std = load_normalization(store)
    windows = training_median_windows(synthetic, params.classes, params.postprocess, features.frame_hop)
    detector = detector_extra(params.classes, params.postprocess, features, mean, std, windows)  # in every checkpoint
    batches = MixedBatches(real, synthetic, Normalizer(mean, std), train.batch_size, train.synthetic_fraction,
                           seed, rank=ctx.rank, world_size=ctx.world_size, unlabelled=unlabelled,
                           n_unlabelled=n_unlabelled)

    torch.manual_seed(seed)
    model = SEDModel(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=train.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=train.lr_decay_every, gamma=train.lr_decay)
    if ctx.distributed:  # the same initial weights everywhere; from here on each rank its own random stream
        torch.manual_seed(int(np.random.SeedSequence([seed, ctx.rank]).generate_state(1)[0]))
    # Every parameter takes part in every loss, so DDP needs no search for unused ones.
    net = execution.prepare(DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
                            if ctx.distributed else model)
    pseudo_labels = PseudoLabelRecorder(len(real.tags), real.features.shape[1], len(params.classes),
                                        model.config.ifd_theta, device)
    run = Run(params, seed, paths, ctx, device, execution, fingerprint, batches, validation, truth, detector,
              _training_data(params, store), model,
              Detector(model, detector_settings({"detector": detector}), device), net, optimizer, scheduler,
              execution.grad_scaler(), pseudo_labels,
              Augmenter(Augmentation(train.mixup, train.spec_augment, train.gain_filter), std, seed), oracle)
    if config.mean_teacher:
        run.teacher = MeanTeacher(model, config.mean_teacher_decay)
        run.teacher_validator = Detector(run.teacher.model, run.validator.settings, device)   # the same settings
    _restore(run, resume(paths, fingerprint, device, ctx))
    if ctx.is_main:
        print(f"seed {seed}: training {config.run_name} on {device}, {execution.describe()}")
        print(f"seed {seed}: {batches.describe()}")
    return run


def _unlabelled_clips(params: Params, mean_teacher: bool, store: Path,
                      ctx: distributed.Context) -> tuple[FeatureSet | None, int]:
    """The unlabelled set and how many of its clips each batch holds: (None, 0) without a mean teacher; a clear
    error when the store has no unlabelled set or the training is data-parallel."""
    if not mean_teacher:
        return None, 0
    if ctx.distributed:
        raise ParamsError("params.yaml: model.mean_teacher trains in one process: set train.processes 1")
    if layout.UNLABELLED_SET not in read_store_info(store)["sets"]:
        raise ParamsError(f"params.yaml: model.mean_teacher needs the unlabelled set, and the feature store {store} "
                          "has none: set realworld.unlabelled_clips above 0 (embedded data) or real.unlabelled_tsv "
                          "(data.source real: DESED's metadata/train/unlabel_in_domain.tsv) and rerun dvc repro")
    return (load_feature_set(store, layout.UNLABELLED_SET),
            unlabelled_per_batch(params.train.batch_size, params.train.unlabelled_fraction))


def _training_data(params: Params, store: Path) -> TrainingData:
    """The record every checkpoint carries: params data.source and the clip counts of the two training sets in
    the feature store's features.json (`store`)."""
    sets = read_store_info(store)["sets"]
    return TrainingData(params.data.source, int(sets[SYNTHETIC_TRAIN]["clips"]), int(sets[REAL_TRAIN]["clips"]))


def _restore(run: Run, saved: dict | None) -> None:
    """Load the state of an interrupted training (weights, optimizer, schedule, random state, progress)."""
    if saved is None:
        return
    extra = saved["extra"]
    run.model.load_state_dict(saved["state_dict"])
    run.optimizer.load_state_dict(saved["optimizer"])
    run.scheduler.load_state_dict(extra["scheduler"])
    if run.scaler is not None and "grad_scaler" in extra:
        run.scaler.load_state_dict(extra["grad_scaler"])
    if run.ctx.distributed:
        set_rng_state(extra["rng_per_rank"][run.ctx.rank], run.device)
    else:
        set_rng_state({"cpu": extra["torch_rng"], **({"cuda": extra["cuda_rng"]} if "cuda_rng" in extra else {})},
                      run.device)
    run.start_epoch, run.best_score, run.best_epoch = saved["epoch"], extra["best_score"], extra["best_epoch"]
    run.epochs_run = run.start_epoch
    run.epochs_without_improvement = extra["epochs_without_improvement"]
    run.stopped_early = extra["stopped_early"]
    run.samples_seen = extra.get("samples_seen",
                                 run.start_epoch * run.batches.steps * run.params.train.batch_size)
    if run.teacher is not None:
        run.teacher.load_state_dict(extra["teacher"])
    run.resumed = True
    if run.ctx.is_main:
        print(f"resuming {run.paths.last} after epoch {run.start_epoch}")


def _train_epoch(run: Run, epoch: int) -> dict[str, float]:
    """One pass of optimisation steps; returns each loss term's mean over the epoch's steps, and the diagnostics
    (`ifdsed.training.diagnostics`): the share of real frames with a pseudo label, and each loss term's gradient
    norm into the encoder on the epoch's first step."""
    from tqdm import tqdm

    ctx, config = run.ctx, run.model.config
    lambda_ifd = 0.0 if epoch < run.params.train.ifd_warmup else config.lambda_ifd   # IFD warm-up
    run.net.train()
    if run.teacher is not None:
        run.teacher.model.train()                      # batch statistics, as the student (the DESED baseline's)
    run.pseudo_labels.start_epoch()
    gradient_norms: dict[str, float] = {}
    sums: dict[str, torch.Tensor] = {}   # float64 on the device: no host synchronisation per step
    seen = 0
    epoch_batches = run.batches.epoch(epoch)
    if run.oracle_labels is not None:                  # the oracle arm: the weak clips' hidden frame labels for IFD
        epoch_batches = with_oracle_labels(epoch_batches, run.oracle_labels)
    batches = prefetched(epoch_batches, run.device, run.params.train.prefetch)
    for step, batch in enumerate(tqdm(batches, total=run.batches.steps, desc=f"seed {run.seed} epoch {epoch + 1}",
                                      unit="batch", leave=False, disable=not ctx.is_main)):
        batch = run.augment(batch, epoch, step)        # unchanged unless an option of train is on
        if step == 0 and ctx.is_main:   # this rank's shard in a data-parallel run
            gradient_norms = encoder_gradient_norms(run.model, labelled_rows(batch, batch.get("is_unlabelled")),
                                                    run.execution, lambda_ifd)
        weight = _consistency_weight(run, epoch, step)
        losses = optimisation_step(run.net, run.model, run.optimizer, batch, run.execution, run.scaler, ctx,
                                   lambda_ifd, [run.pseudo_labels], run.teacher, weight)
        seen += len(batch["features"])
        for key, value in losses.items():
            sums[key] = sums.get(key, 0.0) + value.double()
    run.scheduler.step()
    run.samples_seen += ctx.sum(seen)
    means = {key: float(total) / run.batches.steps for key, total in sums.items()}
    means["pseudo_label_share"] = run.pseudo_labels.share()
    means.update({f"encoder_grad_norm/{term}": norm for term, norm in gradient_norms.items()})
    means["lambda_ifd"] = lambda_ifd if config.ifd else 0.0
    if run.teacher is not None:
        means["consistency_weight"] = _consistency_weight(run, epoch, run.batches.steps - 1)   # the epoch's last
    return means


def _consistency_weight(run: Run, epoch: int, step: int) -> float:
    """The consistency loss's weight at this step: model.consistency_weight times the ramp-up over
    model.consistency_rampup epochs (0 without a mean teacher)."""
    config = run.model.config
    if run.teacher is None:
        return 0.0
    steps = run.batches.steps
    return config.consistency_weight * rampup(epoch * steps + step, config.consistency_rampup * steps)


def _validate(run: Run) -> dict[str, float]:
    """Both selection scores of the current weights on the validation set (`validation_scores`: rank 0 scores,
    every rank gets them), through the same `Detector` and post-processing as evaluation and prediction."""
    scores = None
    if run.ctx.is_main:
        scores = validation_scores(run.validator, run.validation, run.validation_events, run.params.eval)
        if run.teacher_validator is not None:   # the teacher's scores select; the student's are logged beside
            student = {f"student_{key}": value for key, value in scores.items()}
            scores = validation_scores(run.teacher_validator, run.validation, run.validation_events,
                                       run.params.eval) | student
    return run.ctx.broadcast(scores)


def _select(run: Run, epoch: int, score: float) -> bool:
    """Keep the best score and its epoch; count the epochs without a better one and stop the training when
    they reach train.patience before train.epochs. Every rank decides alike (the score is broadcast).
    Returns whether the score improved (best.pt is then written)."""
    train = run.params.train
    improved = score > run.best_score
    if improved:
        run.best_score, run.best_epoch, run.epochs_without_improvement = score, epoch + 1, 0
    else:
        run.epochs_without_improvement += 1
    run.epochs_run = epoch + 1
    run.stopped_early = (train.patience is not None and run.epochs_without_improvement >= train.patience
                         and run.epochs_run < train.epochs)
    return improved


def _log_epoch(run: Run, live, losses: dict[str, float], scores: dict[str, float]) -> None:
    """dvclive: every loss term (the same on every rank: the losses are over the global batch), both validation
    scores and the learning rate of this epoch."""
    for key, value in losses.items():
        live.log_metric(f"train/{key}", value)
    for key, value in scores.items():
        live.log_metric(f"validation/{key}_macro", value)
    live.log_metric("lr", run.optimizer.param_groups[0]["lr"])


def _save_epoch(run: Run, epoch: int, score: float, improved: bool, rng_per_rank: list | None) -> None:
    """best.pt when the score improved; the epoch's pseudo labels; last.pt always, last, with everything needed to
    resume (early stopping too)."""
    ctx = run.ctx
    selection = run.params.train.selection
    if improved:   # the teacher's weights where a mean teacher trains (its score selects)
        checkpoint.save(run.paths.best, run.teacher.model if run.teacher else run.model, epoch=epoch + 1, extra={
            "fingerprint": run.fingerprint, "seed": run.seed, "selection": selection, "validation_score": score,
            "detector": run.detector, TRAINING_DATA: run.training_data.to_dict()})
    extra = {"fingerprint": run.fingerprint, "seed": run.seed, "scheduler": run.scheduler.state_dict(),
             "torch_rng": torch.get_rng_state(), "selection": selection, "best_score": run.best_score,
             "best_epoch": run.best_epoch, "epochs_without_improvement": run.epochs_without_improvement,
             "stopped_early": run.stopped_early, "detector": run.detector, "samples_seen": run.samples_seen,
             "world_size": ctx.world_size, TRAINING_DATA: run.training_data.to_dict()}
    if run.device.type == "cuda":
        extra["cuda_rng"] = torch.cuda.get_rng_state(run.device)
    if run.scaler is not None:
        extra["grad_scaler"] = run.scaler.state_dict()
    if rng_per_rank is not None:
        extra["rng_per_rank"] = rng_per_rank
    if run.teacher is not None:
        extra["teacher"] = run.teacher.state_dict()
    run.pseudo_labels.save(run.paths.pseudo_labels / f"epoch_{epoch + 1:03d}.npz")
    checkpoint.save(run.paths.last, run.model, run.optimizer, epoch=epoch + 1, extra=extra)
