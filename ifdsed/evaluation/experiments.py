"""DVC experiments as the comparison and the study read them: the revisions `dvc exp show --json` lists, the
files of an experiment's git commit, and an archive of finished experiments kept in the repository.

Why an archive: an experiment lives in the git refs of the clone that ran it. A study whose experiments run
over several sessions or machines (the IFD study's 80-epoch comparison takes longer than a session on a 2-core
VM) would otherwise never have all of them in one clone. `archive_record` keeps what the study's tables and
curves read: the experiment's name, commit, params and every metrics file (as `dvc exp show` gives them), the
text of the git-tracked result files asked for (each seed's metrics files, results/summary.json, dvclive logs,
pseudo-label tables: since only results/metrics.json is a DVC metric, `result` reads the others from there), and
the machine that saved it; written as <archive>/<name>.json, it is read back by `experiment_revisions` beside
the live experiments, and `experiment_file` reads a file of either kind.

A long run can also be queued seed by seed, as experiments <name>-s<seed> of one seed each (`study.final queue
--per-seed`), so that a session's end loses one seed's training at most. `experiment_revisions` merges such
experiments into one revision named <name> (`merge_seed_runs`): the union of their metrics files, params whose
train.seeds lists every seed, and results/summary.json and results/metrics.json made again over all of them
by the summarize stage's own functions, so that every reader sees one experiment.
"""
from __future__ import annotations

import copy
import json
import platform
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from ifdsed import paths
from ifdsed.evaluation.summary import headline, summarize_run

ARCHIVE = Path("docs/ifd-study/experiments")   # the IFD study's archive (study.archive writes it)
SEED_RUN = re.compile(r"(?P<name>.+)-s(?P<seed>\d+)")   # one seed of experiment <name>


def show(all_commits: bool = False) -> list[dict]:
    """`dvc exp show --json` (with `all_commits`: --all-commits), parsed."""
    command = ["dvc", "exp", "show", "--json"] + (["--all-commits"] if all_commits else [])
    try:
        shown = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        raise SystemExit("`dvc` is not on PATH: activate the project's environment first "
                         "(make install; source .venv/bin/activate)") from None
    if shown.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` failed:\n{shown.stderr}")
    return json.loads(shown.stdout)


def all_revisions(entries: list[dict]) -> Iterator[dict]:
    """Every revision in `dvc exp show --json` output: the workspace, commits and their experiments."""
    for entry in entries:
        yield entry
        for experiment in entry.get("experiments") or []:
            yield from all_revisions(experiment.get("revs") or [])


def archived_revisions(archive: Path = ARCHIVE) -> list[dict]:
    """The records of <archive>/*.json, by name."""
    return [json.loads(path.read_text()) for path in sorted(archive.glob("*.json"))] if archive.is_dir() else []


PENDING = {"queued", "running", "failed"}   # DVC's executor states of an experiment that has no result (yet)


def live_experiments(pending: bool = False) -> list[dict]:
    """The experiment revisions of every commit in this clone: those that have finished, or with `pending`, only
    those queued, running or failed (their executor state)."""
    return [revision for entry in show(all_commits=True) for experiment in entry.get("experiments") or []
            if (((experiment.get("executor") or {}).get("state") in PENDING) == pending)
            for revision in experiment.get("revs") or []]


def experiment_revisions(archive: Path | None = ARCHIVE, merge: bool = True) -> list[dict]:
    """Each finished experiment of every commit (name, rev, data: params and metrics), then each archived
    experiment whose name no live one has (a study may span commits, sessions and machines); with `merge`, the
    one-seed runs of an experiment merged into one revision (merge_seed_runs)."""
    live = [revision for revision in live_experiments() if not revision.get("error")]
    found = list(live)
    if archive is not None:
        names = {revision.get("name") for revision in live}
        found += [record for record in archived_revisions(archive) if record["name"] not in names]
    return merge_seed_runs(found) if merge else found


def params_of(revision: dict) -> dict:
    """An experiment's params.yaml, as `dvc exp show` lists it."""
    return (((revision.get("data") or {}).get("params") or {}).get("params.yaml") or {}).get("data") or {}


def _metrics(revision: dict) -> dict:
    return (revision.get("data") or {}).get("metrics") or {}


def result(revision: dict, path: str | Path) -> dict | None:
    """A JSON result file of an experiment (a seed's metrics, the summary...): from the metrics `dvc exp show`
    lists when it is one of them (and in records archived when every result file was a DVC metric), else from
    the experiment's files (`experiment_file`); None if it has no such file."""
    path = Path(path).as_posix()
    if path in _metrics(revision):
        return (_metrics(revision)[path] or {}).get("data")
    text = experiment_file(revision, path)
    return None if text is None else json.loads(text)


def finished(revision: dict) -> bool:
    """Whether an experiment's summarize stage has run: `dvc exp show` lists its results/metrics.json."""
    return bool((_metrics(revision).get(paths.HEADLINE.as_posix()) or {}).get("data"))


def summary_of(revision: dict) -> dict | None:
    """An experiment's figures over seeds, results/summary.json (None before its summarize stage has run). Runs
    made when results/metrics.json held every figure have no summary.json: their results/metrics.json is it."""
    if not finished(revision):
        return None
    return result(revision, paths.SUMMARY) or _metrics(revision)[paths.HEADLINE.as_posix()]["data"]


# Params that never change a result (how many processes or threads, which GPU, prefetching, energy metering) and
# the two that name the variant: the rest must agree for two experiments' figures to be compared.
RUN_ONLY_PARAMS = re.compile(r".*\.workers|train\.(threads|device|prefetch|track_energy)")
VARIANT_PARAMS = ("model.ifd", "model.sedb", "model.mean_teacher")   # what tells variants apart


def flat_params(params: dict, prefix: str = "") -> dict[str, object]:
    """{"train.epochs": 18, ...} from params.yaml's nested sections (lists stay values)."""
    flat = {}
    for key, value in params.items():
        if isinstance(value, dict) and value:
            flat.update(flat_params(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def param_differences(base: dict, other: dict) -> dict[str, tuple[object, object]]:
    """{param: (base value, other value)} of the params in which two experiments differ, the variant's two and
    those that never change a result left out (a param one of them lacks: None)."""
    flat_base, flat_other = flat_params(base), flat_params(other)
    return {key: (flat_base.get(key), flat_other.get(key)) for key in sorted(set(flat_base) | set(flat_other))
            if key not in VARIANT_PARAMS and not RUN_ONLY_PARAMS.fullmatch(key)
            and flat_base.get(key) != flat_other.get(key)}


def merge_seed_runs(revisions: list[dict]) -> list[dict]:
    """`revisions` with the finished experiments <name>-s<seed> that ran seed <seed> alone replaced by one
    revision <name> over all of them (the newest run of each seed), unless a finished experiment <name> exists
    itself. The merged revision keeps its parts (`experiment_file` reads their files) and has no rev. Parts
    whose params differ other than in train.seeds are not one experiment: they stay apart, with a warning."""
    groups: dict[str, dict[int, dict]] = {}
    kept = []
    for revision in revisions:
        match = SEED_RUN.fullmatch(revision.get("name") or "")
        seeds = (params_of(revision).get("train") or {}).get("seeds")
        if match and seeds == [int(match["seed"])] and finished(revision):
            newest = groups.setdefault(match["name"], {}).get(seeds[0])
            if newest is None or (revision["data"].get("timestamp") or "") > (newest["data"].get("timestamp") or ""):
                groups[match["name"]][seeds[0]] = revision
        else:
            kept.append(revision)
    whole = {revision.get("name") for revision in kept if finished(revision)}
    for name, by_seed in groups.items():
        parts = [by_seed[seed] for seed in sorted(by_seed)]
        if name in whole or not _same_experiment(name, parts):
            kept += parts
        else:
            kept.append(_merged(name, parts))
    return kept


def _same_experiment(name: str, parts: list[dict]) -> bool:
    def without_seeds(params: dict) -> str:
        return json.dumps({**params, "train": {**params["train"], "seeds": None}}, sort_keys=True)
    if len({without_seeds(params_of(part)) for part in parts}) == 1:
        return True
    print(f"experiments: warning: {', '.join(part['name'] for part in parts)} are named as runs of one "
          f"experiment {name} but their params differ in more than train.seeds: not merged")
    return False


def _merged(name: str, parts: list[dict]) -> dict:
    """One revision over finished one-seed runs of the same params: their metrics files, and the summary
    made again over all of them as the summarize stage makes it."""
    seeds = [params_of(part)["train"]["seeds"][0] for part in parts]
    params = copy.deepcopy(params_of(parts[0]))
    params["train"]["seeds"] = seeds
    summaries = {paths.HEADLINE.as_posix(), paths.SUMMARY.as_posix()}
    metrics = {path: entry for part in parts for path, entry in _metrics(part).items() if path not in summaries}
    per_seed = []
    for seed, part in zip(seeds, parts):   # what the summarize stage reads of each seed
        diagnostics, scores = (result(part, path) for path in (paths.diagnostics(seed) / "metrics.json",
                                                                 paths.eval_metrics(seed)))
        if not (diagnostics and scores):
            raise ValueError(f"experiments: {name}: the run of seed {seed} has a summary but no scores")
        per_seed.append({**diagnostics, **scores})
    summary = summarize_run(per_seed)
    metrics[paths.SUMMARY.as_posix()] = {"data": summary}
    metrics[paths.HEADLINE.as_posix()] = {"data": headline(summary)}
    timestamp = max((part["data"].get("timestamp") or "") for part in parts)
    return {"name": name, "rev": None, "parts": parts, "error": None,
            "data": {"timestamp": timestamp, "params": {"params.yaml": {"data": params}}, "metrics": metrics}}


def experiment_file(revision: dict, path: str) -> str | None:
    """The text of `path` in an experiment: from its record when archived, from the disk for the workspace, else
    from its git commit (None if it has no such file)."""
    if "files" in revision:
        return revision["files"].get(path)
    if "parts" in revision:   # merged one-seed runs: the part that has it (a per-seed file: only one has it)
        return next((text for part in revision["parts"] if (text := experiment_file(part, path)) is not None), None)
    if revision.get("rev") == "workspace":
        return Path(path).read_text() if Path(path).is_file() else None
    if not revision.get("rev"):
        return None
    done = subprocess.run(["git", "show", f"{revision['rev']}:{path}"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def machine() -> dict:
    """The CPU, its vector instructions (torch's kernel choice: AVX2, AVX512; native bfloat16 or not), Python and
    torch of this machine: training results on a CPU differ in their last bits from one kernel path to another,
    and two CPUs may share a model name ("AMD EPYC") but not their instructions, so an archived experiment says
    where it was saved."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    record = {"cpu": cpu, "python": platform.python_version(), "torch": None}
    try:
        import torch
    except ImportError:
        return record
    from ifdsed.devices import native_bfloat16
    return {**record, "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "native_bfloat16": native_bfloat16(torch.device("cpu"))}


def cpu_label(record: dict) -> str:
    """'AMD EPYC (AVX512, native bfloat16)' from a machine record; records saved before the kernel path was
    kept give the model name alone."""
    if "cpu_capability" not in record:
        return record["cpu"]
    bfloat16 = "native bfloat16" if record.get("native_bfloat16") else "no native bfloat16"
    return f"{record['cpu']} ({record['cpu_capability']}, {bfloat16})"


def machines(revision: dict) -> list[str]:
    """The CPU each run of an experiment trained on, one entry per run (a merged experiment's parts): an archived
    run's from its record; a live one's is this machine's (assumed: it ran in this clone, not `dvc exp pull`ed)."""
    if "parts" in revision:
        return [cpu for part in revision["parts"] for cpu in machines(part)]
    return [cpu_label(revision.get("machine") or machine())]


def result_files(seeds: Iterable[int]) -> list[str]:
    """The JSON result files of an experiment that `dvc exp show` does not list (only results/metrics.json is a
    DVC metric): results/summary.json, and each seed's training log summary, energy, scores and diagnostics."""
    per_seed = [path for seed in seeds for path in (paths.train_logs(seed) / "metrics.json",
                                                    paths.train_logs(seed) / "energy.json",
                                                    paths.eval_metrics(seed), paths.diagnostics(seed) / "metrics.json")]
    return [path.as_posix() for path in [paths.SUMMARY, *per_seed]]


def archive_record(revision: dict, kept_files: Iterable[str]) -> dict:
    """What the archive keeps of a finished experiment: name, commit, timestamp (DVC's: this machine's local
    time, no zone; `archived_utc` says when the record was made, in UTC), params and metrics, the text of its
    `result_files` and of each of `kept_files` it has, and this machine (save it on the machine that ran it)."""
    data = revision.get("data") or {}
    seeds = (params_of(revision).get("train") or {}).get("seeds") or []
    wanted = dict.fromkeys([*result_files(seeds), *kept_files])
    files = {path: text for path in wanted if (text := experiment_file(revision, path)) is not None}
    return {"name": revision["name"], "rev": revision["rev"], "machine": machine(), "files": files,
            "archived_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "data": {key: data.get(key) for key in ("timestamp", "params", "metrics")}}
