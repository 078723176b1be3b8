"""The default tabular recipe's levers: early-stopped boosting, a second level beside the blend,
more kinds of members, log-target GBDTs, and a time limit."""
import json

import numpy as np
import pandas as pd
import pytest

from pipelines import predict as predict_cli
from pipelines.run import main as run_main
from tests.record.test_runs import fails, run_dirs
from tests.synthetic import make_table


def table_run(folder, name, declaration, data, assignments=(), refit=False):
    """Declare competition `name` in a file of `folder` (so predict finds it again) and run it on 3 folds."""
    (folder / f"{name}.py").write_text("from pipelines.tabular import tabular_competition\n\n"
                                       f"COMPETITION = tabular_competition(name={name!r}, slug={name!r}, {declaration})\n")
    sets = [part for assignment in assignments for part in ("--set", assignment)]
    run_main([name, "--data-dir", str(data), "--folds", "3", *sets, *(["--refit"] if refit else []),
              "--submission", "s.csv"])


def test_boosting_stops_on_an_inner_split_and_a_refit_trains_the_folds_rounds(own_competitions, tmp_path, in_tmp):
    data = make_table(tmp_path / "binary", labels=(0, 1), n_train=400)
    table_run(own_competitions, "binary", 'id_column="id", target="target", metric="accuracy", '
              'members=("lgbm", "xgb", "catboost")', data, ["lgbm.rounds=2000", "xgb.rounds=2000", "catboost.rounds=2000",
                                  "lgbm.learning_rate=0.3", "xgb.learning_rate=0.3", "catboost.learning_rate=0.3",
                                  "lgbm.patience=10", "xgb.patience=10", "catboost.patience=10"], refit=True)
    [folder] = run_dirs(in_tmp, "binary")
    for member in ("lgbm", "xgb", "catboost"):
        rounds = [json.loads((folder / f"members/{member}/fold-{k}/record.json").read_text())["rounds"]
                  for k in range(3)]
        assert all(0 < r < 2000 for r in rounds), (member, rounds)  # stopped well before the cap
        refit = json.loads((folder / f"members/{member}/full/record.json").read_text())
        assert refit["rounds"] is None  # no rows to stop on: it trains what the folds chose, scaled to all rows
    predict_cli.main([str(folder), "--submission", "p.csv"])
    assert (in_tmp / "p.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()


def test_a_second_level_beside_the_blend_and_predict_reproduces_it(own_competitions, tmp_path, in_tmp, capsys):
    data = make_table(tmp_path / "grades", labels=("a", "b", "c"))
    table_run(own_competitions, "grades", 'id_column="id", target="target", metric="log_loss", '
              'submission="label", members=("lgbm", "linear", "extra_trees", "knn")', data,
              ["lgbm.rounds=200", "lgbm.learning_rate=0.1"])
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("blend: CV"))
    blended, stacked = (float(part.split("log_loss ")[1].split(" ")[0]) for part in line.split("; ")[:2])
    [folder] = run_dirs(in_tmp, "grades")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["ensemble"] == ("stack" if stacked < blended else "blend")
    assert metrics["mean"] == pytest.approx(min(blended, stacked), abs=1e-5)
    assert (folder / "stacker.skops").is_file() == (metrics["ensemble"] == "stack")
    predict_cli.main([str(folder), "--submission", "p.csv"])
    assert (in_tmp / "p.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()


def test_a_second_level_learns_what_a_blend_cannot():
    """A member whose probabilities point the wrong way: non-negative blend weights can only drop it,
    a logistic regression on the log-odds turns it around; both scored by nested CV."""
    from pipelines.engine.crossval import CVResult
    from pipelines.engine.ensemble import blend, stack
    from pipelines.engine.metrics import metric
    from pipelines.engine.splits import stratified_kfold

    rng = np.random.default_rng(0)
    n = 600
    p = rng.uniform(0.05, 0.95, n)
    y = (rng.random(n) < p).astype(int)
    flipped = np.column_stack([p, 1 - p])  # the probability of the wrong class
    noise = np.column_stack([np.full(n, 0.5), np.full(n, 0.5)])
    splits = list(stratified_kfold(5, 0).split(np.zeros(n), y))
    results = {name: CVResult("log_loss", [], oof, np.ones(n, bool), oof[:10]) for name, oof in
               (("flipped", flipped), ("noise", noise))}
    blended, _ = blend(results, y, splits, metric("log_loss"))
    stacked, model = stack(results, y, splits, metric("log_loss"))
    assert stacked.mean < blended.mean - 0.05
    assert model.coef_[0][0] < 0  # the flipped member's log-odds, turned around
    assert stacked.test.shape == (10, 2) and np.allclose(stacked.test.sum(axis=1), 1)


def test_log_target_members_learn_log_prices(own_competitions, tmp_path, in_tmp):
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"id": range(n), "size": rng.uniform(1, 10, n)})
    frame["price"] = np.round(np.exp(5 + 0.4 * frame["size"] + rng.normal(0, 0.1, n)))
    folder = tmp_path / "prices"
    folder.mkdir()
    frame.iloc[:240].to_csv(folder / "train.csv", index=False)
    frame.iloc[240:].drop(columns="price").to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"id": frame.id[240:], "price": 1.0}).to_csv(folder / "sample_submission.csv", index=False)
    table_run(own_competitions, "prices", 'id_column="id", target="price", metric="rmse", members=("lgbm", "lgbm_log")',
              folder, ["lgbm.rounds=300", "lgbm_log.rounds=300"])
    [run_dir] = run_dirs(in_tmp, "prices")
    assert json.loads((run_dir / "members/lgbm_log/fold-0/model.json").read_text())["logged"] is True
    assert json.loads((run_dir / "members/lgbm/fold-0/model.json").read_text())["logged"] is False
    assert (pd.read_csv(in_tmp / "s.csv").price > 0).all()
    predict_cli.main([str(run_dir), "--submission", "p.csv"])
    assert (in_tmp / "p.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()


def test_time_limit(house_dir, in_tmp, capsys):
    fails(run_main, ["house_prices", "--data-dir", str(house_dir), "--time-limit", "0", "--submission", "s.csv"],
          capsys, "--time-limit 0: give a positive number of seconds")
    fails(run_main, ["house_prices", "--data-dir", str(house_dir), "--time-limit", "3", "--submission", "s.csv"],
          capsys, "--time-limit 3: too short for 25 models")
    assert not (in_tmp / "runs").exists() and not (in_tmp / "s.csv").exists()
    run_main(["house_prices", "--data-dir", str(house_dir), "--set", "models=lasso,hgb", "--folds", "2",
              "--time-limit", "120", "--submission", "s.csv"])
    assert "time limit 120 s: 4 models on 1 worker" in capsys.readouterr().out


def test_after_stopping_a_model_can_train_on_every_row_for_the_rounds_scaled_up():
    from lightgbm import LGBMRegressor

    from pipelines.training.estimator import SklearnEstimator
    from pipelines.training.gbdt import EarlyStop

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500)})
    y = X.a * 2 + np.sin(3 * X.b) + rng.normal(0, 0.3, 500)
    kept = SklearnEstimator(LGBMRegressor(n_estimators=3000, learning_rate=0.1, verbose=-1),
                            early_stop=EarlyStop(0.2, patience=20, seed=0, retrain=True)).fit(X, y.to_numpy())
    assert 0 < kept.rounds_ < 3000
    assert kept.estimator_.n_estimators_ == round(kept.rounds_ / 0.8)  # every row, for the rounds scaled up
    held = SklearnEstimator(LGBMRegressor(n_estimators=3000, learning_rate=0.1, verbose=-1),
                            early_stop=EarlyStop(0.2, patience=20, seed=0)).fit(X, y.to_numpy())
    assert held.rounds_ == kept.rounds_  # the same rounds chosen, on the same inner split
    assert not np.allclose(held.predict(X), kept.predict(X))
    large = SklearnEstimator(LGBMRegressor(n_estimators=3000, learning_rate=0.1, verbose=-1),  # "large": over 400 rows
                             early_stop=EarlyStop(0.2, patience=20, seed=0, retrain=True, retrain_rows=400)).fit(
        X, y.to_numpy())
    assert large.kept_ == "stopped" and kept.kept_ == "retrained"
    np.testing.assert_array_equal(large.predict(X), held.predict(X))


def test_catboost_on_a_large_table_boosts_half_its_rounds_at_twice_its_rate():
    from catboost import CatBoostClassifier

    from pipelines.recipes.members import CatBoostOnFrames

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "c": pd.Categorical(rng.choice(["x", "y", None], 300))})
    y = (X.a > 0).astype(int).to_numpy()

    def fitted(large_rows):
        return CatBoostOnFrames(CatBoostClassifier(iterations=40, learning_rate=0.05, verbose=0,
                                                   allow_writing_files=False), large_rows).fit(X, y).model_

    small, large = fitted(300), fitted(299)  # 300 rows: not above 300, above 299
    assert small.tree_count_ == 40 and small.learning_rate_ == pytest.approx(0.05)
    assert large.tree_count_ == 20 and large.learning_rate_ == pytest.approx(0.1)


def test_regressions_scored_on_raw_values_get_log_target_members_by_default():
    from pipelines.recipes.tabular import tabular_competition

    def members(metric, **kwargs):
        return list(tabular_competition(name="t", slug="t", id_column="id", target="y", metric=metric,
                                        **kwargs).members)

    assert members("rmse") == ["lgbm", "catboost", "xgb", "linear", "minilm", "tfidf", "transformer", "lgbm_log",
                               "catboost_log"]
    assert members("mae")[-2:] == ["lgbm_log", "catboost_log"]
    assert "lgbm_log" not in members("rmsle")  # its models already learn log1p(price)
    assert "lgbm_log" not in members("rmse", target_transform="log1p")  # every member learns the log already
    assert members("accuracy") == ["lgbm", "catboost", "xgb", "linear", "minilm", "tfidf", "transformer"]
    assert members("rmse", members=("lgbm",)) == ["lgbm"]  # declared members are kept as they are


def test_a_competition_that_does_not_declare_stack_only_blends(house_dir, in_tmp, capsys):
    run_main(["house_prices", "--data-dir", str(house_dir), "--set", "models=lasso,hgb", "--folds", "3",
              "--submission", "s.csv"])
    out = capsys.readouterr().out
    assert "blend weights:" in out and "stack (" not in out
    [folder] = run_dirs(in_tmp, "house_prices")
    assert json.loads((folder / "metrics.json").read_text())["ensemble"] == "blend"
    assert not (folder / "stacker.skops").exists()
