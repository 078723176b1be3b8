"""The default tabular recipe: targets of any type, metrics by name, submission forms, groups,
member parameters, and the fixes that came with it."""
import json

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info

from pipelines.core.errors import UserError
from pipelines.engine.ensemble import fit_weights
from pipelines.engine.metrics import METRICS, metric
from pipelines.engine.splits import competition_splits
from pipelines.recipes.tabular import tabular_competition
from pipelines.run import main as run_main
from pipelines.run import resolve_settings, run
from pipelines.training.estimator import SklearnEstimator
from submissions.validate import check_labels_in
from tests.synthetic import make_table

FAST = {"lgbm.rounds": 100, "lgbm.learning_rate": 0.1, "xgb.rounds": 100, "xgb.learning_rate": 0.1,
        "catboost.rounds": 100, "catboost.learning_rate": 0.1}  # few trees, each learning more


def run_table(competition, data_dir, folds=3, assignments=(), submission="s.csv"):
    """pipelines.run's run() on a competition declared in the test; returns (CV result, submission frame)."""
    preset, params, folds, baseline = resolve_settings(competition, None, None, list(assignments), folds)
    params = {**params, **{k: v for k, v in FAST.items() if k in params}}
    settings = {"preset": preset, "baseline": baseline, "params": params, "folds": folds, "seed": 0, "refit": False,
                "logger": "csv", "submission": submission}
    result, path = run(competition, data_dir, settings)
    return result, pd.read_csv(path, keep_default_na=False)


def table(name, metric_name, submission="label", members=("lgbm", "linear"), **kwargs):
    return tabular_competition(name=name, slug=name, id_column="id", target="target", metric=metric_name,
                               submission=submission, members=members, **kwargs)


def test_binary_integer_labels_accuracy(tmp_path, in_tmp, capsys):
    data = make_table(tmp_path / "binary", labels=(0, 1))
    result, submission = run_table(table("binary", "accuracy"), data)
    assert result.mean > 0.7  # the rule is learnable: far above the 0.5 of guessing (0.81-0.90 on 4 data x 2 CV seeds)
    assert set(submission.target) <= {0, 1} and submission.target.dtype.kind == "i"
    assert result.oof.shape == (240, 2) and np.allclose(result.oof.sum(axis=1), 1)


def test_boolean_labels_stay_true_false(tmp_path, in_tmp, capsys):
    data = make_table(tmp_path / "booleans", labels=(False, True))
    _, submission = run_table(table("booleans", "accuracy"), data)
    assert set(pd.read_csv(in_tmp / "s.csv", dtype=str).target) <= {"True", "False"}
    assert submission.target.dtype == bool


def test_string_classes_with_probability_columns_in_the_sample_order(tmp_path, in_tmp, capsys):
    order = ["dog", "bird", "cat"]  # the sample's column order, not the sorted one
    data = make_table(tmp_path / "animals", labels=("bird", "cat", "dog"), sample_columns=order)
    result, submission = run_table(table("animals", "log_loss", "probabilities"), data)
    assert list(submission.columns) == ["id", *order]
    np.testing.assert_allclose(submission[order].sum(axis=1), 1, atol=1e-6)
    folder = next((in_tmp / "runs" / "animals").iterdir())
    assert json.loads((folder / "config.json").read_text())["classes"] == ["bird", "cat", "dog"]
    assert result.mean < np.log(3)  # better than uniform probabilities


def test_integer_labels_one_to_k_with_quadratic_kappa(tmp_path, in_tmp, capsys):
    data = make_table(tmp_path / "grades", labels=(1, 2, 3, 4, 5))
    result, submission = run_table(table("grades", "qwk"), data)
    assert set(submission.target) <= {1, 2, 3, 4, 5} and result.mean > 0.5


def test_positive_class_probability_for_roc_auc(tmp_path, in_tmp, capsys):
    data = make_table(tmp_path / "churn", labels=("stay", "leave"))
    result, submission = run_table(table("churn", "roc_auc", "probability", positive="leave"), data)
    assert submission.target.between(0, 1).all() and result.mean > 0.8  # 0.90-0.97 on 4 data x 2 CV seeds
    high = submission.target > 0.5  # "leave" is the higher-score class of the rule
    test = pd.read_csv(data / "test.csv")
    assert test.x1.abs()[high.to_numpy()].mean() > test.x1.abs()[~high.to_numpy()].mean()


def test_regression_in_the_metric_model_space(tmp_path, in_tmp, capsys):
    data = make_table(tmp_path / "prices", labels=(10.0, 100.0, 1000.0))
    _, submission = run_table(table("prices", "rmsle"), data)
    assert submission.target.between(1, 5000).all() and submission.target.max() > 100  # from log1p space
    with pytest.raises(UserError, match="is not a number in row 2"):
        table("words", "rmse").load(make_table(tmp_path / "words", labels=("a", "b")))


def test_a_fold_without_a_class_still_predicts_every_class():
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = np.repeat([0, 1, 3], 20)  # class 2 is missing from this fold
    from sklearn.linear_model import LogisticRegression

    model = SklearnEstimator(LogisticRegression(), n_classes=4).fit(X, y)
    probabilities = model.predict(X)
    assert probabilities.shape == (60, 4) and (probabilities[:, 2] == 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1)
    assert (probabilities.argmax(axis=1) != 2).all()


@pytest.mark.filterwarnings("ignore:The least populated class")
def test_a_rare_class_missing_from_folds_keeps_its_probability_column(tmp_path, in_tmp, capsys):
    data = make_table(tmp_path / "rare", labels=("a", "b", "c"))
    train = pd.read_csv(data / "train.csv")
    train.loc[0, "target"] = "z"  # one row: every fold but one trains without it
    train.to_csv(data / "train.csv", index=False)
    result, _ = run_table(table("rare", "log_loss", members=("lgbm",)), data)
    assert result.oof.shape == (240, 4) and np.isfinite(result.mean)


def test_blending_on_accuracy_moves_weights_to_the_better_member():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    good = np.clip(np.eye(2)[y] * 0.6 + 0.2 + rng.normal(0, 0.1, (500, 2)), 0.01, 0.99)
    good /= good.sum(axis=1, keepdims=True)
    noise = rng.dirichlet([1, 1], 500)
    weights = fit_weights(np.stack([good, noise]), y, metric("accuracy"))
    assert weights[0] > 0.8 and weights.sum() == pytest.approx(1)


def test_groups_never_span_two_folds(tmp_path):
    data_dir = make_table(tmp_path / "grouped", labels=(0, 1))
    competition = table("grouped", "accuracy", groups=lambda data: pd.Series(data.train_ids).str[-1].to_numpy())
    dataset = competition.load(data_dir)
    groups = pd.Series(dataset.train_ids).str[-1].to_numpy()
    splits = competition_splits(competition, dataset, 3, seed=0)
    assert len(splits) == 3
    for train_rows, valid_rows in splits:
        assert not set(groups[train_rows]) & set(groups[valid_rows])
        assert set(np.unique(dataset.y[valid_rows])) == {0, 1}  # stratified too


def test_metrics_by_name_are_scikit_learns():
    from sklearn import metrics as sk

    y = np.array([0, 1, 1, 0, 1])
    p = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.4, 0.6], [0.1, 0.9]])
    assert METRICS["accuracy"].score(y, p) == sk.accuracy_score(y, [0, 1, 0, 1, 1])
    assert METRICS["roc_auc"].score(y, p) == sk.roc_auc_score(y, p[:, 1])
    assert METRICS["log_loss"].score(y, p) == pytest.approx(sk.log_loss(y, p))
    assert METRICS["macro_f1"].score(y, p) == sk.f1_score(y, [0, 1, 0, 1, 1], average="macro")
    prices = np.array([100.0, 200.0])
    assert METRICS["rmsle"].score(np.log1p(prices), np.log1p(prices * 1.1)) == pytest.approx(
        sk.root_mean_squared_log_error(prices, prices * 1.1))
    assert [METRICS[m].direction for m in ("accuracy", "log_loss", "rmse")] == ["maximize", "minimize", "minimize"]
    with pytest.raises(UserError, match="unknown metric 'f2'"):
        metric("f2")


def test_member_parameters_are_qualified_and_checked(house_dir, in_tmp, capsys):
    def fails(argv, message):
        with pytest.raises(SystemExit) as exit_info:
            run_main(["house_prices", "--data-dir", str(house_dir), "--submission", "x.csv", *argv])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err

    fails(["--set", "mlp.dropout=7"], "--set mlp.dropout=7: must be between 0.0 and 0.95")
    fails(["--set", "mlp.max_epochs=-3"], "--set mlp.max_epochs=-3: must be at least 1")
    fails(["--set", "alpha=0.1"], "unknown parameter 'alpha' in --set; did you mean enet.alpha or krr.alpha or "
                                  "lasso.alpha?")
    fails(["--set", "models=lasso,xgb"], "choose from mlp, lasso")
    assert not (in_tmp / "x.csv").exists() and not (in_tmp / "runs").exists()


def test_seed_reaches_every_members_random_state(house_dir, in_tmp, capsys):
    from competitions.house_prices import COMPETITION as HOUSE

    params = HOUSE.defaults
    for name in ("lasso", "gbr", "hgb"):
        estimator = HOUSE.members[name].model(HOUSE.member_params(name, params, seed=7)).estimator
        assert estimator.random_state == 7


def test_integer_class_labels_are_checked_without_a_type_error():
    frame = pd.DataFrame({"id": [1, 2], "label": [3, 9]})
    with pytest.raises(UserError, match="row 3 has label 9, not one of 1, 2, 3"):
        check_labels_in([1, 2, 3])(frame, "s.csv")


class ThreadProbe:
    """Records the OpenMP and BLAS thread counts its fit runs under."""

    def fit(self, X, y):
        self.threads_ = {info["user_api"]: info["num_threads"] for info in threadpool_info()}
        return self

    def predict(self, X):
        return np.zeros(len(X))

    def get_params(self, deep=False):
        return {}


def test_scikit_learn_members_fit_with_the_threads_they_declare():
    model = SklearnEstimator(ThreadProbe(), threads=1).fit(np.zeros((4, 2)), np.zeros(4))
    assert model.estimator_.threads_ and set(model.estimator_.threads_.values()) == {1}
