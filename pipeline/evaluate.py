"""DVC stage `evaluate@<seed>` (a matrix over train.seeds): score one trained model.

Reads  data/train/seed_<seed>/checkpoints/best.pt (weights + the detector settings it was trained with),
       the feature store data/features/, the truth tables data/{realworld,synthetic}/.../events.tsv and clips.tsv,
       params.yaml (eval; data.source, real.syn_test_tsv and soundbank.held_out_test name the sets in the log and
       plots: `ifdsed.evaluation.set_titles`).
Writes results/eval/seed_<seed>/metrics.json (flat keys such as real_test/event_f1_macro, and where they come
       from: provenance/..., see ifdsed/evaluation/provenance.py; what the detector costs: cost/macs_per_clip,
       cost/parameters; the domain-gap probe on the encoder's output x, domain_gap_accuracy,
       domain_gap_accuracy_events and domain_gap_accuracy_events/<class>, and for a model with the IFD branch the
       same on its projection v, domain_gap_v_accuracy, domain_gap_v_accuracy_events and
       domain_gap_v_accuracy_events/<class>; the variant, with " (oracle IFD labels)" for the oracle arm;
       tracked by git; not a DVC metric: the summarize stage's headline is) and data/eval/seed_<seed>/:
       per_class.csv, predictions/<set>.tsv (DESED format), plots/ (per-class F1 bars, PSD-ROC curves, piano rolls
       with each class's frame probability).

Every set is predicted through the one `ifdsed.inference.detector.Detector` that `ifdsed predict` uses, in this
process; the sets are scored in as many processes as there are sets and cores (`score_predictions`), or in this
process where they hold fewer than SCORING_PROCESSES_FROM clips in all (starting the scoring processes, each
importing torch and sed_eval, costs more than such sets take to score; the figures are the same either way).
"""
import argparse
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from multiprocessing import get_context

import pandas as pd

from ifdsed import paths
from ifdsed.config import load_params
from ifdsed.devices import pick_device
from ifdsed.errors import run_stage
from ifdsed.evaluation.domain_gap import PREFIXES, domain_gap_report
from ifdsed.evaluation.cost import inference_cost
from ifdsed.evaluation.plots import per_class_bars, piano_roll, psd_roc
from ifdsed.evaluation.provenance import missing_clips, provenance
from ifdsed.evaluation.set_titles import set_title
from ifdsed.evaluation.sets import (evaluation_sets, import_reports, predict_and_embed_set, predict_set,
                                    score_predictions)
from ifdsed.features.store import check_store, load_feature_set
from ifdsed.inference.detector import Detector
from ifdsed.io import atomic
from ifdsed.io.tables import read_events, write_events

PER_CLASS_METRICS = ("event_f1", "segment_f1", "tagging_f1")
EMBEDDINGS = {"x": "the encoder's output x", "v": "the IFD projection v"}   # what the domain-gap probes read
PROBED_SETS = ("syn_test", "real_test")   # the sets whose frame embeddings the probes compare
SCORING_PROCESSES_FROM = 200              # clips in all the sets: fewer, and they are scored in this process


class InProcess(Executor):
    """An executor that runs each job at once, in this process (for sets too small to pay for other processes)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def scoring_executor(sets, features: dict) -> Executor:
    """Where the sets are scored: processes, one a set up to the cores, or this process for small sets. The
    processes fork from a forkserver, a fresh process (this one has started torch's threads, which a fork would
    copy half-made) that imports this stage's modules once for all of them: spawning each cost that import
    again, about 2 s a seed on a 2-core CPU."""
    if sum(len(features[eval_set.key].features) for eval_set in sets) < SCORING_PROCESSES_FROM:
        return InProcess()
    return ProcessPoolExecutor(min(len(sets), os.cpu_count() or 1), mp_context=get_context("forkserver"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    params = load_params()
    out = paths.eval_dir(args.seed)
    detector = Detector.from_checkpoint(paths.best_checkpoint(args.seed), pick_device(params.train.device))
    settings = detector.settings
    check_store(paths.FEATURES, settings.features, settings.classes)
    classes = list(settings.classes)

    metrics = {"seed": args.seed, "variant": detector.model.config.run_name, "best_epoch": detector.epoch}
    per_class, curves, results, scored, titles = {}, {}, {}, {}, {}
    reports = import_reports()                                 # imported sets: their missing audio
    sets = evaluation_sets()
    features = {eval_set.key: load_feature_set(paths.FEATURES, eval_set.store_name) for eval_set in sets}
    # Scoring (sed_eval, sed_scores_eval: Python, one core each) runs in other processes, one set each, while this
    # one predicts the next set and then probes the embeddings; the figures do not depend on where they are made.
    # The probed sets' embeddings (x, and v with IFD) come from the forward pass that predicts them.
    with scoring_executor(sets, features) as pool:
        jobs, embeddings = {}, {}
        for eval_set in sets:
            if eval_set.key in PROBED_SETS:
                predicted, embeddings[eval_set.key] = predict_and_embed_set(detector, features[eval_set.key])
            else:
                predicted = predict_set(detector, features[eval_set.key])
            jobs[eval_set.key] = pool.submit(score_predictions, predicted, eval_set.folder, params.eval)
        metrics.update(domain_gap_report(embeddings["syn_test"], embeddings["real_test"],
                                         features["syn_test"].frame_labels, features["real_test"].frame_labels,
                                         classes, seed=args.seed))
        done = {key: job.result() for key, job in jobs.items()}
    for eval_set in sets:
        titles[eval_set.key] = title = set_title(eval_set.key, params)
        result = done[eval_set.key]
        results[eval_set.key] = (features[eval_set.key], result)
        scored[eval_set.key] = (eval_set.folder, list(features[eval_set.key].index["filename"]),
                                missing_clips(reports, eval_set.imported_as))
        metrics.update({f"{eval_set.key}/{key}": value for key, value in result.metrics.items()
                        if "/" not in key})
        per_class[eval_set.key] = {f"{metric}/{name}": result.metrics.get(f"{metric}/{name}")
                                   for metric in PER_CLASS_METRICS for name in classes}
        curves[title] = result.curves
        write_events(result.predictions, out / "predictions" / f"{eval_set.key}.tsv")
        print(f"seed {args.seed} {title}: event F1 macro {result.metrics['event_f1_macro']:.3f}, "
              f"segment F1 {result.metrics['segment_f1_macro']:.3f}, "
              f"tagging F1 {result.metrics['tagging_f1_macro']:.3f}")

    for name in embeddings["syn_test"]:
        key = f"{PREFIXES[name]}_accuracy"
        events = metrics[f"{key}_events"]
        print(f"seed {args.seed}: a linear probe on {EMBEDDINGS[name]} tells synthetic from real-world frames with "
              f"balanced accuracy {metrics[key]:.3f} on all frames, "
              f"{'n/a' if events is None else f'{events:.3f}'} on event frames (0.5: no gap)")

    metrics.update(provenance(scored))
    store = results["real_test"][0].features                                           # [N, T, n_mels]
    metrics.update(inference_cost(detector.model, store.shape[1], store.shape[2]))

    rows = [{"class": name, **{f"{key}/{metric}": per_class[key][f"{metric}/{name}"]
                               for key in per_class for metric in PER_CLASS_METRICS}} for name in classes]
    with atomic.atomic_path(out / "per_class.csv") as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.4f")
    draw(out / "plots", rows, curves, results, titles, settings, classes, params.eval.piano_roll_clips)
    atomic.write_json(paths.eval_metrics(args.seed), metrics)
    print(f"seed {args.seed}: metrics -> {paths.eval_metrics(args.seed)}, tables and plots -> {out}/")


def draw(folder, rows: list[dict], curves: dict, results: dict, titles: dict, settings, classes: list[str],
         n_clips: int) -> None:
    """Per-class event F1 bars, PSD-ROC curves and piano rolls of the first real-world test clips (with each
    class's frame probability under the events); each set is shown by its title ({key: title})."""
    frame = pd.DataFrame(rows).set_index("class")
    per_class_bars(frame[[f"{key}/event_f1" for key in ("real_test", "syn_test")]].rename(
        columns=lambda c: titles[c.split("/")[0]]), "event-based F1 per class", folder / "per_class_event_f1.png")
    psd_roc(curves, folder / "psd_roc.png")
    features, result = results["real_test"]
    truth = read_events(paths.CLIP_SETS["realworld_test"] / "events.tsv")
    for row in range(min(n_clips, len(features.index))):
        name = features.index["filename"].iloc[row]
        log_mel = features.features[row].astype("float32")
        piano_roll(log_mel, settings.frame_hop, classes,
                   {"truth": truth[truth.filename == name],
                    "predicted": result.predictions[result.predictions.filename == name]},
                   f"{titles['real_test']}: {name}", folder / f"piano_roll_{row}.png",
                   frame_probs=result.frame_probs[row])                                 # [T, C]


if __name__ == "__main__":
    run_stage("evaluate", main)
