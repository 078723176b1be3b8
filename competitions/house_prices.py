"""House Prices - Advanced Regression Techniques (Ames, Iowa): predict SalePrice, scored by RMSLE.

The metric's model space is log1p(SalePrice), so RMSE there is Kaggle's RMSLE; predictions go
back through expm1 into the submission. Five members are blended by default, each declaring its
parameters (`--set lasso.alpha=1e-3`); defaults come from searches with pipelines.tune.
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
from pipelines.competition import Competition, Member
from pipelines.data import load_tabular
from pipelines.estimator import LightningEstimator, SklearnEstimator
from pipelines.members import THREADS
from pipelines.metrics import metric
from pipelines.params import Param
from pipelines.splits import kfold
from submissions.validate import check_finite_positive

ID, TARGET = "Id", "SalePrice"
RMSLE = metric("rmsle")


def load(data_dir, params=None, train=True):
    data = load_tabular(data_dir, ID, TARGET, RMSLE, read_train=train)
    if train:
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


# one recipe object per preprocessing: members that share it share its per-fold fit
STANDARD, LINEAR = preprocessor(StandardScaler), preprocessor(RobustScaler)


def sklearn(estimator):
    """A member model from a function of the member's parameters to a scikit-learn regressor."""
    return lambda p: SklearnEstimator(estimator(p), threads=p["threads"])


def mlp(p):
    from pipelines.training.models.mlp import MLPRegressor  # torch and Lightning load only when this member trains

    return LightningEstimator(MLPRegressor, {k: p[k] for k in ("hidden", "dropout", "lr", "weight_decay")},
                              batch_size=p["batch_size"], max_epochs=p["max_epochs"], threads=p["threads"])


MEMBERS = {
    # mlp: from a 40-trial search (python -m pipelines.tune house_prices --trials 40), rounded
    "mlp": Member(STANDARD, mlp, {
        "hidden": Param(512, low=1, search=(64, 512), log=True),
        "dropout": Param(0.2, low=0.0, high=0.95, search=(0.0, 0.6)),
        "lr": Param(1e-2, low=1e-6, high=10.0, search=(2e-3, 3e-2), log=True),
        "weight_decay": Param(1.5, low=0.0, search=(1e-2, 10.0), log=True),
        "batch_size": Param(128, low=1, search=(128, 512), log=True),
        "max_epochs": Param(40, low=1, search=(10, 80)),
        "threads": THREADS,
    }),
    # linear and kernel models on robust-scaled inputs (alphas from 30-trial searches, rounded)
    "lasso": Member(LINEAR, sklearn(lambda p: Lasso(alpha=p["alpha"], max_iter=50_000, random_state=p["seed"])), {
        "alpha": Param(4e-4, low=0.0, search=(5e-5, 5e-3), log=True), "threads": THREADS}),
    "enet": Member(LINEAR, sklearn(lambda p: ElasticNet(alpha=p["alpha"], l1_ratio=p["l1_ratio"], max_iter=50_000,
                                                        random_state=p["seed"])), {
        "alpha": Param(2.7e-4, low=0.0, search=(5e-5, 5e-3), log=True),
        "l1_ratio": Param(0.9, low=0.0, high=1.0, search=(0.1, 1.0)), "threads": THREADS}),
    "krr": Member(LINEAR, sklearn(lambda p: KernelRidge(alpha=p["alpha"], kernel="polynomial", degree=p["degree"],
                                                        coef0=p["coef0"])), {
        "alpha": Param(0.45, low=0.0, search=(0.05, 10.0), log=True), "degree": Param(2, low=1, high=5),
        "coef0": Param(5.0, search=(0.5, 10.0), log=True), "threads": THREADS}),
    "svr": Member(LINEAR, sklearn(lambda p: SVR(C=p["C"], epsilon=p["epsilon"], gamma=p["gamma"])), {
        "C": Param(60.0, low=1e-6, search=(1.0, 100.0), log=True), "epsilon": Param(0.008, low=0.0),
        "gamma": Param(9e-5, low=1e-12, search=(1e-5, 1e-3), log=True), "threads": THREADS}),
    # gradient boosting: histogram-based (from a 20-trial search), and Huber-loss trees
    "hgb": Member(STANDARD, sklearn(lambda p: HistGradientBoostingRegressor(
        learning_rate=p["learning_rate"], max_iter=p["max_iter"], max_leaf_nodes=p["max_leaf_nodes"],
        min_samples_leaf=p["min_samples_leaf"], l2_regularization=p["l2"], early_stopping=False,
        random_state=p["seed"])), {
        "learning_rate": Param(0.06, low=1e-4, high=1.0, search=(0.01, 0.2), log=True),
        "max_iter": Param(600, low=1), "max_leaf_nodes": Param(5, low=2, search=(4, 63), log=True),
        "min_samples_leaf": Param(4, low=1, search=(3, 40), log=True),
        "l2": Param(7.5, low=0.0, search=(1e-3, 10.0), log=True), "threads": THREADS}),
    "gbr": Member(STANDARD, sklearn(lambda p: GradientBoostingRegressor(  # the large cheap houses pull Huber less
        loss="huber", n_estimators=p["trees"], learning_rate=p["learning_rate"], max_depth=4, max_features="sqrt",
        min_samples_leaf=15, min_samples_split=10, subsample=1.0, random_state=p["seed"])), {
        "learning_rate": Param(0.05, low=1e-4, high=1.0, search=(0.01, 0.2), log=True),
        "trees": Param(600, low=1, search=(200, 2000), log=True), "threads": THREADS}),
}

PARAMS = {
    "models": ("mlp", "lasso", "svr", "hgb", "gbr"),  # blended; enet and krr are available too
    "engineered": True,                                # features/house.py steps ahead of the generic preprocessing
    "skew_threshold": Param(0.5, low=0.0),             # log1p more area columns: less extrapolation on big houses
}


def submission(ids, predictions, classes=None):
    return pd.DataFrame({ID: ids, TARGET: RMSLE.model_to_target(np.asarray(predictions, dtype=np.float64))})


COMPETITION = Competition(
    name="house_prices",
    slug="house-prices-advanced-regression-techniques",
    files=("train.csv", "test.csv", "sample_submission.csv", "data_description.txt"),
    metric=RMSLE,
    load=load,
    params=PARAMS,
    members=MEMBERS,
    exclude_from_training=large_cheap_houses,
    splitter=kfold,
    submission=submission,
    check_submission=check_finite_positive,
    monitor="valid_loss",
)
