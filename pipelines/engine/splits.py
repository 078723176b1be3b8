"""How a competition's training rows split into folds: shuffled, seeded scikit-learn splitters
(stratified for classes, by group when rows come in groups) and the rows each fold trains on."""
import numpy as np
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    ShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
)

from pipelines.core.data import take
from pipelines.core.errors import UserError


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


def split(splitter, y, folds, groups=None):
    """The (train rows, validation rows) of each fold of targets `y`; `groups` (one per row) keep groups whole."""
    try:
        return list(splitter.split(np.zeros(len(y)), y, groups))
    except ValueError as error:
        raise UserError(f"cannot make {folds} folds of {len(y)} training rows ({error}); use fewer --folds") from None


def extra_rows(dataset):
    """The rows of extra training files (a playground's original data): the last info["extra_rows"] rows."""
    count = dataset.info.get("extra_rows", 0)
    return np.arange(len(dataset.y) - count, len(dataset.y))


def competition_splits(competition, dataset, folds, seed):
    """The competition's splits of the training rows (keeping groups whole when it declares them). Rows of
    extra training files join every fold's training rows and are never validated: the CV scores only the
    competition's own rows."""
    extra = extra_rows(dataset)
    own = len(dataset.y) - len(extra)
    groups = None if competition.groups is None else np.asarray(competition.groups(dataset))[:own]
    splits = split(competition.splitter(folds, seed), dataset.y[:own], folds, groups)
    return [(np.concatenate([train_rows, extra]), valid_rows) for train_rows, valid_rows in splits]


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
