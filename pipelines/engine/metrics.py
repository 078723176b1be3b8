"""Metrics by name, computed with scikit-learn in model space.

Model space is what models predict: class probabilities (n, K) for classification metrics,
numbers for regression ones, on the metric's link scale (log1p prices for RMSLE, so RMSE there
is Kaggle's RMSLE). Each metric knows its direction and a smooth loss that blend weights are
fitted on: log loss for every classification metric (accuracy and AUC do not move an
optimiser), RMSE in model space for regression.

Metrics that score hard decisions on two classes (F1, MCC) or ordered classes (QWK) carry a decision
rule (pipelines/engine/decisions.py): a threshold or cut points fitted on out-of-fold predictions.
A member's CV scores its argmax labels; the run's final predictions are scored with rules fitted
on the other folds' rows, and the rule fitted on every row decides the test labels.
"""
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from sklearn import metrics as sk

from pipelines.core.errors import UserError
from pipelines.engine.decisions import CutPoints, Threshold

EPS = 1e-15  # Kaggle's clipping for log loss


def _labels(probabilities):
    return np.argmax(probabilities, axis=1)


def log_loss(labels, probabilities):
    """Kaggle's multi-class log loss: probabilities clipped to [eps, 1 - eps], rows renormalised."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), EPS, 1 - EPS)
    p /= p.sum(axis=1, keepdims=True)
    return float(sk.log_loss(np.asarray(labels), p, labels=np.arange(p.shape[1])))


def accuracy(labels, probabilities):
    return float(sk.accuracy_score(np.asarray(labels), _labels(probabilities)))


def roc_auc(labels, probabilities):
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape[1] == 2:
        return float(sk.roc_auc_score(np.asarray(labels), probabilities[:, 1]))
    return float(sk.roc_auc_score(np.asarray(labels), probabilities, multi_class="ovr",
                                  labels=np.arange(probabilities.shape[1])))


def macro_f1(labels, probabilities):
    return float(sk.f1_score(np.asarray(labels), _labels(probabilities), average="macro"))


def labels_scored(score):
    """A score of (true labels, predicted labels) as a score of probabilities: their argmax."""
    return lambda labels, probabilities: score(np.asarray(labels), _labels(probabilities))


def f1_labels(labels, predicted):
    """Binary F1 of the second class (1 of 0/1, True of False: class_order sorts it last)."""
    return float(sk.f1_score(labels, predicted, pos_label=1, zero_division=0.0))


def mcc_labels(labels, predicted):
    return float(sk.matthews_corrcoef(labels, predicted))


def qwk_labels(labels, predicted):
    return float(sk.cohen_kappa_score(labels, predicted, weights="quadratic"))


def balanced_accuracy(labels, probabilities):
    return float(sk.balanced_accuracy_score(np.asarray(labels), _labels(probabilities)))


def top_k(probabilities, k):
    """Each row's k most probable class indices, the most probable first (ties: the lower index)."""
    return np.argsort(-np.asarray(probabilities, dtype=np.float64), axis=1, kind="stable")[:, :k]


def map_at(k):
    """Mean average precision at k with one true label a row: 1 / rank of the label among the row's k
    most probable classes, 0 when it is not among them (Kaggle's MAP@k)."""
    def score(labels, probabilities):
        hits = top_k(probabilities, k) == np.asarray(labels)[:, None]
        return float((hits / np.arange(1, hits.shape[1] + 1)).sum(axis=1).mean())

    return score


def mean_auc(labels, probabilities):
    """Several binary targets (n, T) of 0 and 1 and their positive probabilities: the columns' mean AUC."""
    labels, probabilities = np.asarray(labels), np.asarray(probabilities, dtype=np.float64)
    return float(np.mean([sk.roc_auc_score(labels[:, t], probabilities[:, t]) for t in range(labels.shape[1])]))


def mean_log_loss(labels, probabilities):
    """Several binary targets: the columns' mean log loss (mean_auc's blend loss)."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), EPS, 1 - EPS)
    labels = np.asarray(labels)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def mcrmse(y_true, y_pred):
    """Several numbers a row (n, T): the mean over columns of each column's RMSE."""
    return float(sk.root_mean_squared_error(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64),
                                            multioutput="uniform_average"))


def r2(y_true, y_pred):
    return float(sk.r2_score(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)))


def positive_log(values):
    """log of a target that must be above 0 (MAPE divides by it): a clear error where one is not."""
    values = np.asarray(values, dtype=np.float64)
    if (values <= 0).any():
        raise UserError(f"mape divides by the target, and {int((values <= 0).sum())} of its values are 0 or less; "
                        "choose mae or rmse, or drop those rows")
    return np.log(values)


def mape(log_targets, log_predictions):
    """Mean absolute percentage error of values whose logs the models predict."""
    return float(sk.mean_absolute_percentage_error(np.exp(log_targets), np.exp(log_predictions)))


def rmse(y_true, y_pred):
    return float(sk.root_mean_squared_error(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)))


def mae(y_true, y_pred):
    return float(sk.mean_absolute_error(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)))


@dataclass(frozen=True)
class Metric:
    """A score over (targets, predictions) in model space.
    task: "classification" (targets are class indices, predictions probabilities), "regression", or
    "labels" (several binary targets a row, (n, T) of 0 and 1, predictions their positive probabilities).
    columns: it scores several target columns (targets and predictions (n, T)).
    to_model / from_model: the regression link between target values and model space."""

    name: str
    score: Callable[[np.ndarray, np.ndarray], float]
    greater_is_better: bool
    task: str = "regression"
    to_model: Callable | None = None
    from_model: Callable | None = None
    target_transform: str | None = None  # models learn this transform of the target; the score is on raw values
    floor: float | None = None  # the least valid target (0 for RMSLE): predictions below it are clipped to it
    decision: object | None = None  # a rule fitted on out-of-fold predictions (pipelines/engine/decisions.py)
    label_score: Callable | None = None  # with a decision: the score of (true labels, decided labels)
    binary: bool = False  # scores two classes only
    columns: bool = False  # scores several target columns

    @property
    def direction(self):
        return "maximize" if self.greater_is_better else "minimize"

    @property
    def classification(self):
        return self.task == "classification"

    def blend_loss(self, y, predictions):
        """The smooth loss blend weights minimise (lower is better)."""
        if self.task == "labels":
            return mean_log_loss(y, predictions)
        return log_loss(y, predictions) if self.classification else rmse(y, predictions)

    def target_to_model(self, values):
        return self.to_model(values) if self.to_model else values

    def model_to_target(self, values):
        return self.from_model(values) if self.from_model else values

    def clipped(self, predictions):
        """How many model-space predictions lie below the metric's floor (and are clipped to it)."""
        if self.floor is None:
            return 0
        return int((np.asarray(predictions, dtype=np.float64) < self.target_to_model(self.floor)).sum())


def expm1_from_zero(values):
    """expm1 of log1p-space predictions clipped at log1p(0): a value below 0 has no logarithm, and
    Kaggle's RMSLE refuses it (a blend of log-space members can dip below 0 where targets are near 0)."""
    return np.expm1(np.maximum(np.asarray(values, dtype=np.float64), 0.0))


def rmsle(log_targets, log_predictions):
    """RMSE in log1p space of predictions clipped at 0, as the submission holds them."""
    return rmse(log_targets, np.maximum(np.asarray(log_predictions, dtype=np.float64), 0.0))


def decided(name, label_score, decision, binary=False):
    """A classification metric of hard labels whose decision rule is fitted on out-of-fold rows."""
    return Metric(name, labels_scored(label_score), True, "classification", decision=decision,
                  label_score=label_score, binary=binary)


METRICS = {
    "accuracy": Metric("accuracy", accuracy, True, "classification"),
    "balanced_accuracy": Metric("balanced_accuracy", balanced_accuracy, True, "classification"),
    "log_loss": Metric("log_loss", log_loss, False, "classification"),
    "roc_auc": Metric("roc_auc", roc_auc, True, "classification"),
    "macro_f1": Metric("macro_f1", macro_f1, True, "classification"),
    "f1": decided("f1", f1_labels, Threshold(), binary=True),
    "mcc": decided("mcc", mcc_labels, Threshold(), binary=True),
    "qwk": decided("qwk", qwk_labels, CutPoints()),
    "rmse": Metric("rmse", rmse, False),
    "rmsle": Metric("rmsle", rmsle, False, to_model=np.log1p, from_model=expm1_from_zero, floor=0.0),
    "mae": Metric("mae", mae, False),
    "mape": Metric("mape", mape, False, to_model=positive_log, from_model=np.exp),
    "r2": Metric("r2", r2, True),
    "mean_auc": Metric("mean_auc", mean_auc, True, "labels", columns=True),
    "mcrmse": Metric("mcrmse", mcrmse, False, columns=True),
}
MAP_AT = "map@"  # map@K for any K: "map@3"


TARGET_TRANSFORMS = {"log1p": (np.log1p, expm1_from_zero, 0.0), "log": (np.log, np.exp, None)}  # link, inverse, floor


def with_target_transform(metric, transform):
    """`metric`, still scored on the raw target, for models that learn transform(target) and whose
    predictions go back through its inverse (log1p for prices scored by RMSE)."""
    if transform is None:
        return metric
    if transform not in TARGET_TRANSFORMS:
        raise UserError(f"target_transform={transform!r}: choose one of {', '.join(TARGET_TRANSFORMS)}")
    if metric.classification or metric.to_model is not None:
        raise UserError(f"target_transform={transform!r} does not go with {metric.name}: it is for regression "
                        "metrics scored on raw values (rmse, mae)")
    forward, inverse, floor = TARGET_TRANSFORMS[transform]
    raw_score = metric.score
    return replace(metric, score=lambda y, predictions: raw_score(inverse(y), inverse(predictions)),
                   to_model=forward, from_model=inverse, target_transform=transform, floor=floor)


def metric(name):
    if isinstance(name, str) and name.startswith(MAP_AT) and name[len(MAP_AT):].isdigit() and int(name[len(MAP_AT):]):
        return Metric(name, map_at(int(name[len(MAP_AT):])), True, "classification")
    if name not in METRICS:
        raise UserError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}, map@K (map@3)")
    return METRICS[name]

