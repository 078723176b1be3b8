"""GBDT models: early stopping on an inner split of the training rows, and their libraries' own
files (LightGBM's model text, XGBoost's JSON, CatBoost's cbm), which hold trees and numbers only
(loading runs no code from the file) and write and load in a fraction of a skops file's time."""
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import clone

from pipelines.core.data import take

FILES = {"lightgbm": "model.lgbm.txt", "xgboost": "model.xgb.json", "catboost": "model.cbm"}


def library(estimator):
    """'lightgbm', 'xgboost' or 'catboost' for a model of those libraries (or one that says it wraps
    one, through `native_library`), else None."""
    found = getattr(estimator, "native_library", None) or type(estimator).__module__.split(".")[0]
    return found if found in FILES else None


@dataclass(frozen=True)
class EarlyStop:
    """Boosting rounds chosen on `fraction` of the training rows held out (stratified for classes,
    drawn with `seed`): training stops `patience` rounds after the held-out loss last improved.
    The fold's validation rows, which score the model, are never used for it."""

    fraction: float = 0.15
    patience: int = 100
    seed: int = 0
    retrain: bool = False  # then train again on every training row, for the chosen rounds / (1 - fraction)
    retrain_rows: int = 250_000  # ... when there are at most this many: above, the held-out rows add little,
    # and training again would double a large table's time

    def split(self, y, classification):
        """(rows to train on, rows to stop on)."""
        from sklearn.model_selection import train_test_split

        rows = np.arange(len(y))
        stratify = y if classification and np.bincount(y).min() >= 2 else None
        train, held = train_test_split(rows, test_size=self.fraction, random_state=self.seed, stratify=stratify)
        if classification:  # a class seen once stays with the rows trained on (the model must know every class)
            lonely = np.isin(y[held], np.setdiff1d(np.unique(y), y[train]))
            train, held = np.sort(np.concatenate([train, held[lonely]])), held[~lonely]
        return train, held


def fit_boosted(estimator, X, y, stop=None, patience=0, seconds=None):
    """`estimator` (a LightGBM, XGBoost or CatBoost model) fitted on (X, y); with `stop` (X_stop,
    y_stop), boosting stops when the loss there has not improved for `patience` rounds, and with
    `seconds`, when that much time has passed (a time limit: the rounds then depend on the machine).
    Returns (fitted, rounds kept, or None without early stopping)."""
    kind = library(estimator)
    deadline = None if seconds is None else time.perf_counter() + seconds
    if kind == "lightgbm":
        import lightgbm

        def out_of_time(env):
            if deadline is not None and time.perf_counter() > deadline:
                raise lightgbm.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

        callbacks = [out_of_time] + ([lightgbm.early_stopping(patience, verbose=False)] if stop else [])
        with warnings.catch_warnings():  # LightGBM 4.7 renames eval_set; 4.0 to 4.6 know only eval_set
            warnings.filterwarnings("ignore", "The argument 'eval_set' is deprecated")
            estimator.fit(X, y, eval_set=[stop] if stop else None, callbacks=callbacks)
        return estimator, int(estimator.best_iteration_ or estimator.n_estimators_) if stop else None
    if kind == "xgboost":
        import xgboost

        class OutOfTime(xgboost.callback.TrainingCallback):
            def after_iteration(self, model, epoch, evals_log):
                return deadline is not None and time.perf_counter() > deadline

        estimator.set_params(early_stopping_rounds=patience if stop else None, callbacks=[OutOfTime()])
        estimator.fit(X, y, eval_set=[stop] if stop else None, verbose=False)
        estimator.set_params(callbacks=None)  # a callback of this call, not part of the model
        return estimator, int(estimator.best_iteration) + 1 if stop else None

    class InTime:  # CatBoost asks after each round whether to go on
        def after_iteration(self, info):
            return deadline is None or time.perf_counter() <= deadline

    if stop:
        estimator.fit(X, y, eval_set=stop, early_stopping_rounds=patience, callbacks=[InTime()])
        return estimator, int(getattr(estimator, "model_", estimator).get_best_iteration()) + 1
    estimator.fit(X, y, callbacks=[InTime()])
    return estimator, None


def boosted_rounds(estimator):
    """How many rounds a fitted LightGBM, XGBoost or CatBoost model boosted (a deadline may cut them short)."""
    kind = library(estimator)
    if kind == "lightgbm":
        return int(estimator.booster_.current_iteration())
    if kind == "xgboost":
        return int(estimator.get_booster().num_boosted_rounds())
    return int(getattr(estimator, "model_", estimator).tree_count_)


def fit_stopped(estimator, X, y, early_stop=None, classification=False, seconds=None):
    """(fitted, rounds chosen or None, the model kept): `estimator` boosted on (X, y) with `early_stop`
    (EarlyStop: rounds chosen on its held-out rows, then, with `retrain`, every row trained for those
    rounds scaled up) within `seconds` in all. A retraining that cannot finish its rounds in the time left
    (judged from the stopping phase's pace, or cut short by the deadline) gives way to the stopped
    model: "retrained" or "stopped" says which was kept (None without early stopping)."""
    if early_stop is None:
        fitted, rounds = fit_boosted(estimator, X, y, seconds=seconds)
        return fitted, rounds, None
    started = time.perf_counter()
    rows, held = early_stop.split(y, classification)
    stopped, rounds = fit_boosted(estimator, take(X, rows), y[rows], (take(X, held), y[held]), early_stop.patience,
                                  seconds)
    if not early_stop.retrain or len(y) > early_stop.retrain_rows:
        return stopped, rounds, "stopped"
    wanted = max(1, round(rounds / (1 - early_stop.fraction)))  # the held-out rows back, for as many rounds
    left = None
    if seconds is not None:
        spent = time.perf_counter() - started
        left = seconds - spent
        pace = spent / max(1, boosted_rounds(stopped)) / (1 - early_stop.fraction)  # seconds a round on every row
        if pace * wanted > left:
            return stopped, rounds, "stopped"
    retrained, _ = fit_boosted(with_rounds(estimator, wanted), X, y, seconds=left)
    if boosted_rounds(retrained) < wanted:  # the deadline cut it short: fewer trees than the stopped model chose
        return stopped, rounds, "stopped"
    return retrained, rounds, "retrained"


def with_rounds(estimator, rounds):
    """A copy of the unfitted `estimator` that boosts exactly `rounds` rounds."""
    estimator = clone(estimator)
    if library(estimator) != "catboost":
        return estimator.set_params(n_estimators=rounds)
    prefix = "catboost__" if "catboost" in estimator.get_params(deep=False) else ""  # CatBoostOnFrames
    return estimator.set_params(**{f"{prefix}iterations": rounds})


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
