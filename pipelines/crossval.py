"""K-fold cross-validation: features and model fitted on each fold's training rows only.

Every member runs through the same splits, fold by fold. With a run folder, each finished
(member, fold) is saved at once (features, model, predictions, logs) and a resumed run loads
it instead of training it again; with `refit`, each member is also fitted once on all
training rows and those models predict the test set.
"""
import time
from dataclasses import dataclass, field

import numpy as np
import pytorch_lightning as pl
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    ShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
)

from .data import take
from .errors import UserError
from .trainer import logged_epochs, make_loggers


def _holdout_or_kfold(folds, seed, holdout, kfold):
    if folds == 1:
        return holdout(n_splits=1, test_size=0.2, random_state=seed)
    return kfold(n_splits=folds, shuffle=True, random_state=seed)


def kfold(folds, seed):
    """Shuffled K-fold; folds=1 is a single 80/20 holdout split."""
    return _holdout_or_kfold(folds, seed, ShuffleSplit, KFold)


def stratified_kfold(folds, seed):
    return _holdout_or_kfold(folds, seed, StratifiedShuffleSplit, StratifiedKFold)


def group_kfold(folds, seed):
    """Shuffled K-fold over groups: no group spans two folds."""
    return _holdout_or_kfold(folds, seed, GroupShuffleSplit, GroupKFold)


class FirstSplit:
    """The first split of a K-fold splitter: a holdout of about 1/K of the rows."""

    def __init__(self, splitter):
        self.splitter = splitter

    def split(self, X, y=None, groups=None):
        yield next(self.splitter.split(X, y, groups))


def stratified_group_kfold(folds, seed):
    if folds == 1:
        return FirstSplit(StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed))
    return StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)


def default_splitter(classification, grouped):
    """Stratified for classification, by group when rows come in groups."""
    return {(False, False): kfold, (True, False): stratified_kfold,
            (False, True): group_kfold, (True, True): stratified_group_kfold}[bool(classification), bool(grouped)]


@dataclass
class Fold:
    index: int
    score: float
    seconds: float
    history: list = field(default_factory=list)
    resumed: bool = False


@dataclass
class CVResult:
    metric_name: str
    folds: list
    oof: np.ndarray          # out-of-fold predictions in model space (NaN where never validated)
    validated: np.ndarray    # rows that had an out-of-fold prediction
    test: np.ndarray         # test predictions: the fold models' average, or the refit model's

    @property
    def scores(self):
        return np.array([fold.score for fold in self.folds])

    @property
    def mean(self):
        return float(self.scores.mean())

    @property
    def std(self):
        return float(self.scores.std())


def split(splitter, dataset, folds, groups=None):
    """The (train rows, validation rows) of each fold; `groups` (one per training row) keep groups whole."""
    try:
        return list(splitter.split(np.zeros(len(dataset.y)), dataset.y, groups))
    except ValueError as error:
        raise UserError(f"cannot make {folds} folds of {len(dataset.y)} training rows ({error}); use fewer --folds") from None


def fold_of_rows(splits, n_rows):
    """The fold that validates each row (-1: never validated, e.g. outside a holdout)."""
    folds = np.full(n_rows, -1)
    for index, (_, valid_rows) in enumerate(splits):
        folds[valid_rows] = index
    return folds


def excluded_rows(competition, dataset, rows=None):
    """Boolean mask over `rows` (default: all) of the rows the competition keeps out of training."""
    rows = np.arange(len(dataset.y)) if rows is None else rows
    if competition.exclude_from_training is None:
        return np.zeros(len(rows), dtype=bool)
    return np.asarray(competition.exclude_from_training(take(dataset.X, rows), dataset.y[rows]), dtype=bool)


def training_rows(competition, dataset, rows):
    """The fold's training rows less those the competition excludes from training."""
    return rows[~excluded_rows(competition, dataset, rows)]


def fit_features(recipe, dataset, shared, train_rows, valid_rows=None):
    """(fitted features, training, validation and test inputs): `recipe` fitted on train_rows only.
    A recipe sees the shared parameters only, so every member that uses it can share its fit."""
    features = recipe(dataset, shared)
    X_train = features.fit_transform(take(dataset.X, train_rows), dataset.y[train_rows])
    X_valid = None if valid_rows is None else features.transform(take(dataset.X, valid_rows))
    return features, X_train, X_valid, features.transform(dataset.X_test)


def fit_fold(member, dataset, view, train_rows, valid_rows=None, callbacks=(), loggers=(), prepared=None):
    """Fit features (unless `prepared` by fit_features) and model on train_rows; predict valid_rows
    (if any) and the test set. `view`: the member's parameters (Competition.member_params)."""
    features, X_train, X_valid, X_test = prepared or fit_features(member.features, dataset, view, train_rows,
                                                                  valid_rows)
    validation = None if X_valid is None else (X_valid, dataset.y[valid_rows])
    model = member.model(view)
    model.fit(X_train, dataset.y[train_rows], validation=validation, callbacks=callbacks, loggers=loggers)
    valid_pred = None if X_valid is None else model.predict(X_valid)
    return features, model, valid_pred, model.predict(X_test)


def n_classes(competition, dataset):
    return len(dataset.info.get("classes") or ()) if competition.metric.classification else 0


def competition_splits(competition, dataset, folds, seed):
    """The competition's splits of the training rows (keeping groups whole when it declares them)."""
    groups = None if competition.groups is None else np.asarray(competition.groups(dataset))
    return split(competition.splitter(folds, seed), dataset, folds, groups)


def train_or_resume(name, member, fold, seed, train_rows, valid_rows, competition, dataset, params, folder=None,
                    logger=None, callbacks=(), prepared=None):
    """One (member, fold): loaded from the run folder when it finished before, else trained (and saved).
    `fold` is the fold's index, or "full" for a refit on all training rows (valid_rows None).
    `prepared` maps a features recipe to its fit on these rows, shared by the members that use it.
    Returns (Fold, validation predictions or None, test predictions)."""
    index = -1 if fold == "full" else fold
    record = folder.finished_fold(name, fold) if folder else None
    if record:
        if valid_rows is not None and not np.array_equal(folder.fold_array(name, fold, "valid_rows"), valid_rows):
            raise UserError(f"{folder.fold_path(name, fold)} validated other rows than this split; "
                            "the run folder does not belong to these settings")
        history = logged_epochs(folder.fold_path(name, fold) / "logs" / "csv" / "metrics.csv")
        valid = folder.fold_array(name, fold, "valid") if valid_rows is not None else None
        score = np.nan if record.get("score") is None else record["score"]
        return Fold(index, score, record["seconds"], history, resumed=True), valid, folder.fold_array(name, fold, "test")
    start = time.perf_counter()
    pl.seed_everything(seed, verbose=False)
    path = folder.start_fold(name, fold) if folder else None
    loggers = make_loggers(path / "logs", logger) if folder else ()
    view = competition.member_params(name, params, seed, n_classes(competition, dataset))
    prepared = {} if prepared is None else prepared
    if member.features not in prepared:
        shared = competition.member_params(None, params, seed, view["n_classes"])
        prepared[member.features] = [*fit_features(member.features, dataset, shared, train_rows, valid_rows), None]
    *fitted, saved_at = prepared[member.features]
    features, model, valid_pred, test_pred = fit_fold(member, dataset, view, train_rows, valid_rows,
                                                      callbacks, loggers, fitted)
    score = np.nan if valid_rows is None else float(competition.metric.score(dataset.y[valid_rows], valid_pred))
    seconds = time.perf_counter() - start
    if folder:
        arrays = {"test": test_pred}
        if valid_rows is not None:
            arrays.update(valid=valid_pred, valid_rows=valid_rows)
        record = folder.save_fold(name, fold, features, model, arrays,
                                  {"score": None if np.isnan(score) else score, "seconds": round(seconds, 3),
                                   "train_rows": len(train_rows)}, features_path=saved_at)
        prepared[member.features][-1] = record["features"]["path"]
    return Fold(index, score, seconds, getattr(model, "history_", [])), valid_pred, test_pred


def cross_validate_members(competition, dataset, params, folds=5, seed=0, members=None, folder=None, refit=False,
                           logger=None, fold_callbacks=None, on_fold=None):
    """{name: CVResult} of every member through the same K folds.

    Fold k of every member trains with seed + k (its random_state too); a refit with seed + folds.
    fold_callbacks(index) gives Lightning callbacks for that fold's Trainer;
    on_fold(name, Fold) runs after each fold (it may raise to stop early, e.g. a pruned trial)."""
    members = members or competition.selected_members(params)
    splits = competition_splits(competition, dataset, folds, seed)
    n = len(dataset.y)
    shared = {"competition": competition, "dataset": dataset, "params": params, "folder": folder, "logger": logger}
    oof, test, history = {}, {}, {name: [] for name in members}
    for index, (train_rows, valid_rows) in enumerate(splits):
        train_rows = training_rows(competition, dataset, train_rows)
        callbacks = fold_callbacks(index) if fold_callbacks else ()
        prepared = {}  # features recipe -> its fit on this fold, for the members that share it
        for name, member in members.items():
            fold, valid_pred, test_pred = train_or_resume(name, member, index, seed + index, train_rows, valid_rows,
                                                          callbacks=callbacks, prepared=prepared, **shared)
            if name not in oof:
                oof[name] = np.full((n,) + valid_pred.shape[1:], np.nan)
                test[name] = np.zeros_like(test_pred, dtype=np.float64)
            oof[name][valid_rows] = valid_pred
            test[name] += test_pred / len(splits)
            history[name].append(fold)
            if on_fold:
                on_fold(name, fold)
    if refit:
        all_rows, prepared = training_rows(competition, dataset, np.arange(n)), {}
        for name, member in members.items():
            fold, _, test[name] = train_or_resume(name, member, "full", seed + folds, all_rows, None,
                                                  prepared=prepared, **shared)
            if on_fold:
                on_fold(name, fold)
    validated = fold_of_rows(splits, n) >= 0
    return {name: CVResult(competition.metric.name, history[name], oof[name], validated, test[name])
            for name in members}


def cross_validate(competition, dataset, params, folds=5, seed=0, fold_callbacks=None, on_fold=None, member=None):
    """CVResult of one member, by name (default: the competition's only or first selected model),
    without a run folder."""
    selected = competition.selected_members(params)
    name = member or next(iter(selected))
    members = competition.members or selected
    report = (lambda _, fold: on_fold(fold)) if on_fold else None
    return cross_validate_members(competition, dataset, params, folds, seed, members={name: members[name]},
                                  fold_callbacks=fold_callbacks, on_fold=report)[name]
