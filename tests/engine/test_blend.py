import numpy as np
import pandas as pd
import pytest

import competitions
from pipelines.core.errors import UserError
from pipelines.engine.crossval import CVResult, cross_validate
from pipelines.engine.ensemble import blend, fit_weights
from pipelines.engine.metrics import METRICS, rmse
from pipelines.engine.splits import excluded_rows
from pipelines.run import main

RMSE = METRICS["rmse"]
HOUSE = competitions.get("house_prices")


def member(oof, test=None):
    return CVResult("rmse", [], np.asarray(oof, float), np.ones(len(oof), bool),
                    np.zeros(3) if test is None else np.asarray(test, float))


def test_weights_are_convex_and_prefer_the_better_member():
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    good, bad = y + rng.normal(0, 0.1, 400), y + rng.normal(0, 1.0, 400)
    weights = fit_weights(np.stack([good, bad]), y, RMSE)
    assert weights.min() >= 0 and weights.sum() == pytest.approx(1)
    assert weights[0] > 0.9
    # two members with independent errors of the same size: about half each, and better than either
    other = y + rng.normal(0, 0.1, 400)
    weights = fit_weights(np.stack([good, other]), y, RMSE)
    assert weights == pytest.approx([0.5, 0.5], abs=0.1)
    assert rmse(y, weights @ np.stack([good, other])) < min(rmse(y, good), rmse(y, other))


def test_blend_cv_never_fits_weights_on_the_fold_it_scores():
    """A member that is perfect on fold 0 only: weights fitted elsewhere cannot know it."""
    y = np.arange(20, dtype=float)
    splits = [(np.arange(10, 20), np.arange(10)), (np.arange(10), np.arange(10, 20))]
    lucky = np.where(np.arange(20) < 10, y, y + 5)   # exact on fold 0, off by 5 on fold 1
    steady = y + 1                                     # off by 1 everywhere
    result, weights = blend({"lucky": member(lucky), "steady": member(steady)}, y, splits, RMSE)
    # fold 0's weights come from fold 1, where "steady" wins: fold 0 scores about 1, not 0
    assert result.folds[0].score == pytest.approx(1.0, abs=0.05)
    # fold 1's weights come from fold 0, where "lucky" is exact: fold 1 pays its full error of 5
    assert result.folds[1].score == pytest.approx(5.0, abs=0.05)
    assert set(weights) == {"lucky", "steady"}


def test_excluded_rows_do_not_fit_weights():
    y = np.zeros(40)
    a, b = np.zeros(40), np.zeros(40)
    a[0], b[0] = 100.0, 0.0  # row 0: only member a is badly off
    b[1:] = 0.5              # elsewhere member b is off by 0.5
    splits = [(np.arange(20, 40), np.arange(20)), (np.arange(20), np.arange(20, 40))]
    _, with_row = blend({"a": member(a), "b": member(b)}, y, splits, RMSE)
    excluded = np.zeros(40, bool)
    excluded[0] = True
    _, without_row = blend({"a": member(a), "b": member(b)}, y, splits, RMSE, excluded)
    assert with_row["b"] > 0.9 and without_row["a"] > 0.9


def test_members_share_folds_and_outliers_stay_out_of_training_only(house_dir):
    data = HOUSE.load(house_dir)
    data.X.loc[data.X.index[:2], "GrLivArea"] = 4500  # two huge houses sold cheaply
    data.y[:2] = np.log1p(150_000)
    assert excluded_rows(HOUSE, data).nonzero()[0].tolist() == [0, 1]
    params = {**HOUSE.defaults, "models": ("lasso",)}
    result = cross_validate(HOUSE, data, params, folds=3, seed=0)
    assert result.validated.all()  # the excluded rows are still validated and scored


def test_unknown_member(house_dir, in_tmp, capsys):
    with pytest.raises(SystemExit):
        main(["house_prices", "--data-dir", str(house_dir), "--set", "models=lasso,xgb"])
    assert "--set models=lasso,xgb: choose from mlp, lasso, enet, krr, svr, hgb, gbr" in capsys.readouterr().err
    with pytest.raises(UserError):
        HOUSE.selected_members({"models": ()})


def test_blended_run_reports_members_and_saves_them(house_dir, in_tmp, capsys):
    import json

    main(["house_prices", "--data-dir", str(house_dir), "--folds", "3", "--set", "models=lasso,hgb,krr",
          "--set", "hgb.max_iter=50", "--submission", "s.csv"])
    out = capsys.readouterr().out
    for name in ("lasso", "hgb", "krr"):
        assert f"{name}: CV rmsle " in out
    assert "blend weights: lasso " in out and "CV rmsle: " in out
    run_dir = next((in_tmp / "runs" / "house_prices").iterdir())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["members"]) == {"lasso", "hgb", "krr"}
    assert sum(metrics["blend_weights"].values()) == pytest.approx(1)
    oof = pd.read_csv(run_dir / "oof.csv")
    assert {"prediction", "prediction_lasso", "prediction_hgb", "prediction_krr"} <= set(oof.columns)
    weights = metrics["blend_weights"]
    # the submission is the weighted blend of the members' test predictions, back on the price scale
    assert pd.read_csv(in_tmp / "s.csv").SalePrice.gt(0).all() and len(weights) == 3
