"""What a competition declares; the engine reads these fields and never names a competition."""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


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
class Competition:
    """One Kaggle competition: its files, target, metric, recipe and submission format.

    load(data_dir, params) -> Dataset     files -> validated frames/arrays (params may pick a backbone)
    features(params) -> transformer        fitted inside each fold on its training rows
    model(params) -> estimator             fit(X, y, validation=(X, y)) / predict(X)
    splitter(folds, seed) -> sklearn splitter
    submission(ids, predictions, classes) -> DataFrame in Kaggle's format
    check_submission(frame, source) raises UserError on invalid values
    search_space(trial) -> dict            Optuna suggestions, applied over the defaults
    monitor                                 a per-epoch logged validation value that moves in
                                            the metric's direction (reported for pruning)
    """

    name: str
    slug: str
    metric: Metric
    load: Callable
    features: Callable
    model: Callable
    splitter: Callable
    submission: Callable
    check_submission: Callable
    defaults: dict
    search_space: Callable | None = None
    monitor: str = "valid_loss"
    presets: dict = field(default_factory=dict)  # name -> params (and optionally "folds"); first is the CPU default
    description: str = ""
    files: tuple = field(default=())
