"""dvc.yaml against the code: every stage's deps cover every project module its command imports (so a change
there reruns the stage), and its data paths are the ones `ifdsed.paths` gives the code."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from ifdsed import paths

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ifdsed", "pipeline")


def module_file(name: str) -> Path | None:
    """The project file of a dotted module name (a package's __init__.py), or None outside the project."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Dotted names of every module `path` imports, at any depth in the file (function-level imports too)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def import_closure(module: str) -> set[Path]:
    """Project files run by `python -m module`: the module, what it imports, recursively, and the __init__.py
    of every package on the way (Python runs them on import)."""
    todo, seen = [module], set()
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            file = module_file(".".join(parts[:depth]))
            if file is not None and file not in seen:
                seen.add(file)
                todo.extend(imported_modules(file))
    return seen


def stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def covered(file: Path, deps: list[str]) -> bool:
    relative = file.relative_to(ROOT).as_posix()
    return any(relative == dep or relative.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_deps_cover_every_module_its_command_runs(name):
    stage = stages()[name]
    module = re.match(r"python -m ([\w.]+)", stage["cmd"]).group(1)
    deps = [dep if isinstance(dep, str) else next(iter(dep)) for dep in stage["deps"]]
    missing = sorted(f.relative_to(ROOT).as_posix() for f in import_closure(module) if not covered(f, deps))
    assert not missing, f"dvc.yaml: stage {name!r} runs these files but does not list them in deps: {missing}"


def test_the_closure_follows_function_level_and_relative_imports():
    closure = {f.relative_to(ROOT).as_posix() for f in import_closure("pipeline.train")}
    assert "ifdsed/training/loop.py" in closure          # imported inside main(), after the relaunch decision
    assert "ifdsed/models/sed_model.py" in closure
    bank = {f.relative_to(ROOT).as_posix() for f in import_closure("ifdsed.soundbank.bank")}
    assert "ifdsed/soundbank/manifest.py" in bank and "ifdsed/errors.py" in bank   # `from .x` and `from ..x`


def test_data_paths_in_dvc_yaml_are_the_code_s():
    spec = stages()
    outs = {name: [out if isinstance(out, str) else next(iter(out)) for out in stage.get("outs", [])]
            for name, stage in spec.items()}
    assert outs["soundbank"] == [paths.SOUNDBANK.as_posix()]
    assert outs["synthesize"] == [paths.SYNTHETIC.as_posix()]
    assert outs["realworld"] == [paths.REALWORLD.as_posix()]
    assert outs["features"] == [paths.FEATURES.as_posix()]
    assert outs["extra_sets"] == [paths.EXTRA.as_posix()] and paths.EXTRA_INDEX.parent == paths.EXTRA
    for stage in ("features", "evaluate"):
        assert paths.EXTRA.as_posix() in spec[stage]["deps"]
    seed = "${item.seed}"
    per_seed = lambda path: path.as_posix().replace("seed_0", f"seed_{seed}")  # noqa: E731
    assert outs["train"][:2] == [per_seed(paths.checkpoints(0)), per_seed(paths.pseudo_labels(0))]
    assert per_seed(paths.pseudo_labels(0)) in spec["diagnose"]["deps"]
    assert [next(iter(p)) for p in spec["diagnose"]["plots"]] == [per_seed(paths.diagnostics(0) / "pseudo_labels.tsv")]
    # the one DVC metrics file is the headline, so that `dvc exp show` stays readable; every other result file is
    # an output that git tracks (cache: false), read by ifdsed compare and the study from an experiment's commit
    assert [stage for stage in spec if "metrics" in spec[stage]] == ["summarize"]
    assert [next(iter(m)) for m in spec["summarize"]["metrics"]] == [paths.HEADLINE.as_posix()]
    untracked = {stage: [next(iter(o)) for o in spec[stage]["outs"] if isinstance(o, dict)
                         and next(iter(o.values())).get("cache") is False] for stage in spec}
    assert untracked["train"] == [per_seed(paths.train_logs(0) / name) for name in ("metrics.json", "energy.json")]
    assert untracked["evaluate"] == [per_seed(paths.eval_metrics(0))]
    assert untracked["diagnose"] == [per_seed(paths.diagnostics(0) / "metrics.json")]
    assert untracked["summarize"] == [paths.SUMMARY.as_posix(), paths.SUMMARY_PER_CLASS.as_posix()]
    assert per_seed(paths.eval_dir(0) / "per_class.csv") in outs["evaluate"]
    # the data each stage reads is another stage's output
    for stage in ("train", "evaluate"):
        assert paths.FEATURES.as_posix() in spec[stage]["deps"]
    for stage in ("synthesize", "realworld"):
        assert paths.SOUNDBANK.as_posix() in spec[stage]["deps"]


def test_the_train_stage_depends_on_the_hidden_timestamps_only_in_the_oracle_arm():
    """The one dep that model.ifd_labels picks: its pseudo folder for the default, paths.HIDDEN for oracle; no
    other train dep reaches the hidden folder (or the whole real-world folder, which holds it)."""
    deps = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["train"]["deps"]
    chosen = [dep for dep in deps if "${model.ifd_labels}" in dep]
    assert len(chosen) == 1
    resolved = {value: Path(chosen[0].replace("${model.ifd_labels}", value)) for value in ("pseudo", "oracle")}
    assert resolved["oracle"] == paths.HIDDEN
    assert resolved["pseudo"].parent == paths.HIDDEN.parent and resolved["pseudo"] != paths.HIDDEN
    others = [Path(dep) for dep in deps if dep not in chosen]
    assert not [dep for dep in others if dep in (paths.REALWORLD, paths.WEAK_FRAME_LABELS)
                or paths.HIDDEN.is_relative_to(dep) or dep.is_relative_to(paths.WEAK_FRAME_LABELS)]
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert params["model"]["ifd_labels"] == "pseudo"
