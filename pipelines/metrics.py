"""Metric functions over (targets, predictions) in model space."""
import numpy as np


def rmse(y_true, y_pred):
    return float(np.sqrt(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2)))


def accuracy(labels, probabilities):
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(labels)))


def log_loss(labels, probabilities, eps=1e-15):
    """Kaggle's multi-class log loss: rows renormalised, probabilities clipped to [eps, 1 - eps]."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), eps, 1 - eps)
    p /= p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(p)), np.asarray(labels)])))
