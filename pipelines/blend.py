"""python -m pipelines.blend RUN_DIR RUN_DIR ...: finished runs of one competition blended into a
new run and a submission (weights fitted as a run blends its members: pipelines/engine/ensemble.py).
Runs blend only when their out-of-fold predictions come from the same rows and the same splits.
"""
import argparse
import os
import time
from pathlib import Path

import numpy as np

import competitions
from pipelines.core.data import read_csv
from pipelines.core.errors import UserError, cli_main
from pipelines.core.files import sha256
from pipelines.engine.crossval import CVResult
from pipelines.engine.decisions import decide
from pipelines.engine.ensemble import blend, equal_weights
from pipelines.engine.folds import Fold
from pipelines.engine.report import format_score, save_outputs, write_competition_submission
from pipelines.record.runfolder import RUNS_DIR, RunFolder, code_version, now, versions
from submissions.write import check_output_path, default_path

SAME = ("train_ids", "target", "folds", "excluded", "test_ids")  # what runs must share to be blended


def open_runs(paths):
    """The finished run folders, checked to be of one competition with the same rows and splits."""
    if len(paths) < 2:
        raise UserError("give two or more run folders to blend")
    folders = [RunFolder.open(path) for path in paths]
    for folder in folders:
        folder.require_complete("blend")
        folder.require_config("competition", "metric", "folds", "seed")
    names = {folder.config["competition"] for folder in folders}
    if len(names) > 1:
        raise UserError(f"these runs are of different competitions ({', '.join(sorted(names))}); blend runs of one")
    first = folders[0]
    for folder in folders[1:]:
        for key in SAME:
            if not np.array_equal(first.predictions(key), folder.predictions(key)):
                what = {"folds": "splits (other --folds or --seed)", "train_ids": "training rows",
                        "test_ids": "test rows", "target": "targets", "excluded": "rows kept out of training"}[key]
                raise UserError(f"{folder.path} and {first.path} have different {what}; only runs with the same "
                                "rows and splits can be blended")
    return folders


class BlendedDataset:
    """What the run outputs need of a dataset, from the runs' recorded predictions."""

    def __init__(self, folder):
        self.y = folder.predictions("target")
        self.train_ids, self.test_ids = folder.predictions("train_ids"), folder.predictions("test_ids")
        self.sample = read_csv(folder.path / "sample_submission.csv")
        if self.test_ids.dtype.kind in "UOT":  # ids read as text (image competitions): 00042 stays 00042
            self.sample = read_csv(folder.path / "sample_submission.csv", text=[self.sample.columns[0]])
        self.info = {"classes": folder.config.get("classes")}


def blend_runs(paths, submission_path=None, log=print):
    """Blend finished runs into a new run folder and a submission; returns (blend CVResult, path)."""
    start = time.perf_counter()
    folders = open_runs(paths)
    first = folders[0]
    competition = competitions.get(first.config["competition"])
    data = BlendedDataset(first)
    folds, excluded = first.predictions("folds"), first.predictions("excluded")
    splits = [(np.flatnonzero((folds != k) & (folds >= 0)), np.flatnonzero(folds == k))
              for k in range(folds.max() + 1)]
    labels = [f"{folder.path.parent.name}/{folder.path.name}" for folder in folders]
    results = {label: CVResult(competition.metric.name, [], folder.predictions("oof"), folds >= 0,
                               folder.predictions("test")) for label, folder in zip(labels, folders)}
    for label, folder in zip(labels, folders):
        metrics = folder.metrics
        log(f"{label}: CV {competition.metric.name} {format_score(metrics['mean'], metrics['std'])}")
    result, weights = blend(results, data.y, splits, competition.metric, excluded)
    for run_result in results.values():  # each run scored on the same folds, for the record
        run_result.folds = [Fold(k, float(competition.metric.score(data.y[rows], run_result.oof[rows])), 0.0)
                            for k, (_, rows) in enumerate(splits)]
    log("blend weights: " + ", ".join(f"{label} {weight:.3f}" for label, weight in weights.items())
        + (" (equal: one holdout split has no other folds to fit them on)" if equal_weights(splits) else ""))
    result = decide(result, data.y, splits, competition.metric, excluded, log)
    log(f"CV {competition.metric.name}: {format_score(result.mean, result.std)}")

    submission_path = Path(submission_path) if submission_path else default_path(competition.name)
    folder = RunFolder.create(competition.name, {
        "kind": "blend", "competition": competition.name, "metric": first.config["metric"],
        "members": labels, "folds": first.config["folds"], "seed": first.config["seed"],
        # relative to the folder that holds the blend's run folder, so runs/ can move as a whole
        "sources": [{"path": os.path.relpath(source.path.resolve(), (RUNS_DIR / competition.name).resolve()),
                     "status_sha256": sha256(source.path / "status.json")} for source in folders],
        "classes": first.config.get("classes"), "data_dir": first.config.get("data_dir"),
        "submission": str(submission_path), "started": now(), "code": code_version(competition.name),
        "versions": versions()})
    log(f"run folder: {folder.path}")
    try:
        path = write_competition_submission(competition, data.test_ids, result.test, data.info["classes"], data.sample,
                                            submission_path, log, decision=result.decision)
        save_outputs(folder, competition, data, result, results, weights, folds, excluded, time.perf_counter() - start)
        folder.complete(submission=str(path), submission_sha256=sha256(path))
    except BaseException as error:
        folder.fail(error)
        raise
    return result, path


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m pipelines.blend", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="finished runs of one competition")
    parser.add_argument("--submission", help="output CSV (default submissions/NAME-<UTC time>.csv)")
    parser.add_argument("--debug", action="store_true",
                        help="print the whole traceback of an error raised in a competition's own code")
    return parser


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.submission:
        check_output_path(args.submission)
    _, path = blend_runs(args.run_dirs, args.submission)
    print(path)


if __name__ == "__main__":
    main()
