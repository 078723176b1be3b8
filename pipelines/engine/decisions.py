"""Decision rules that turn class probabilities into the labels a metric scores, fitted on out-of-fold
predictions: the argmax is rarely the best answer for F1 or MCC on imbalanced classes, nor for QWK on
ordered classes.

A rule is fitted with `fit(labels, probabilities, score)` -> parameters (a dict, kept in the run's
metrics.json) and applied with `apply(parameters, probabilities)` -> class indices. `cross_fitted`
scores a run's out-of-fold predictions honestly: each fold's labels come from a rule fitted on the
other folds' rows.
"""
from dataclasses import replace

import numpy as np


class Threshold:
    """Two classes: the second when its probability reaches `threshold` (the argmax is 0.5)."""

    def fit(self, labels, probabilities, score):
        positive = np.asarray(probabilities, dtype=np.float64)[:, 1]
        candidates = np.unique(np.concatenate([np.quantile(positive, np.linspace(0.005, 0.995, 199)), [0.5]]))
        scores = [score(labels, (positive >= t).astype(np.int64)) for t in candidates]
        return {"threshold": float(candidates[int(np.argmax(scores))])}

    def apply(self, parameters, probabilities):
        return (np.asarray(probabilities, dtype=np.float64)[:, 1] >= parameters["threshold"]).astype(np.int64)

    def describe(self, parameters):
        return f"the second class where its probability is at least {parameters['threshold']:.4f}"


class CutPoints:
    """Ordered classes: the expected class index (probabilities times 0..K-1) cut at K-1 points, fitted a
    point at a time on a grid between its neighbours (three passes; the argmax-like start is k + 0.5)."""

    passes, grid = 3, 41

    def fit(self, labels, probabilities, score):
        expected = self.expected(probabilities)
        cuts = np.arange(probabilities.shape[1] - 1) + 0.5
        best = score(labels, np.searchsorted(cuts, expected))
        for _ in range(self.passes):
            for j in range(len(cuts)):
                low = cuts[j - 1] if j else 0.0
                high = cuts[j + 1] if j + 1 < len(cuts) else probabilities.shape[1] - 1.0
                for value in np.linspace(low, high, self.grid)[1:-1]:
                    trial = cuts.copy()
                    trial[j] = value
                    found = score(labels, np.searchsorted(trial, expected))
                    if found > best:
                        best, cuts = found, trial
        return {"cuts": [float(c) for c in cuts]}

    def apply(self, parameters, probabilities):
        return np.searchsorted(np.asarray(parameters["cuts"]), self.expected(probabilities)).astype(np.int64)

    @staticmethod
    def expected(probabilities):
        probabilities = np.asarray(probabilities, dtype=np.float64)
        return probabilities @ np.arange(probabilities.shape[1])

    def describe(self, parameters):
        return "the expected class cut at " + ", ".join(f"{c:.3f}" for c in parameters["cuts"])


def cross_fitted(metric, y, oof, splits, usable):
    """Per-fold scores of decided labels: each fold decided by a rule fitted on the other folds' `usable`
    rows, then scored with the metric's label score."""
    scores = []
    for _, valid_rows in splits:
        others = usable.copy()
        others[valid_rows] = False
        rule = metric.decision.fit(y[others], oof[others], metric.label_score)
        scores.append(float(metric.label_score(y[valid_rows], metric.decision.apply(rule, oof[valid_rows]))))
    return scores


def decide(result, y, splits, metric, excluded, log=print):
    """`result` (a CVResult) scored with the metric's decision rule: each fold's labels decided by a rule
    fitted on the other folds' rows; the rule fitted on every row (result.decision) decides the test
    labels, where that CV beats the argmax's (as the better of blend and stack makes the submission).
    One holdout split leaves no other rows to fit on: its labels stay the argmax. A metric without a
    rule returns `result` as it is."""
    from pipelines.engine.report import format_score

    if metric.decision is None:
        return result
    if len(splits) == 1:
        log(f"decision: the argmax ({metric.name}'s rule is fitted on other folds' rows, and one split has none)")
        return result
    usable = result.validated & ~excluded
    scores = cross_fitted(metric, y, result.oof, splits, usable)
    rule = metric.decision.fit(y[usable], result.oof[usable], metric.label_score)
    decided = replace(result, folds=[replace(fold, score=score) for fold, score in zip(result.folds, scores)],
                      decision=rule)
    better = decided.mean > result.mean if metric.greater_is_better else decided.mean < result.mean
    log(f"decision: {metric.decision.describe(rule)}, fitted on the out-of-fold rows; CV {metric.name} "
        f"{format_score(decided.mean, decided.std)} with rules fitted on the other folds' rows, "
        f"{format_score(result.mean, result.std)} with the argmax; the {'rule' if better else 'argmax'} decides")
    return decided if better else result
