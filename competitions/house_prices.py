"""House Prices - Advanced Regression Techniques (Ames, Iowa): predict SalePrice, scored by RMSLE.

Model space is log1p(SalePrice), so RMSE there is Kaggle's RMSLE; predictions go back
through expm1 into the submission.
"""
import numpy as np
import pandas as pd

from features.tabular import na_means_none_columns, tabular_preprocessor
from pipelines.competition import Competition, Metric
from pipelines.crossval import kfold
from pipelines.data import load_tabular
from pipelines.errors import UserError
from pipelines.estimator import LightningEstimator
from pipelines.metrics import rmse
from pipelines.models.mlp import MLPRegressor
from submissions.validate import check_finite_positive

ID, TARGET = "Id", "SalePrice"

DEFAULTS = {  # from a 40-trial search (python -m pipelines.tune house_prices --trials 40), rounded
    "hidden": 512,
    "dropout": 0.2,
    "lr": 1e-2,
    "weight_decay": 1.5,
    "batch_size": 128,
    "max_epochs": 40,
    "skew_threshold": 0.9,
}


def search_space(trial):
    return {
        "hidden": trial.suggest_categorical("hidden", [64, 128, 256, 512]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.6),
        "lr": trial.suggest_float("lr", 2e-3, 3e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-2, 10.0, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [128, 256, 512]),
        "skew_threshold": trial.suggest_float("skew_threshold", 0.25, 2.0),
    }


def load(data_dir, params=None):
    data = load_tabular(data_dir, ID, TARGET)
    if (data.y <= 0).any():
        raise UserError(f"{data_dir / 'train.csv'}: {TARGET} must be positive for a log-scale metric")
    data.y = np.log1p(data.y)
    data.info["na_means_none"] = na_means_none_columns(data_dir / "data_description.txt")
    return data


def features(data, params):
    return tabular_preprocessor(
        data.X,
        categorical=("MSSubClass",),  # a dwelling-type code, not a quantity
        na_means_none=data.info["na_means_none"],
        skew_threshold=params["skew_threshold"],
    )


def model(params):
    module_params = {k: params[k] for k in ("hidden", "dropout", "lr", "weight_decay")}
    return LightningEstimator(MLPRegressor, module_params, batch_size=params["batch_size"],
                              max_epochs=params["max_epochs"])


def submission(ids, predictions, classes=None):
    return pd.DataFrame({ID: ids, TARGET: np.expm1(predictions)})


COMPETITION = Competition(
    name="house_prices",
    slug="house-prices-advanced-regression-techniques",
    files=("train.csv", "test.csv", "sample_submission.csv", "data_description.txt"),
    metric=Metric("rmsle", rmse, greater_is_better=False),
    load=load,
    features=features,
    model=model,
    splitter=kfold,
    submission=submission,
    check_submission=check_finite_positive,
    defaults=DEFAULTS,
    search_space=search_space,
    monitor="valid_loss",
)
