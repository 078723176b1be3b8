import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

import competitions
from pipelines.engine.crossval import cross_validate
from pipelines.run import main as run_main
from pipelines.training.pruning import FOLD_STEP, FoldPruning
from pipelines.training.trainer import EpochPruning
from pipelines.tune import main as tune_main
from tests.conftest import subprocess_env

HOUSE = competitions.get("house_prices")
QUICK = ["--folds", "2", "--set", "mlp.max_epochs=3"]


def tune(house_dir, db, *extra):
    tune_main(["house_prices", "--data-dir", str(house_dir), "--storage", f"sqlite:///{db}", *QUICK, *extra])


def test_tune_writes_best_params_plots_and_resumes(house_dir, in_tmp, capsys):
    db = in_tmp / "study.db"
    tune(house_dir, db, "--trials", "3")
    out = capsys.readouterr().out
    assert "best rmsle: " in out and "on the search's own splits (seed 0)" in out
    fresh = float(out.split("on fresh splits (seed 1000, never used by the search): rmsle ")[1].split(";")[0])
    [run_dir] = (in_tmp / "runs" / "house_prices" / "tune").iterdir()
    saved = json.loads((run_dir / "best_params.json").read_text())
    best, found_with = saved["params"], saved["found_with"]
    assert set(best) == {"mlp.hidden", "mlp.dropout", "mlp.lr", "mlp.weight_decay", "mlp.batch_size", "mlp.max_epochs"}
    assert found_with["folds"] == 2 and found_with["seed"] == 0 and found_with["pinned"] == ["mlp.max_epochs=3"]
    assert found_with["fresh_seed"] == 1000 and found_with["fresh_value"] == pytest.approx(fresh, abs=1e-5)
    params = {**HOUSE.defaults, **best, "mlp.max_epochs": 3}  # the rescoring is the CV of those parameters
    assert fresh == pytest.approx(cross_validate(HOUSE, HOUSE.load(house_dir), params, folds=2, seed=1000).mean,
                                  abs=1e-5)
    for plot in ("optimization_history.png", "param_importances.png"):
        assert (run_dir / plot).read_bytes()[:4] == b"\x89PNG"

    study = optuna.load_study(study_name="house_prices-mlp", storage=f"sqlite:///{db}")
    assert len(study.trials) == 3 and study.direction == optuna.study.StudyDirection.MINIMIZE
    tune(house_dir, db, "--trials", "2")  # the same command continues the same study
    assert len(optuna.load_study(study_name="house_prices-mlp", storage=f"sqlite:///{db}").trials) == 5
    capsys.readouterr()
    for other, message in ((["--seed", "3"], "seed: the study has 0, this command 3"),
                           (["--set", "mlp.dropout=0.1"], "pinned --set values")):
        with pytest.raises(SystemExit) as exit_info:
            tune(house_dir, db, "--trials", "1", *other)  # another search is not this study's continuation
        assert exit_info.value.code == 2 and message in capsys.readouterr().err

    # the best params feed straight back into a run
    run_main(["house_prices", "--data-dir", str(house_dir), "--params", str(run_dir / "best_params.json"),
              "--folds", "2", "--set", "mlp.max_epochs=3", "--submission", "s.csv"])
    [run_config] = (in_tmp / "runs" / "house_prices").glob("2*/config.json")
    assert json.loads(run_config.read_text())["params"]["mlp.hidden"] == best["mlp.hidden"]


def test_trial_value_is_the_run_cv_score(house_dir, in_tmp):
    """The objective is the same cross_validate that pipelines.run reports."""
    db = in_tmp / "study.db"
    tune(house_dir, db, "--trials", "1", "--no-pruning")
    trial = optuna.load_study(study_name="house_prices-mlp", storage=f"sqlite:///{db}").trials[0]
    params = {**HOUSE.defaults, **trial.params, "mlp.max_epochs": 3}
    result = cross_validate(HOUSE, HOUSE.load(house_dir), params, folds=2, seed=0)
    assert trial.value == pytest.approx(result.mean, abs=1e-9)


class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return True


def test_epoch_pruning_stops_a_trial_inside_the_first_fold(house_dir):
    study = optuna.create_study(pruner=AlwaysPrune())
    trial = study.ask()
    data = HOUSE.load(house_dir)
    with pytest.raises(optuna.TrialPruned, match="epoch 0 of fold 0"):
        cross_validate(HOUSE, data, {**HOUSE.defaults, "mlp.max_epochs": 5}, folds=2,
                       fold_callbacks=lambda index: [EpochPruning(trial, "valid_loss")])
    assert list(study.trials[0].intermediate_values) == [0]


def test_fold_pruning_reports_running_mean(house_dir):
    study = optuna.create_study(pruner=AlwaysPrune())
    trial = study.ask()
    data = HOUSE.load(house_dir)
    with pytest.raises(optuna.TrialPruned, match="after fold 0"):
        cross_validate(HOUSE, data, {**HOUSE.defaults, "mlp.max_epochs": 2}, folds=2, on_fold=FoldPruning(trial, 2))


@pytest.mark.parametrize("args, message", [
    (["nope", "--trials", "2"], "unknown competition"),
    (["house_prices", "--trials", "0"], "--trials 0"),
    (["house_prices", "--trials", "1", "--storage", "not a url"], "--storage is not a database URL"),
    (["house_prices", "--trials", "1", "--storage", "postgresql://me:s3cret@127.0.0.1:9/db"],
     "cannot open the study storage postgresql://me:***@127.0.0.1:9/db"),
    (["house_prices", "--trials", "1", "--set", "depth=2"], "unknown parameter 'depth'"),
])
def test_bad_input(args, message, house_dir, in_tmp, capsys):
    with pytest.raises(SystemExit) as exit_info:
        tune_main([*args, "--data-dir", str(house_dir)])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert "s3cret" not in captured.err + captured.out


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def tune_command(house_dir, storage, trials, *extra):
    return [sys.executable, "-m", "pipelines.tune", "house_prices", "--data-dir", str(house_dir),
            "--storage", storage, "--trials", str(trials), "--folds", "2",
            "--set", "mlp.max_epochs=20", "--set", "mlp.batch_size=16", *extra]


def test_sigkill_loses_no_finished_trial_and_the_killed_one_is_marked_fail(house_dir, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    worker = subprocess.Popen(tune_command(house_dir, storage, 50), cwd=tmp_path, env=subprocess_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def states():
        try:
            study = optuna.load_study(study_name="house_prices-mlp", storage=storage)
        except Exception:  # the worker may not have created the study yet
            return {}
        trials = study.get_trials(deepcopy=False)
        return {s: [t.number for t in trials if t.state == s] for s in TrialState}

    try:
        assert wait_for(lambda: states() and states()[TrialState.COMPLETE] and states()[TrialState.RUNNING], 120)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        worker.kill()
    before = states()
    killed = before[TrialState.RUNNING]
    assert len(killed) == 1

    done = subprocess.run(tune_command(house_dir, storage, 1), cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"marked FAIL the trials of a worker that died: {killed[0]}" in done.stdout
    after = states()
    assert after[TrialState.RUNNING] == []
    assert killed[0] in after[TrialState.FAIL]
    assert set(before[TrialState.COMPLETE]) <= set(after[TrialState.COMPLETE])
    assert sum(map(len, after.values())) == sum(map(len, before.values())) + 1


def postgres_url():
    url = os.environ.get("PIPELINES_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set PIPELINES_TEST_POSTGRES_URL (.ci/run starts one)")
    try:
        import sqlalchemy

        with sqlalchemy.create_engine(url, connect_args={"connect_timeout": 5}).connect():
            pass
    except Exception as error:  # unreachable server: skip, with the reason
        pytest.skip(f"PostgreSQL at PIPELINES_TEST_POSTGRES_URL is unreachable: {type(error).__name__}")
    return url


def test_two_workers_started_together_share_one_postgres_study_without_repeating_trials(house_dir, tmp_path):
    url = postgres_url()
    name = f"two-workers-{os.getpid()}-{time.time_ns()}"
    workers = [subprocess.Popen(tune_command(house_dir, url, 4, "--study-name", name, "--seed", "0"),
                                cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]  # the same seed, started at the same moment
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
    trials = optuna.load_study(study_name=name, storage=url).trials
    assert len(trials) == 8
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL}
    by_worker = {}
    for trial in trials:
        by_worker.setdefault(trial.user_attrs["worker"], []).append(trial)
    assert len(by_worker) == 2
    first = [min(found, key=lambda t: t.number).params for found in by_worker.values()]
    assert first[0] != first[1]  # each worker's sampler mixes in its identity
    optuna.delete_study(study_name=name, storage=url)


def test_tune_workers_run_trials_side_by_side(house_dir, in_tmp, capfd):
    db = in_tmp / "study.db"
    tune(house_dir, db, "--trials", "4", "--workers", "2", "--set", "models=lasso", "--no-pruning")
    out = capfd.readouterr().out
    assert "2 worker processes" in out and "\n4 trials in " in out
    trials = optuna.load_study(study_name="house_prices-lasso", storage=f"sqlite:///{db}").trials
    assert len(trials) == 4 and {t.state for t in trials} == {TrialState.COMPLETE}
    assert len({t.user_attrs["worker"] for t in trials}) == 2
    assert len({t.params["lasso.alpha"] for t in trials}) == 4


def test_timeout_reports_the_trials_that_finished(house_dir, in_tmp, capsys):
    db = in_tmp / "study.db"
    tune(house_dir, db, "--trials", "500", "--timeout", "3", "--set", "models=lasso")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    finished = len(optuna.load_study(study_name="house_prices-lasso", storage=f"sqlite:///{db}").trials)
    assert 0 < finished < 500
    assert last.startswith(f"{finished} trials in ") and f"(--timeout stopped it after {finished} of 500)" in last


def test_each_member_tunes_in_its_own_study(house_dir, in_tmp, capsys):
    db = in_tmp / "study.db"
    for member in ("lasso", "svr"):
        tune_main(["house_prices", "--data-dir", str(house_dir), "--storage", f"sqlite:///{db}", "--folds", "2",
                   "--trials", "2", "--set", f"models={member}"])
    storage = f"sqlite:///{db}"
    lasso = optuna.load_study(study_name="house_prices-lasso", storage=storage)
    svr = optuna.load_study(study_name="house_prices-svr", storage=storage)
    assert {key for t in lasso.trials for key in t.params} == {"lasso.alpha"}
    assert {key for t in svr.trials for key in t.params} == {"svr.C", "svr.gamma"}
    best = sorted((in_tmp / "runs" / "house_prices" / "tune").iterdir())
    assert set(json.loads((best[-1] / "best_params.json").read_text())["params"]) == {"svr.C", "svr.gamma"}
    capsys.readouterr()
    with pytest.raises(SystemExit):  # a study made for one member refuses another
        tune_main(["house_prices", "--data-dir", str(house_dir), "--storage", storage, "--folds", "2",
                   "--trials", "1", "--set", "models=hgb", "--study-name", "house_prices-lasso"])
    assert "study 'house_prices-lasso' tunes member lasso of house_prices, not hgb" in capsys.readouterr().err


def test_tune_resolves_presets_as_run_does(tmp_path, in_tmp, capsys):
    from tests.synthetic import make_cifar

    folder = make_cifar(tmp_path / "cifar-10", n_train=60, n_test=5)
    tune_main(["cifar10", "--data-dir", str(folder), "--storage", f"sqlite:///{in_tmp / 's.db'}", "--trials", "1",
               "--set", "cnn.max_epochs=1", "--set", "cnn.batch_size=16", "--no-pruning"])
    out = capsys.readouterr().out
    assert "tuning cifar10 member cnn (preset cpu)" in out and "1 folds" in out  # the cpu preset's one holdout split
    [run_dir] = (in_tmp / "runs" / "cifar10" / "tune").iterdir()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["preset"] == "cpu" and config["folds"] == 1


class PruneAtFoldSteps(optuna.pruners.BasePruner):
    """Prunes whenever a trial has reported a fold score (never on epochs)."""

    def prune(self, study, trial):
        return any(step >= FOLD_STEP for step in trial.intermediate_values)


def test_a_trial_that_finished_its_folds_is_complete_not_pruned(house_dir):
    data = HOUSE.load(house_dir)
    params = {**HOUSE.defaults, "models": ("lasso",)}
    study = optuna.create_study(pruner=PruneAtFoldSteps())
    trial = study.ask()
    result = cross_validate(HOUSE, data, params, folds=1, member="lasso", on_fold=FoldPruning(trial, 1))
    study.tell(trial, result.mean)
    assert study.trials[0].state == TrialState.COMPLETE
    trial = study.ask()  # with two folds the first fold's report prunes it
    with pytest.raises(optuna.TrialPruned, match="after fold 0"):
        cross_validate(HOUSE, data, params, folds=2, member="lasso", on_fold=FoldPruning(trial, 2))
