"""Blending members' out-of-fold predictions: non-negative weights that sum to one, or a
second-level model (stacking), each with its own honest CV.

The weights minimise the metric's smooth blend loss (log loss for classification metrics, RMSE in
model space for regression) on out-of-fold predictions: accuracy or AUC would never move an
optimiser off its start. The blend reports the metric itself. The blend's own CV refits the
weights for each fold on the other folds' out-of-fold rows and scores them on the held-out fold,
so its reported score never saw the rows it is scored on.
"""
import time

import numpy as np

from pipelines.engine.crossval import CVResult
from pipelines.engine.folds import Fold


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
