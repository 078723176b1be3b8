"""Blending members' out-of-fold predictions with non-negative weights that sum to one.

The weights minimise the competition's metric on out-of-fold predictions. The blend's own CV
refits the weights for each fold on the other folds' out-of-fold rows and scores them on the
held-out fold, so its reported score never saw the rows it is scored on.
"""
import time

import numpy as np
from scipy.optimize import minimize

from .crossval import CVResult, Fold, cross_validate, excluded_rows, split


def fit_weights(predictions, y, metric):
    """Convex weights (one per member) minimising the metric of sum_m w_m * predictions[m]."""
    n = len(predictions)
    if n == 1:
        return np.ones(1)
    sign = -1.0 if metric.greater_is_better else 1.0

    def loss(weights):
        return sign * metric.score(y, np.tensordot(weights, predictions, axes=1))

    start = np.full(n, 1.0 / n)
    solution = minimize(loss, start, method="SLSQP", bounds=[(0.0, 1.0)] * n,
                        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}])
    weights = np.clip(solution.x if solution.success else start, 0.0, None)
    return weights / weights.sum()


def blend(results, y, splits, metric, excluded=None):
    """(CVResult of the blend, weights by member name) from members' CVResults on the same splits.
    `excluded` rows (those the members never train on) are not used to fit weights either."""
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
    weights = fit_weights(oof[:, usable], y[usable], metric)
    result = CVResult(metric.name, folds, blended, validated, np.tensordot(weights, test, axes=1))
    return result, dict(zip(names, weights.tolist()))


def cross_validate_members(competition, dataset, params, folds=5, seed=0, on_fold=None, log=print):
    """Every selected member through the same folds, then their blend if there are several.
    on_fold(name, Fold) runs after each fold. Returns (result, {name: CVResult}, weights or None)."""
    members = competition.selected_members(params)
    results = {}
    for name, member in members.items():
        report = (lambda fold, name=name: on_fold(name, fold)) if on_fold else None
        results[name] = cross_validate(competition, dataset, params, folds=folds, seed=seed, on_fold=report,
                                       member=member)
        if len(members) > 1:
            log(f"{name}: CV {competition.metric.name} {results[name].mean:.5f} ± {results[name].std:.5f}")
    if len(members) == 1:
        return results[name], results, None
    splits = split(competition.splitter(folds, seed), dataset, folds)
    result, weights = blend(results, dataset.y, splits, competition.metric, excluded_rows(competition, dataset))
    log("blend weights: " + ", ".join(f"{name} {weight:.3f}" for name, weight in weights.items()))
    return result, results, weights
