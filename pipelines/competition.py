"""What a competition declares; the engine reads these fields and never names a competition."""
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .errors import UserError


@dataclass(frozen=True)
class Metric:
    """A score computed in model space (encoded targets vs. model predictions)."""

    name: str
    score: Callable[[np.ndarray, np.ndarray], float]
    greater_is_better: bool

    @property
    def direction(self):
        return "maximize" if self.greater_is_better else "minimize"


@dataclass(frozen=True)
class Member:
    """One model of an ensemble: its own fold-fitted features and estimator.

    features(data, params) -> transformer; model(params) -> estimator; search_space(trial) -> dict
    """

    features: Callable
    model: Callable
    search_space: Callable | None = None


@dataclass(frozen=True)
class Competition:
    """One Kaggle competition: its files, target, metric, recipe and submission format.

    load(data_dir, params) -> Dataset     files -> validated frames/arrays (params may pick a backbone)
    features(data, params) -> transformer  fitted inside each fold on its training rows
    model(params) -> estimator             fit(X, y, validation=(X, y)) / predict(X)
    splitter(folds, seed) -> sklearn splitter
    submission(ids, predictions, classes) -> DataFrame in Kaggle's format
    check_submission(frame, source) raises UserError on invalid values
    search_space(trial) -> dict            Optuna suggestions, applied over the defaults
    monitor                                 a per-epoch logged validation value that moves in
                                            the metric's direction (reported for pruning)
    members                                 name -> Member: several models on the same folds,
                                            chosen by the `models` parameter and blended;
                                            without members, features + model are the one model
    exclude_from_training(X, y) -> mask     rows dropped from training folds (never from validation)
    """

    name: str
    slug: str
    metric: Metric
    load: Callable
    splitter: Callable
    submission: Callable
    check_submission: Callable
    defaults: dict
    features: Callable | None = None
    model: Callable | None = None
    search_space: Callable | None = None
    members: dict = field(default_factory=dict)
    exclude_from_training: Callable | None = None
    monitor: str = "valid_loss"
    presets: dict = field(default_factory=dict)  # name -> params (and optionally "folds"); first is the CPU default
    description: str = ""
    files: tuple = field(default=())
    sample_submission: str = "sample_submission.csv"  # its columns and id order define a valid submission

    def selected_members(self, params):
        """name -> Member for params["models"]; the single model when there are no members."""
        if not self.members:
            return {"model": Member(self.features, self.model, self.search_space)}
        names = params.get("models", tuple(self.members))
        names = (names,) if isinstance(names, str) else tuple(names)
        unknown = [name for name in names if name not in self.members]
        if unknown or not names:
            raise UserError(f"--set models={','.join(names)}: choose from {', '.join(self.members)} "
                            f"(comma-separated, e.g. models={','.join(list(self.members)[:2])})")
        return {name: self.members[name] for name in dict.fromkeys(names)}
