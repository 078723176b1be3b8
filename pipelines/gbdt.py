"""GBDT models in their libraries' own files: LightGBM's model text, XGBoost's JSON, CatBoost's
cbm. These hold trees and numbers only (loading runs no code from the file), and write and load
in a fraction of the time a skops file of the same trees takes."""
from pathlib import Path

from sklearn.base import clone

FILES = {"lightgbm": "model.lgbm.txt", "xgboost": "model.xgb.json", "catboost": "model.cbm"}


def library(estimator):
    """'lightgbm', 'xgboost' or 'catboost' for a model of those libraries (or one that says it wraps
    one, through `native_library`), else None."""
    found = getattr(estimator, "native_library", None) or type(estimator).__module__.split(".")[0]
    return found if found in FILES else None


def save(estimator, folder):
    """Write a fitted GBDT model into `folder`; returns its file's name."""
    kind = library(estimator)
    path = Path(folder) / FILES[kind]
    if kind == "lightgbm":
        estimator.booster_.save_model(path)
    elif kind == "xgboost":
        estimator.save_model(path)
    else:
        getattr(estimator, "model_", estimator).save_model(str(path), format="cbm")
    return path.name


def load(template, folder):
    """The fitted model saved in `folder`, for `template` (the member's unfitted estimator)."""
    kind = library(template)
    path = Path(folder) / FILES[kind]
    if kind == "lightgbm":
        return LightGBMModel(path, classifier=hasattr(template, "predict_proba"))
    if kind == "xgboost":
        model = clone(template)
        model.load_model(path)
        return model
    if hasattr(template, "model_from"):  # a wrapper of a CatBoost model (pipelines.members.CatBoostOnFrames)
        return template.model_from(path)
    return clone(template).load_model(str(path))


class LightGBMModel:
    """A saved LightGBM model, predicting as the scikit-learn estimator that trained it did."""

    def __init__(self, path, classifier):
        import lightgbm

        self.booster = lightgbm.Booster(model_file=path)
        self.classifier = classifier

    def predict(self, X):
        return self.booster.predict(X)

    def predict_proba(self, X):
        import numpy as np

        probabilities = self.booster.predict(X)
        return np.column_stack([1 - probabilities, probabilities]) if probabilities.ndim == 1 else probabilities
