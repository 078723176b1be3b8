"""Metrics by name, computed with scikit-learn in model space.

Model space is what models predict: class probabilities (n, K) for classification metrics,
numbers for regression ones, on the metric's link scale (log1p prices for RMSLE, so RMSE there
is Kaggle's RMSLE). Each metric knows its direction and a smooth loss that blend weights are
fitted on: log loss for every classification metric (accuracy and AUC do not move an
optimiser), RMSE in model space for regression.
"""
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from sklearn import metrics as sk

from pipelines.core.errors import UserError

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


def quadratic_kappa(labels, probabilities):
    return float(sk.cohen_kappa_score(np.asarray(labels), _labels(probabilities), weights="quadratic"))


def rmse(y_true, y_pred):
    return float(sk.root_mean_squared_error(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)))


def mae(y_true, y_pred):
    return float(sk.mean_absolute_error(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)))


@dataclass(frozen=True)
class Metric:
    """A score over (targets, predictions) in model space.
    task: "classification" (targets are class indices, predictions probabilities) or "regression".
    to_model / from_model: the regression link between target values and model space."""

    name: str
    score: Callable[[np.ndarray, np.ndarray], float]
    greater_is_better: bool
    task: str = "regression"
    to_model: Callable | None = None
    from_model: Callable | None = None
    target_transform: str | None = None  # models learn this transform of the target; the score is on raw values
    floor: float | None = None  # the least valid target (0 for RMSLE): predictions below it are clipped to it

    @property
    def direction(self):
        return "maximize" if self.greater_is_better else "minimize"

    @property
    def classification(self):
        return self.task == "classification"

    def blend_loss(self, y, predictions):
        """The smooth loss blend weights minimise (lower is better)."""
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


METRICS = {
    "accuracy": Metric("accuracy", accuracy, True, "classification"),
    "log_loss": Metric("log_loss", log_loss, False, "classification"),
    "roc_auc": Metric("roc_auc", roc_auc, True, "classification"),
    "macro_f1": Metric("macro_f1", macro_f1, True, "classification"),
    "qwk": Metric("qwk", quadratic_kappa, True, "classification"),
    "rmse": Metric("rmse", rmse, False),
    "rmsle": Metric("rmsle", rmsle, False, to_model=np.log1p, from_model=expm1_from_zero, floor=0.0),
    "mae": Metric("mae", mae, False),
}


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
    if name not in METRICS:
        raise UserError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")
    return METRICS[name]
