"""K-fold cross-validation: features and model fitted on each fold's training rows only."""
import time
from dataclasses import dataclass, field

import numpy as np
import pytorch_lightning as pl
from sklearn.model_selection import (
    KFold,
    ShuffleSplit,
    StratifiedKFold,
    StratifiedShuffleSplit,
)

from .data import take
from .errors import UserError


def kfold(folds, seed):
    """Shuffled K-fold; folds=1 is a single 80/20 holdout split."""
    if folds == 1:
        return ShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
    return KFold(n_splits=folds, shuffle=True, random_state=seed)


def stratified_kfold(folds, seed):
    if folds == 1:
        return StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
    return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)


@dataclass
class Fold:
    index: int
    score: float
    seconds: float
    history: list = field(default_factory=list)


@dataclass
class CVResult:
    metric_name: str
    folds: list
    oof: np.ndarray          # out-of-fold predictions in model space (NaN where never validated)
    validated: np.ndarray    # rows that had an out-of-fold prediction
    test: np.ndarray         # test predictions averaged over the fold models

    @property
    def scores(self):
        return np.array([fold.score for fold in self.folds])

    @property
    def mean(self):
        return float(self.scores.mean())

    @property
    def std(self):
        return float(self.scores.std())


def split(splitter, dataset, folds):
    try:
        return list(splitter.split(np.zeros(len(dataset.y)), dataset.y))
    except ValueError as error:
        raise UserError(f"cannot make {folds} folds of {len(dataset.y)} training rows ({error}); use fewer --folds") from None


def excluded_rows(competition, dataset, rows=None):
    """Boolean mask over `rows` (default: all) of the rows the competition keeps out of training."""
    rows = np.arange(len(dataset.y)) if rows is None else rows
    if competition.exclude_from_training is None:
        return np.zeros(len(rows), dtype=bool)
    return np.asarray(competition.exclude_from_training(take(dataset.X, rows), dataset.y[rows]), dtype=bool)


def training_rows(competition, dataset, rows):
    """The fold's training rows less those the competition excludes from training."""
    return rows[~excluded_rows(competition, dataset, rows)]


def fit_fold(member, dataset, params, train_rows, valid_rows, callbacks=()):
    """Fit features and model on train_rows; predict valid_rows and the test set."""
    features = member.features(dataset, params)
    X_train = features.fit_transform(take(dataset.X, train_rows), dataset.y[train_rows])
    X_valid = features.transform(take(dataset.X, valid_rows))
    model = member.model(params)
    model.fit(X_train, dataset.y[train_rows], validation=(X_valid, dataset.y[valid_rows]), callbacks=callbacks)
    return model, model.predict(X_valid), model.predict(features.transform(dataset.X_test))


def cross_validate(competition, dataset, params, folds=5, seed=0, fold_callbacks=None, on_fold=None, member=None):
    """K-fold CV of one member (default: the competition's only or first selected model).
    fold_callbacks(index) gives Lightning callbacks for that fold's Trainer;
    on_fold(Fold) runs after each fold (it may raise to stop early, e.g. a pruned trial)."""
    member = member or next(iter(competition.selected_members(params).values()))
    splits = split(competition.splitter(folds, seed), dataset, folds)
    oof = test = None
    validated = np.zeros(len(dataset.y), dtype=bool)
    results = []
    for index, (train_rows, valid_rows) in enumerate(splits):
        start = time.perf_counter()
        pl.seed_everything(seed + index, verbose=False)
        callbacks = fold_callbacks(index) if fold_callbacks else ()
        train_rows = training_rows(competition, dataset, train_rows)
        model, valid_pred, test_pred = fit_fold(member, dataset, params, train_rows, valid_rows, callbacks)
        if oof is None:
            oof = np.full((len(dataset.y),) + valid_pred.shape[1:], np.nan)
            test = np.zeros_like(test_pred, dtype=np.float64)
        oof[valid_rows] = valid_pred
        validated[valid_rows] = True
        test += test_pred / len(splits)
        history = model.history_.epochs if hasattr(model, "history_") else []
        score = float(competition.metric.score(dataset.y[valid_rows], valid_pred))
        fold = Fold(index, score, time.perf_counter() - start, history)
        results.append(fold)
        if on_fold:
            on_fold(fold)
    return CVResult(competition.metric.name, results, oof, validated, test)
