import dataclasses

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import Ridge

import competitions
from pipelines.core.errors import UserError
from pipelines.engine.crossval import cross_validate

HOUSE = competitions.get("house_prices")
FAST = {**HOUSE.defaults, "mlp.max_epochs": 3}


class RecordingFeatures(TransformerMixin, BaseEstimator):
    """Wraps the real preprocessor and records which rows each fit saw."""

    fitted_on = []

    def __init__(self, inner):
        self.inner = inner

    def fit(self, X, y=None):
        RecordingFeatures.fitted_on.append(set(X.index))
        self.inner.fit(X, y)
        return self

    def transform(self, X):
        return self.inner.transform(X)


class RidgeModel:
    """A scikit-learn model through the same fit/predict contract as the Lightning estimator."""

    def __init__(self):
        self.ridge = Ridge(alpha=1.0)

    def fit(self, X, y, validation=None, callbacks=(), loggers=()):
        self.ridge.fit(X, y)
        return self

    def predict(self, X):
        return self.ridge.predict(X)


def recording_competition():
    RecordingFeatures.fitted_on = []
    return dataclasses.replace(
        HOUSE,
        members={},  # one model: the recording features and a ridge
        features=lambda data, params: RecordingFeatures(HOUSE.members["lasso"].features(data, params)),
        model=lambda params: RidgeModel(),
    )


def test_every_row_validated_once_and_features_fitted_inside_folds(house_dir):
    data = HOUSE.load(house_dir)
    result = cross_validate(recording_competition(), data, FAST, folds=5, seed=0)
    assert len(result.folds) == 5 and result.validated.all()
    assert np.isfinite(result.oof).all() and result.test.shape == (60,)
    for fitted, fold_size in zip(RecordingFeatures.fitted_on, [30] * 5):
        assert len(fitted) == 150 - fold_size  # the fold's own validation rows are never seen in fit
    union_of_held_out = set().union(*(set(range(150)) - f for f in RecordingFeatures.fitted_on))
    assert union_of_held_out == set(range(150))
    # the synthetic price is nearly linear in the features: a fold-fitted ridge gets close
    assert result.mean < 0.1


def test_one_fold_is_a_holdout(house_dir):
    data = HOUSE.load(house_dir)
    result = cross_validate(recording_competition(), data, FAST, folds=1, seed=0)
    assert len(result.folds) == 1 and result.validated.sum() == 30
    assert np.isnan(result.oof[~result.validated]).all()


def test_too_many_folds(house_dir):
    data = HOUSE.load(house_dir)
    with pytest.raises(UserError, match="cannot make 500 folds"):
        cross_validate(recording_competition(), data, FAST, folds=500)


def test_lightning_mlp_same_seed_same_score(house_dir):
    data = HOUSE.load(house_dir)
    params = {**HOUSE.defaults, "mlp.max_epochs": 15}
    first = cross_validate(HOUSE, data, params, folds=2, seed=3)
    second = cross_validate(HOUSE, data, params, folds=2, seed=3)
    other = cross_validate(HOUSE, data, params, folds=2, seed=4)
    assert first.scores.tolist() == second.scores.tolist()
    np.testing.assert_array_equal(first.test, second.test)
    assert first.scores.tolist() != other.scores.tolist()


def test_logged_learning_curves_show_training(house_dir, tmp_path):
    """Per-epoch metrics come from the CSVLogger each fold writes in its run folder."""
    from pipelines.engine.crossval import FoldPlan, cross_validate_members
    from pipelines.record.runfolder import RunFolder

    data = HOUSE.load(house_dir)
    folder = RunFolder(tmp_path / "run")
    results = cross_validate_members(HOUSE, data, {**HOUSE.defaults, "mlp.max_epochs": 15},
                                     FoldPlan(folds=2, seed=3, folder=folder), members={"mlp": HOUSE.members["mlp"]})
    history = results["mlp"].folds[0].history
    assert len(history) == 15 and {"train_loss", "valid_loss", "epoch_seconds"} <= set(history[0])
    assert history[-1]["valid_loss"] < history[0]["valid_loss"]


def test_long_fits_print_their_epochs(capsys):
    """Where no progress bar shows, a fit prints its epochs (every 10 s by default; here every one)."""
    from pipelines.training.estimator import LightningEstimator
    from pipelines.training.models.mlp import MLPRegressor
    from pipelines.training.trainer import EpochLog

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), rng.normal(size=64)
    model = LightningEstimator(MLPRegressor, {"hidden": 8, "dropout": 0.0, "lr": 1e-2, "weight_decay": 0.0},
                               batch_size=16, max_epochs=3)
    model.fit(X, y, validation=(X, y), callbacks=[EpochLog("mlp fold 0", every=0)])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"mlp fold 0 epoch {k}/3" for k in (1, 2, 3)]
    assert "train_loss" in lines[0] and "valid_loss" in lines[0]
    model.fit(X, y, callbacks=[EpochLog("mlp fold 0")])  # fast epochs: nothing printed
    assert capsys.readouterr().out == ""
