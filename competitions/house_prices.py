"""House Prices - Advanced Regression Techniques (Ames, Iowa): predict SalePrice, scored by RMSLE.

Model space is log1p(SalePrice), so RMSE there is Kaggle's RMSLE; predictions go back
through expm1 into the submission.
"""
import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import ElasticNet, Lasso
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler
from sklearn.svm import SVR

from features.house import house_features, large_cheap_houses
from features.tabular import na_means_none_columns, tabular_preprocessor
from pipelines.competition import Competition, Member, Metric
from pipelines.crossval import kfold
from pipelines.data import load_tabular
from pipelines.errors import UserError
from pipelines.estimator import LightningEstimator, SklearnEstimator
from pipelines.metrics import rmse
from pipelines.models.mlp import MLPRegressor
from submissions.validate import check_finite_positive

ID, TARGET = "Id", "SalePrice"

DEFAULTS = {
    # blended members; any subset of MEMBERS, e.g. --set models=lasso (enet and krr are available too)
    "models": ("mlp", "lasso", "svr", "hgb", "gbr"),
    "engineered": True,       # features/house.py steps ahead of the generic preprocessing
    "skew_threshold": 0.5,    # log1p more area columns: less wild extrapolation on very large houses
    # mlp: from a 40-trial search (python -m pipelines.tune house_prices --trials 40), rounded
    "hidden": 512,
    "dropout": 0.2,
    "lr": 1e-2,
    "weight_decay": 1.5,
    "batch_size": 128,
    "max_epochs": 40,
    # linear and kernel models on robust-scaled inputs (alphas from 30-trial searches, rounded)
    "lasso_alpha": 4e-4,
    "enet_alpha": 2.7e-4,
    "enet_l1_ratio": 0.9,
    "krr_alpha": 0.45,
    "krr_degree": 2,
    "krr_coef0": 5.0,
    "svr_c": 60.0,
    "svr_epsilon": 0.008,
    "svr_gamma": 9e-5,
    # gradient boosting: histogram-based (from a 20-trial search), and Huber-loss trees
    "hgb_lr": 0.06,
    "hgb_max_iter": 600,
    "hgb_max_leaf_nodes": 5,
    "hgb_min_samples_leaf": 4,
    "hgb_l2": 7.5,
    "gbr_trees": 600,
    "gbr_lr": 0.05,
}


def load(data_dir, params=None, train=True):
    data = load_tabular(data_dir, ID, TARGET, read_train=train)
    if not train:
        return data
    if (data.y <= 0).any():
        raise UserError(f"{data_dir / 'train.csv'}: {TARGET} must be positive for a log-scale metric")
    data.y = np.log1p(data.y)
    data.info["na_means_none"] = na_means_none_columns(data_dir / "data_description.txt")
    data.inputs.append(data_dir / "data_description.txt")
    return data


def preprocessor(scaler):
    """Engineered features, then impute / log1p skewed columns / scale / one-hot."""

    def features(data, params):
        generic = tabular_preprocessor(
            categorical=("MSSubClass",),  # a dwelling-type code, not a quantity
            na_means_none=data.info["na_means_none"],
            skew_threshold=params["skew_threshold"],
            scaler=scaler,
        )
        return make_pipeline(house_features(), generic) if params["engineered"] else generic

    return features


def mlp(params):
    module_params = {k: params[k] for k in ("hidden", "dropout", "lr", "weight_decay")}
    return LightningEstimator(MLPRegressor, module_params, batch_size=params["batch_size"],
                              max_epochs=params["max_epochs"])


def mlp_space(trial):
    return {
        "hidden": trial.suggest_categorical("hidden", [64, 128, 256, 512]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.6),
        "lr": trial.suggest_float("lr", 2e-3, 3e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-2, 10.0, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [128, 256, 512]),
        "skew_threshold": trial.suggest_float("skew_threshold", 0.25, 2.0),
    }


def lasso(params):
    return SklearnEstimator(Lasso(alpha=params["lasso_alpha"], max_iter=50_000, random_state=0))


def elastic_net(params):
    return SklearnEstimator(ElasticNet(alpha=params["enet_alpha"], l1_ratio=params["enet_l1_ratio"],
                                       max_iter=50_000, random_state=0))


def kernel_ridge(params):
    return SklearnEstimator(KernelRidge(alpha=params["krr_alpha"], kernel="polynomial",
                                        degree=params["krr_degree"], coef0=params["krr_coef0"]))


def gradient_boosting(params):
    return SklearnEstimator(HistGradientBoostingRegressor(
        learning_rate=params["hgb_lr"], max_iter=params["hgb_max_iter"],
        max_leaf_nodes=params["hgb_max_leaf_nodes"], min_samples_leaf=params["hgb_min_samples_leaf"],
        l2_regularization=params["hgb_l2"], early_stopping=False, random_state=0))


def support_vectors(params):
    return SklearnEstimator(SVR(C=params["svr_c"], epsilon=params["svr_epsilon"], gamma=params["svr_gamma"]))


def huber_boosting(params):
    """Gradient boosting with the Huber loss: the large cheap houses pull it less."""
    return SklearnEstimator(GradientBoostingRegressor(
        loss="huber", n_estimators=params["gbr_trees"], learning_rate=params["gbr_lr"], max_depth=4,
        max_features="sqrt", min_samples_leaf=15, min_samples_split=10, subsample=1.0, random_state=0))


# one recipe object per preprocessing: members that share it share its per-fold fit
STANDARD, LINEAR = preprocessor(StandardScaler), preprocessor(RobustScaler)

MEMBERS = {
    "mlp": Member(STANDARD, mlp, mlp_space),
    "lasso": Member(LINEAR, lasso,
                    lambda trial: {"lasso_alpha": trial.suggest_float("lasso_alpha", 5e-5, 5e-3, log=True)}),
    "enet": Member(LINEAR, elastic_net,
                   lambda trial: {"enet_alpha": trial.suggest_float("enet_alpha", 5e-5, 5e-3, log=True),
                                  "enet_l1_ratio": trial.suggest_float("enet_l1_ratio", 0.1, 1.0)}),
    "krr": Member(LINEAR, kernel_ridge,
                  lambda trial: {"krr_alpha": trial.suggest_float("krr_alpha", 0.05, 10.0, log=True),
                                 "krr_coef0": trial.suggest_float("krr_coef0", 0.5, 10.0, log=True)}),
    "hgb": Member(STANDARD, gradient_boosting,
                  lambda trial: {"hgb_lr": trial.suggest_float("hgb_lr", 0.01, 0.2, log=True),
                                 "hgb_max_leaf_nodes": trial.suggest_int("hgb_max_leaf_nodes", 4, 63, log=True),
                                 "hgb_min_samples_leaf": trial.suggest_int("hgb_min_samples_leaf", 3, 40, log=True),
                                 "hgb_l2": trial.suggest_float("hgb_l2", 1e-3, 10.0, log=True)}),
    "svr": Member(LINEAR, support_vectors,
                  lambda trial: {"svr_c": trial.suggest_float("svr_c", 1.0, 100.0, log=True),
                                 "svr_gamma": trial.suggest_float("svr_gamma", 1e-5, 1e-3, log=True)}),
    "gbr": Member(STANDARD, huber_boosting,
                  lambda trial: {"gbr_lr": trial.suggest_float("gbr_lr", 0.01, 0.2, log=True),
                                 "gbr_trees": trial.suggest_int("gbr_trees", 200, 2000, log=True)}),
}


def submission(ids, predictions, classes=None):
    return pd.DataFrame({ID: ids, TARGET: np.expm1(predictions)})


COMPETITION = Competition(
    name="house_prices",
    slug="house-prices-advanced-regression-techniques",
    files=("train.csv", "test.csv", "sample_submission.csv", "data_description.txt"),
    metric=Metric("rmsle", rmse, greater_is_better=False),
    load=load,
    members=MEMBERS,
    exclude_from_training=large_cheap_houses,
    splitter=kfold,
    submission=submission,
    check_submission=check_finite_positive,
    defaults=DEFAULTS,
    monitor="valid_loss",
)
