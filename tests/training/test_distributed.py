"""Data-parallel training under torchrun (2 gloo processes on this CPU) against a single-process run, on the tiny
hand-made feature store of tests/helpers.py: the union of the ranks' shards is the single-process batch, the
gradient is the global-batch gradient, the DVC stage command starts torchrun itself, rank 0 alone writes, and a
killed run resumes to the same weights."""
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ifdsed.features.store import load_feature_set
from ifdsed.features.normalize import Normalizer
from ifdsed.models import checkpoint
from ifdsed.training.batches import MixedBatches
from ifdsed.training.loop import train_seed
from ifdsed.paths import RunPaths
from ifdsed import paths as layout
from tests.helpers import MELS, ROOT, TRAINING_SETS, toy_validation, training_params, write_toy_store

EPOCHS, BATCH = 3, 8


def project(path: Path, store: Path, processes: int) -> Path:
    """A working directory as the DVC stage sees it: params.yaml, data/features and the validation set's labels."""
    (path / "data").mkdir(parents=True)
    (path / "data/features").symlink_to(store)
    (path / layout.CLIP_SETS[layout.VALIDATION_SET]).parent.mkdir(parents=True)
    (path / layout.CLIP_SETS[layout.VALIDATION_SET]).symlink_to(toy_validation(store))
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["model"].update(channels=[8, 8, 8], ifd=True, sedb=True)
    raw["train"].update(seeds=[1], epochs=EPOCHS, batch_size=BATCH, synthetic_fraction=0.5, threads=1, lr=0.01,
                        processes=processes)
    (path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run(args, cwd, check=True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", PYTHONPATH=str(ROOT),
               PYTHONUNBUFFERED="1")
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done


def torchrun(script: Path, cwd: Path, check=True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", script], cwd,
               check)


def stage_paths(workdir: Path) -> RunPaths:
    """Where `python -m pipeline.train --seed 1` writes, in `workdir`."""
    return RunPaths(workdir / "data/train/seed_1", workdir / "results/train/seed_1")


def loss_history(paths: RunPaths, term: str = "total") -> list[float]:
    lines = (paths.live / f"plots/metrics/train/{term}.tsv").read_text().splitlines()[1:]
    return [float(line.split("\t")[-1]) for line in lines]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_toy_store(tmp_path_factory.mktemp("distributed") / "features", TRAINING_SETS, event_tables=True)


@pytest.fixture(scope="module")
def single(store, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("single") / "run"
    train_seed(training_params(epochs=EPOCHS, batch_size=BATCH), 1, store, run_dir,
               validation_folder=toy_validation(store))
    return run_dir


@pytest.fixture(scope="module")
def ddp(store, tmp_path_factory):
    """`python -m pipeline.train --seed 1` with train.processes = 2: the DVC stage command, unchanged."""
    workdir = project(tmp_path_factory.mktemp("ddp"), store, processes=2)
    done = run([sys.executable, "-m", "pipeline.train", "--seed", "1"], workdir)
    return workdir, done.stdout + done.stderr


def test_rank_shards_partition_the_single_process_batches(store):
    real, synthetic = load_feature_set(store, "realworld_weak"), load_feature_set(store, "synthetic_train")
    normalize = Normalizer(np.zeros(MELS), np.ones(MELS))
    whole = MixedBatches(real, synthetic, normalize, BATCH, 0.5, seed=3)
    shards = [MixedBatches(real, synthetic, normalize, BATCH, 0.5, seed=3, rank=r, world_size=2) for r in (0, 1)]
    for full, part0, part1 in zip(whole.epoch(2), shards[0].epoch(2), shards[1].epoch(2)):
        assert len(part0["features"]) == len(part1["features"]) == BATCH // 2
        assert part0["is_synthetic"].tolist() == part1["is_synthetic"].tolist() == [False, False, True, True]
        for key in full:
            together = torch.cat([part0[key], part1[key]])
            # full batch: real 0-3, synthetic 4-7; rank 0 takes every other clip of each part from the first
            order = [0, 2, 4, 6, 1, 3, 5, 7]
            assert torch.equal(together, full[key][order])
    with pytest.raises(ValueError, match="do not split evenly over 3 processes"):
        MixedBatches(real, synthetic, normalize, BATCH, 0.5, seed=3, rank=0, world_size=3)


def test_data_parallel_gradient_is_the_gradient_of_the_global_batch(tmp_path):
    """Each rank computes the losses over the gathered global batch and scales by the world size: after DDP's
    average, every parameter's gradient is the single-process gradient of the whole batch (BatchNorm on running
    statistics here, so that per-rank batch statistics do not enter)."""
    script = tmp_path / "gradient.py"
    script.write_text(textwrap.dedent(f"""
        import json, os, torch
        from torch.nn.parallel import DistributedDataParallel
        from ifdsed.models.config import ModelConfig
        from ifdsed.models.sed_model import SEDModel
        from ifdsed.training import distributed
        from ifdsed.training.step import LOSS_LABELS, LOSS_OUTPUTS

        torch.manual_seed(0)
        config = ModelConfig(n_mels=64, n_classes=10, channels=(4, 4, 4), ifd=True, sedb=True)
        model, reference = SEDModel(config).eval(), SEDModel(config).eval()
        reference.load_state_dict(model.state_dict())
        g = torch.Generator().manual_seed(1)
        tags = (torch.rand(8, 10, generator=g) > 0.6).float()
        batch = {{"features": torch.randn(8, 12, 64, generator=g), "clip_tags": tags,
                  "frame_labels": (torch.rand(8, 12, 10, generator=g) > 0.4).float() * tags[:, None],
                  "is_synthetic": torch.tensor([False] * 4 + [True] * 4), "clip_index": torch.arange(8) % 4}}
        with distributed.session("cpu") as ctx:
            shard = torch.cat([torch.arange(0, 4)[ctx.rank::2], torch.arange(4, 8)[ctx.rank::2]])
            local = {{key: value[shard] for key, value in batch.items()}}
            net = DistributedDataParallel(model)  # kept alive: its hooks average the gradients in backward
            outputs = net(local["features"])
            losses = model.losses(
                distributed.gather_batch({{k: outputs[k] for k in LOSS_OUTPUTS if k in outputs}}, ctx),
                distributed.gather_batch({{k: local[k] for k in LOSS_LABELS if k in local}}, ctx))
            (losses["total"] * ctx.world_size).backward()
            expected = reference.losses(reference(batch["features"]), batch)
            expected["total"].backward()
            result = {{"loss": [losses[k].item() for k in ("atp", "sedb", "ifd")],
                       "expected": [expected[k].item() for k in ("atp", "sedb", "ifd")],
                       "grad_diff": max((p.grad - q.grad).abs().max().item()
                                        for p, q in zip(model.parameters(), reference.parameters())),
                       "grad_scale": max(q.grad.abs().max().item() for q in reference.parameters())}}
            (__import__("pathlib").Path(r"{tmp_path}") / f"rank{{ctx.rank}}.json").write_text(json.dumps(result))
    """))
    torchrun(script, tmp_path)
    for rank in (0, 1):
        result = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert result["loss"] == pytest.approx(result["expected"], rel=1e-5)
        assert result["grad_scale"] > 1e-3 and result["grad_diff"] < 1e-6 * max(1.0, result["grad_scale"])


def test_torchrun_training_matches_a_single_process_run(ddp, single):
    workdir, output = ddp
    paths, single = stage_paths(workdir), RunPaths(single)
    assert "running under torchrun" in output and "--nproc_per_node=2" in output
    # rank 0 alone logs, validates and writes: one epoch line, one dvclive row and one checkpoint save per epoch
    epoch_lines = [line for line in output.splitlines() if line.startswith("seed 1 epoch ") and "/3: loss" in line]
    assert len(epoch_lines) == EPOCHS and all("(2 processes)" in line for line in epoch_lines)
    assert sorted(path.name for path in paths.checkpoints.iterdir()) == ["best.pt", "last.pt"]
    assert len(loss_history(paths)) == EPOCHS
    last = checkpoint.load(paths.last)
    assert last.epoch == EPOCHS and last.extra["world_size"] == 2 and len(last.extra["rng_per_rank"]) == 2
    assert checkpoint.load(paths.best).config.variant == "SEDB&IFD"
    # the same samples as the single-process run: 24 weak clips, 4 per step -> 6 steps of 8 clips per epoch
    ddp_metrics = json.loads((paths.live / "metrics.json").read_text())
    single_metrics = json.loads((single.live / "metrics.json").read_text())
    assert ddp_metrics["samples_seen"] == single_metrics["samples_seen"] == EPOCHS * 6 * BATCH
    assert ddp_metrics["processes"] == 2 and single_metrics["processes"] == 1
    assert "144 training samples" in output
    # finite losses, learning, and close to the single-process curve (BatchNorm statistics are per rank)
    ddp_losses, single_losses = loss_history(paths), loss_history(single)
    assert all(math.isfinite(value) for value in ddp_losses) and ddp_losses[-1] < ddp_losses[0]
    assert ddp_losses == pytest.approx(single_losses, rel=0.1)
    for term in ("atp", "sedb", "ifd"):
        assert all(math.isfinite(value) for value in loss_history(paths, term))


def test_a_killed_torchrun_training_resumes_to_the_same_weights(ddp, store, tmp_path):
    workdir = project(tmp_path / "resumed", store, processes=2)
    killer = tmp_path / "killed_in_epoch_3.py"
    killer.write_text(textwrap.dedent("""
        import sys
        import ifdsed.training.loop as training
        from pipeline.train import main

        scores, calls = training.validation_scores, []

        def killed_in_epoch_three(*args):  # rank 0 scores the validation set after every epoch
            calls.append(1)
            if len(calls) == 3:
                raise SystemExit("killed in epoch 3")
            return scores(*args)

        training.validation_scores = killed_in_epoch_three
        sys.argv = ["pipeline.train", "--seed", "1"]
        main()
    """))
    killed = torchrun(killer, workdir, check=False)
    assert killed.returncode != 0, killed.stdout + killed.stderr
    paths = stage_paths(workdir)
    assert checkpoint.load(paths.last).epoch == 2
    resumed = run([sys.executable, "-m", "pipeline.train", "--seed", "1"], workdir)
    assert "resuming" in resumed.stdout
    straight = checkpoint.load(stage_paths(ddp[0]).last)
    again = checkpoint.load(paths.last)
    assert again.extra["samples_seen"] == straight.extra["samples_seen"] == EPOCHS * 6 * BATCH
    straight_state, again_state = straight.model.state_dict(), again.model.state_dict()
    assert all(torch.equal(straight_state[key], again_state[key]) for key in straight_state)
    assert loss_history(paths) == loss_history(stage_paths(ddp[0]))
