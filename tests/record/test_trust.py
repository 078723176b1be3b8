"""Numbers a competitor can trust: pruning in the study's direction, precision per model, code a run
records, one holdout blended honestly, declared targets and classes checked early, errors in a
competition's own code as one line."""
import json

import numpy as np
import optuna
import pandas as pd
import pytest

import competitions
from pipelines import predict as predict_cli
from pipelines import runs as runs_cli
from pipelines.core.errors import UserError
from pipelines.engine.crossval import cross_validate
from pipelines.engine.params import resolve
from pipelines.recipes.tabular import tabular_competition
from pipelines.run import main as run_main
from pipelines.training.pruning import epoch_pruning, monitor_direction
from tests.synthetic import make_table
from tests.record.test_runs import fails, run_dirs


def test_pruning_reports_losses_in_the_direction_of_a_maximised_metric(tmp_path):
    """Accuracy is maximised, the MLP logs its loss: the trial whose loss stays high is pruned."""
    competition = tabular_competition(name="binary", slug="binary", id_column="id", target="target",
                                      metric="accuracy", members=("mlp",))
    data = competition.load(make_table(tmp_path / "binary", labels=(0, 1)))
    assert monitor_direction("valid_loss") == "minimize" and monitor_direction("valid_acc") == "maximize"
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=2))
    for lr in (3e-2, 1e-6):  # a learning rate that learns, then one that does not
        trial = study.ask()
        params = resolve(competition.declared(), [f"mlp.lr={lr}", "mlp.max_epochs=8"])
        try:
            result = cross_validate(competition, data, params, folds=2, seed=0,
                                    fold_callbacks=lambda index: [epoch_pruning(trial, "valid_loss", "maximize")] if index == 0 else [])
            study.tell(trial, result.mean)
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    good, bad = study.trials
    assert good.state == optuna.trial.TrialState.COMPLETE and bad.state == optuna.trial.TrialState.PRUNED
    assert all(value < 0 for value in good.intermediate_values.values())  # -loss: higher is better


def test_precision_per_model(monkeypatch):
    import torch

    from pipelines.training.estimator import LightningEstimator
    from pipelines.training.models.head import PretrainedHead
    from pipelines.training.models.mlp import MLPRegressor
    from pipelines.training.trainer import mixed_precision

    assert LightningEstimator(MLPRegressor, {}).precision == "32-true"  # tabular models and heads: always
    assert LightningEstimator(PretrainedHead, {}).precision == "32-true"
    assert mixed_precision() == "32-true"  # no GPU here
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: not including_emulation)
    assert mixed_precision() == "bf16-mixed"  # bf16 in hardware
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert mixed_precision() == "16-mixed"  # only emulated (a T4): fp16


GEMS = '''
from features.tabular import FrameStep
from pipelines.tabular import tabular_competition

QUALITY = {QUALITY}


class CutQuality(FrameStep):
    def add(self, frame):
        frame["quality"] = [QUALITY[cut] for cut in frame["cut"]]


COMPETITION = tabular_competition(name="gems", slug="gems", id_column="id", target="price", metric="rmse",
                                  features=[CutQuality()], members=("linear",), target_transform="log1p")
'''


def make_gems(folder, n_train=120, n_test=30):
    rng = np.random.default_rng(0)
    n = n_train + n_test
    frame = pd.DataFrame({"id": range(n), "carat": rng.uniform(0.2, 2.5, n), "cut": rng.choice(["Fair", "Ideal"], n)})
    frame["price"] = np.round(np.exp(7 + 1.5 * frame.carat + 0.3 * (frame.cut == "Ideal") + rng.normal(0, 0.1, n)))
    folder.mkdir(parents=True)
    frame.iloc[:n_train].to_csv(folder / "train.csv", index=False)
    frame.iloc[n_train:].drop(columns="price").to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"id": frame.id[n_train:], "price": 1.0}).to_csv(folder / "sample_submission.csv", index=False)
    return folder


def test_target_transform_trains_in_log_space_and_scores_raw_prices(own_competitions, tmp_path, in_tmp, capsys):
    (own_competitions / "gems.py").write_text(GEMS.replace("{QUALITY}", '{"Fair": 0, "Ideal": 1}'))
    data = make_gems(tmp_path / "gems")
    run_main(["gems", "--data-dir", str(data), "--folds", "3", "--submission", "s.csv"])
    [folder] = run_dirs(in_tmp, "gems")
    target, oof = np.load(folder / "predictions/target.npy"), np.load(folder / "predictions/oof.npy")
    prices = pd.read_csv(data / "train.csv").price.to_numpy()
    np.testing.assert_allclose(target, np.log1p(prices))  # the members learn log prices
    metrics = json.loads((folder / "metrics.json").read_text())
    folds = np.load(folder / "predictions/folds.npy")
    for fold in metrics["folds"]:  # each fold scored by RMSE on raw prices
        rows = folds == fold["fold"]
        raw = np.sqrt(np.mean((np.expm1(oof[rows]) - prices[rows]) ** 2))
        assert fold["score"] == pytest.approx(raw, rel=1e-9) and raw > 10
    submission = pd.read_csv(in_tmp / "s.csv")
    assert submission.price.between(prices.min() / 3, prices.max() * 3).all()
    config = json.loads((folder / "config.json").read_text())
    assert any(name.endswith("my_competitions/gems.py") for name in config["code"]["files"])


def test_changed_code_is_refused_on_resume_and_named_by_predict(own_competitions, tmp_path, in_tmp, capsys):
    module = own_competitions / "gems.py"
    module.write_text(GEMS.replace("{QUALITY}", '{"Fair": 0, "Ideal": 1}'))
    data = make_gems(tmp_path / "gems")
    args = ["gems", "--data-dir", str(data), "--folds", "2", "--submission", "s.csv"]
    run_main(args)
    [folder] = run_dirs(in_tmp, "gems")
    module.write_text(GEMS.replace("{QUALITY}", '{"Fair": 0, "Ideal": 2}'))  # edited after the run
    capsys.readouterr()
    predict_cli.main([str(folder), "--submission", "p.csv"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: the code differs from the run's") and "gems.py" in err[0]
    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps({**status, "status": "failed"}))
    fails(run_main, [*args, "--resume", str(folder)], capsys, "the code changed since the run started")


def test_an_error_in_a_feature_step_is_one_line_naming_it(own_competitions, tmp_path, in_tmp, capsys):
    (own_competitions / "gems.py").write_text(GEMS.replace("{QUALITY}", '{"Ideal": 1}'))  # no 'Fair'
    data = make_gems(tmp_path / "gems")
    with pytest.raises(SystemExit) as exit_info:
        run_main(["gems", "--data-dir", str(data), "--folds", "2", "--submission", "s.csv"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: KeyError: 'Fair' in CutQuality.add (")
    assert "gems.py:" in err[0] and "--debug" in err[0]
    [folder] = run_dirs(in_tmp, "gems")
    status = json.loads((folder / "status.json").read_text())
    assert status["status"] == "failed" and "Traceback" in status["traceback"] and "QUALITY[cut]" in status["traceback"]
    assert not (in_tmp / "s.csv").exists()
    with pytest.raises(SystemExit):
        run_main(["gems", "--data-dir", str(data), "--folds", "2", "--submission", "s.csv", "--debug"])
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.strip().splitlines()[-1].startswith("error: KeyError")


def test_positive_class_and_probability_columns_are_checked_before_training(tmp_path, in_tmp):
    data = make_table(tmp_path / "churn", labels=(0, 1))
    wrong = tabular_competition(name="churn", slug="churn", id_column="id", target="target", metric="roc_auc",
                                submission="probability", positive=2)
    with pytest.raises(UserError, match=r"positive=2 is not a class of 'target' .*; choose one of 0, 1"):
        wrong.load(data)
    for positive in (1, "1"):  # labels are text as the file holds them: either names the class 1
        tabular_competition(name="churn", slug="churn", id_column="id", target="target", metric="roc_auc",
                            submission="probability", positive=positive).load(data)
    three = make_table(tmp_path / "three", labels=("a", "b", "c"), sample_columns=["a", "b", "d"])
    competition = tabular_competition(name="three", slug="three", id_column="id", target="target",
                                      metric="log_loss", submission="probabilities")
    with pytest.raises(UserError, match="the sample submission has no column for class 'c'"):
        competition.load(three)


def test_one_holdout_blends_with_equal_weights_for_score_and_submission(house_dir, in_tmp, capsys):
    run_main(["house_prices", "--data-dir", str(house_dir), "--folds", "1", "--set", "models=lasso,svr",
              "--submission", "s.csv"])
    out = capsys.readouterr().out
    assert "blend weights: lasso 0.500, svr 0.500 (equal: one holdout split has no other folds" in out
    [folder] = run_dirs(in_tmp)
    test = np.load(folder / "predictions/test.npy")
    members = [np.load(folder / f"predictions/test-{name}.npy") for name in ("lasso", "svr")]
    np.testing.assert_allclose(test, (members[0] + members[1]) / 2)


def test_a_mistyped_parameter_suggests_the_closest_names():
    declared = competitions.get("spaceship_titanic").declared()
    with pytest.raises(UserError, match="did you mean lgbm.num_leaves"):
        resolve(declared, ["lgbm.num_leafs=8"])


def test_params_files_combine_later_ones_winning(house_dir, in_tmp, tmp_path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"params": {"lasso.alpha": 0.001, "svr.C": 5.0}, "found_with": {"seed": 0}}))
    second.write_text(json.dumps({"svr.C": 7.0}))
    run_main(["house_prices", "--data-dir", str(house_dir), "--folds", "2", "--set", "models=lasso,svr",
              "--params", str(first), "--params", str(second), "--submission", "s.csv"])
    [folder] = run_dirs(in_tmp)
    params = json.loads((folder / "config.json").read_text())["params"]
    assert params["lasso.alpha"] == 0.001 and params["svr.C"] == 7.0


def test_the_table_of_runs_fits_the_terminal(house_dir, in_tmp, capsys):
    run_main(["house_prices", "--data-dir", str(house_dir), "--folds", "2", "--set", "models=lasso,svr",
              "--set", "lasso.alpha=0.002", "--set", "svr.C=3", "--set", "svr.gamma=0.0001", "--submission", "s.csv"])
    rows = runs_cli.collect("house_prices")
    assert len(rows[0]["code"]) == 8
    wide = runs_cli.format_table(rows)  # --wide: everything
    assert "svr.gamma=0.0001" in wide
    width = max(map(len, wide.splitlines())) - 10
    narrow = runs_cli.format_table(rows, width=width).splitlines()
    assert max(map(len, narrow)) <= width and "…" in narrow[1] and "svr.gamma=0.0001" not in narrow[1]
