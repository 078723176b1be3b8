"""Blending out-of-fold predictions with non-negative weights that sum to one: a run's members,
or, as `python -m pipelines.blend RUN_DIR RUN_DIR ...`, finished runs of one competition.

The weights minimise the metric's smooth blend loss (log loss for classification metrics, RMSE in
model space for regression) on out-of-fold predictions: accuracy or AUC would never move an
optimiser off its start. The blend reports the metric itself. The blend's own CV
refits the weights for each fold on the other folds' out-of-fold rows and scores them on the
held-out fold, so its reported score never saw the rows it is scored on. Runs blend only when
their out-of-fold predictions come from the same rows and the same splits.
"""
import argparse
import os
import time
from pathlib import Path

import numpy as np

import competitions
from submissions.write import check_output_path, default_path

from .crossval import CVResult
from .data import read_csv
from .errors import UserError, cli_main
from .files import sha256
from .folds import Fold
from .report import format_score, save_outputs, write_competition_submission
from .runfolder import RUNS_DIR, RunFolder, code_version, now, versions


def fit_weights(predictions, y, metric):
    """Convex weights (one per member) minimising the metric's blend loss of sum_m w_m * predictions[m]."""
    from scipy.optimize import minimize

    n = len(predictions)
    if n == 1:
        return np.ones(1)

    def loss(weights):
        return metric.blend_loss(y, np.tensordot(weights, predictions, axes=1))

    start = np.full(n, 1.0 / n)
    solution = minimize(loss, start, method="SLSQP", bounds=[(0.0, 1.0)] * n,
                        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}])
    weights = np.clip(solution.x if solution.success else start, 0.0, None)
    return weights / weights.sum()


def blend(results, y, splits, metric, excluded=None):
    """(CVResult of the blend, weights by member name) from members' CVResults on the same splits.
    `excluded` rows (those the members never train on) are not used to fit weights either.
    With one holdout there are no other folds to fit weights on: the score and the submission
    both blend with equal weights (equal_weights(splits) tells)."""
    names = list(results)
    oof = np.stack([results[name].oof for name in names])
    test = np.stack([results[name].test for name in names])
    validated = np.logical_and.reduce([results[name].validated for name in names])
    usable = validated & ~excluded if excluded is not None else validated
    blended = np.full(oof.shape[1:], np.nan)
    folds = []
    for index, (_, valid_rows) in enumerate(splits):
        start = time.perf_counter()
        others = usable.copy()
        others[valid_rows] = False
        weights = fit_weights(oof[:, others], y[others], metric) if others.any() else np.full(len(names), 1 / len(names))
        blended[valid_rows] = np.tensordot(weights, oof[:, valid_rows], axes=1)
        score = float(metric.score(y[valid_rows], blended[valid_rows]))
        folds.append(Fold(index, score, time.perf_counter() - start))
    weights = (np.full(len(names), 1 / len(names)) if equal_weights(splits)
               else fit_weights(oof[:, usable], y[usable], metric))
    result = CVResult(metric.name, folds, blended, validated, np.tensordot(weights, test, axes=1))
    return result, dict(zip(names, weights.tolist()))


def stack_inputs(predictions, classification):
    """Members' predictions (members, rows[, classes]) as a second level's inputs: log probabilities
    for classes (their log-odds, for two), the numbers themselves for regression."""
    predictions = np.asarray(predictions, dtype=np.float64)
    if not classification:
        return predictions.T
    logs = np.log(np.clip(predictions, 1e-6, 1.0))
    if logs.shape[-1] == 2:
        return (logs[..., 1] - logs[..., 0]).T
    return np.concatenate(list(logs), axis=1)


def second_level(classification, seed):
    """A simple model over the members' predictions: a logistic regression, or a ridge regression."""
    from sklearn.linear_model import LogisticRegression, RidgeCV

    if classification:
        return LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    return RidgeCV(alphas=(0.01, 0.1, 1.0, 10.0))


def stack(results, y, splits, metric, excluded=None, seed=0):
    """(CVResult, fitted model) of a second-level model on the members' out-of-fold predictions, on
    the same nested rule as the blend: each fold is predicted by a model fitted on the other folds'
    rows; the fitted model (on every usable row) predicts the test set."""
    names = list(results)
    oof = stack_inputs(np.stack([results[name].oof for name in names]), metric.classification)
    test = stack_inputs(np.stack([results[name].test for name in names]), metric.classification)
    validated = np.logical_and.reduce([results[name].validated for name in names])
    usable = validated & ~excluded if excluded is not None else validated

    def fitted(rows):
        return second_level(metric.classification, seed).fit(oof[rows], y[rows])

    n_classes = results[names[0]].oof.shape[1] if metric.classification else 0

    def predict(model, X):
        return second_level_predict(model, X, n_classes)

    stacked = np.full(results[names[0]].oof.shape, np.nan)
    folds = []
    for index, (_, valid_rows) in enumerate(splits):
        start = time.perf_counter()
        others = usable.copy()
        others[valid_rows] = False
        stacked[valid_rows] = predict(fitted(others), oof[valid_rows])
        folds.append(Fold(index, float(metric.score(y[valid_rows], stacked[valid_rows])), time.perf_counter() - start))
    final = fitted(usable)
    return CVResult(metric.name, folds, stacked, validated, predict(final, test)), final


def second_level_predict(model, X, n_classes):
    """A fitted second level's predictions: numbers, or probabilities over all `n_classes` classes."""
    if not n_classes:
        return model.predict(X)
    full = np.zeros((len(X), n_classes))
    full[:, model.classes_] = model.predict_proba(X)
    return full


def stacked_test(model, predictions, classification, n_classes):
    """The test predictions of a run's fitted second level from its members' (in its order)."""
    return second_level_predict(model, stack_inputs(np.stack(predictions), classification), n_classes)


def equal_weights(splits):
    """One holdout split: weights fitted on it would be scored on the rows they were fitted on."""
    return len(splits) == 1


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
                                            submission_path, log)
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
