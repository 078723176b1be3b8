"""Right answers under every condition: ids and labels as text, clipped RMSLE predictions, the model a
time limit keeps, failing trials, threads that never follow the members, column roles, member
parameters in features, tiny folds, file modes, and the run folder's record of attempts."""
import json
import os
import time

import numpy as np
import pandas as pd
import pytest

from pipelines.engine import workers
from pipelines.engine.competition import Member
from pipelines.engine.params import Param
from pipelines.recipes.members import THREADS
from pipelines.recipes.tabular import linear_inputs, tabular_competition
from pipelines.run import main as run_main
from pipelines.training import gbdt
from pipelines.training.estimator import SklearnEstimator
from tests.record.test_runs import fails
from tests.synthetic import make_table


def write_competition(folder, name, code):
    (folder / f"{name}.py").write_text(code)


def table_frame(n, seed=0, ids="{:05d}"):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": [ids.format(i) for i in range(n)], "x1": rng.uniform(-3, 3, n),
                         "x2": rng.normal(size=n)})


def save_table(folder, frame, target, test_rows, sample_value):
    folder.mkdir(parents=True, exist_ok=True)
    train, test = frame.iloc[:-test_rows], frame.iloc[-test_rows:].drop(columns=target)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"id": test.id, target: sample_value}).to_csv(folder / "sample_submission.csv", index=False)
    return folder


def test_ids_and_labels_stay_text_end_to_end(tmp_path, own_competitions, in_tmp, capsys):
    frame = table_frame(300)
    frame["label"] = np.where(frame.x1 > 1, "10", np.where(frame.x1 > -1, "02", "01"))  # labels with leading zeros
    data = save_table(tmp_path / "zeros", frame, "label", 60, "01")
    write_competition(own_competitions, "zeros", 'from pipelines.tabular import tabular_competition\n'
                      'COMPETITION = tabular_competition(name="zeros", slug="zeros", id_column="id", target="label",\n'
                      '                                  metric="qwk", members=("linear",))\n')
    run_main(["zeros", "--data-dir", str(data), "--folds", "2", "--submission", "s.csv"])
    written = (in_tmp / "s.csv").read_text().splitlines()
    assert written[1].startswith("00240,")  # not 240
    submission = pd.read_csv(in_tmp / "s.csv", dtype=str)
    assert submission.id.tolist() == pd.read_csv(data / "test.csv", dtype=str).id.tolist()
    assert set(submission.label) <= {"01", "02", "10"} and "01" in set(submission.label)
    [folder] = (in_tmp / "runs" / "zeros").iterdir()
    assert json.loads((folder / "config.json").read_text())["classes"] == ["01", "02", "10"]  # by value: QWK's order


def test_integer_classes_in_value_order_and_positive_by_text(tmp_path):
    data = make_table(tmp_path / "grades", labels=(2, 10, 1))
    competition = tabular_competition(name="grades", slug="grades", id_column="id", target="target",
                                      metric="roc_auc", submission="probabilities", members=("linear",))
    frame = pd.read_csv(data / "sample_submission.csv").drop(columns="target").assign(**{"1": 0.3, "2": 0.3,
                                                                                         "10": 0.4})
    frame.to_csv(data / "sample_submission.csv", index=False)
    assert competition.load(data).info["classes"] == ["1", "2", "10"]
    binary = make_table(tmp_path / "binary", labels=(0, 1))
    competition = tabular_competition(name="binary", slug="binary", id_column="id", target="target",
                                      metric="roc_auc", submission="probability", positive=0, members=("linear",))
    assert competition.load(binary).info["classes"] == ["0", "1"]
    frame = competition.submission(np.array(["a"]), np.array([[0.8, 0.2]]), ["0", "1"])
    assert frame.target.tolist() == [0.8]  # positive=0 is the class "0"


def test_a_competition_file_that_defines_no_competition_is_one_clear_error(own_competitions, in_tmp, capsys):
    write_competition(own_competitions, "unnamed", 'from pipelines.tabular import tabular_competition\n'
                      'competition = tabular_competition(name="unnamed", slug="unnamed", id_column="id",\n'
                      '                                  target="y", metric="rmse")\n')
    fails(run_main, ["unnamed", "--submission", "s.csv"], capsys,
          "unnamed.py defines no COMPETITION: assign the competition to it (COMPETITION = tabular_competition(...))")
    assert not (in_tmp / "runs").exists() and not (in_tmp / "s.csv").exists()


def test_rmsle_predictions_below_zero_are_clipped_and_counted(tmp_path, own_competitions, in_tmp, capsys):
    frame = table_frame(300, seed=1)
    frame["count"] = np.expm1(np.maximum(0.0, 2 * frame.x1)).round(2)  # zero for half the rows
    data = save_table(tmp_path / "counts", frame, "count", 80, 1.0)
    write_competition(own_competitions, "counts", 'from pipelines.tabular import tabular_competition\n'
                      'COMPETITION = tabular_competition(name="counts", slug="counts", id_column="id",\n'
                      '                                  target="count", metric="rmsle", members=("linear",))\n')
    run_main(["counts", "--data-dir", str(data), "--folds", "3", "--submission", "s.csv"])
    out = capsys.readouterr().out
    assert "test predictions below 0, the least value rmsle takes: clipped to 0" in out
    submission = pd.read_csv(in_tmp / "s.csv")
    assert (submission["count"] >= 0).all() and (submission["count"] == 0).any()
    [folder] = (in_tmp / "runs" / "counts").iterdir()
    assert json.loads((folder / "status.json").read_text())["status"] == "complete"


class Clock:
    """time.perf_counter for gbdt: one second passes at every call, so a deadline falls on a round."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


def test_a_time_limit_keeps_the_stopped_model_when_the_refit_cannot_finish(monkeypatch):
    from lightgbm import LGBMRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    y = X[:, 0] * 3 + rng.normal(0, 0.5, 400)
    stop = gbdt.EarlyStop(fraction=0.2, patience=20, seed=0, retrain=True)

    def fitted(seconds):
        monkeypatch.setattr(gbdt.time, "perf_counter", Clock())
        return gbdt.fit_stopped(LGBMRegressor(n_estimators=2000, learning_rate=0.1, verbose=-1), X, y, stop,
                                seconds=seconds)

    _, rounds, kept = fitted(10**6)
    assert kept == "retrained"
    spent = gbdt.time.perf_counter.now  # the clock's reading: the stopping phase took about as many "seconds"
    model, chosen, kept = fitted(spent - rounds / 0.8 + 5)  # a few rounds' time left for the refit
    assert chosen == rounds and kept == "stopped"
    assert gbdt.boosted_rounds(model) >= rounds  # the stopped model, not a refit of a few trees


def test_a_failing_trial_is_recorded_and_the_search_goes_on(tmp_path, own_competitions, in_tmp, capsys):
    import optuna

    data = make_table(tmp_path / "fragile", labels=(0, 1))
    write_competition(own_competitions, "fragile", '''
import numpy as np
from sklearn.linear_model import LogisticRegression

from pipelines.competition import Member
from pipelines.estimator import SklearnEstimator
from pipelines.params import Param
from pipelines.tabular import linear_inputs, tabular_competition


class Fragile(SklearnEstimator):
    def predict(self, X):
        predictions = super().predict(X)
        return predictions * np.nan if self.estimator.C > 1 else predictions


fragile = Member(linear_inputs(()), lambda p: Fragile(LogisticRegression(C=p["C"]), p["n_classes"]),
                 {"C": Param(0.5, low=1e-3, search=(0.01, 100.0), log=True)})
COMPETITION = tabular_competition(name="fragile", slug="fragile", id_column="id", target="target",
                                  metric="accuracy", members={"fragile": fragile})
''')
    from pipelines.tune import main as tune_main

    storage = f"sqlite:///{in_tmp / 'study.db'}"
    tune_main(["fragile", "--data-dir", str(data), "--trials", "8", "--folds", "2", "--storage", storage,
               "--no-pruning"])
    out = capsys.readouterr().out
    study = optuna.load_study(study_name="fragile-fragile", storage=storage)
    failed = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.FAIL]
    complete = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]
    assert len(study.trials) == 8 and failed and complete
    assert all(trial.params["fragile.C"] > 1 for trial in failed)
    assert "predicted NaN or infinite values" in failed[0].user_attrs["error"]
    assert f"trial {failed[0].number} failed: fragile fold 0 predicted NaN" in out

    with pytest.raises(SystemExit) as exit_info:  # in a run, one error naming the member and fold
        run_main(["fragile", "--data-dir", str(data), "--folds", "2", "--set", "fragile.C=5", "--submission", "s.csv"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert err[0].startswith("error: fragile fold 0 predicted NaN or infinite values for 120 of 120 validation rows (as targets)")
    assert not (in_tmp / "s.csv").exists()


def test_threads_follow_the_cores_and_folds_only(tmp_path, own_competitions, in_tmp, monkeypatch, capsys):
    monkeypatch.setattr(workers, "cpu_cores", lambda: 8)
    monkeypatch.setattr(workers.devices, "gpu_count", lambda: 0)
    assert workers.plan("auto", tasks=2, folds=2).threads == workers.plan("auto", tasks=6, folds=2).threads == 4
    assert workers.plan(1, tasks=40, folds=2).threads == 4  # tune's trials are not folds
    data = make_table(tmp_path / "threads", labels=(0, 1))
    write_competition(own_competitions, "threads", 'from pipelines.tabular import tabular_competition\n'
                      'COMPETITION = tabular_competition(name="threads", slug="threads", id_column="id",\n'
                      '    target="target", metric="log_loss", params={"xgb.rounds": 60, "catboost.rounds": 60})\n')
    fast = ["--data-dir", str(data), "--folds", "2", "--workers", "1"]
    run_main(["threads", *fast, "--set", "models=xgb", "--submission", "a.csv"])
    run_main(["threads", *fast, "--set", "models=catboost,xgb", "--refit", "--submission", "b.csv"])
    first, second = sorted((in_tmp / "runs" / "threads").iterdir())
    for fold in (0, 1):
        records = [json.loads((run / f"members/xgb/fold-{fold}/record.json").read_text()) for run in (first, second)]
        assert records[0]["threads"] == records[1]["threads"] == 4
        np.testing.assert_array_equal(np.load(first / f"members/xgb/fold-{fold}/valid.npy"),
                                      np.load(second / f"members/xgb/fold-{fold}/valid.npy"))
    assert json.loads((first / "config.json").read_text())["threads"] == 4


def test_image_members_train_with_the_runs_threads(monkeypatch):
    # in the command's own process torch keeps whatever it had (2 threads on import, 1 after a fold
    # under threadpool_limits), so the first fold and the rest trained differently
    import competitions

    for competition_name, member in (("cifar10", "cnn"), ("dog_breeds", "finetune"), ("dog_breeds", "lite1")):
        competition = competitions.get(competition_name)
        view = competition.member_params(member, competition.defaults, 0, 10, threads=3)
        assert competition.member_list([member])[member].model(view).threads == 3


def test_column_roles_keep_real_categories_and_say_what_they_drop(tmp_path, own_competitions, in_tmp, capsys):
    rng = np.random.default_rng(0)
    n = 700
    drug = rng.integers(0, 300, n)
    frame = pd.DataFrame({"id": [f"p{i:05d}" for i in range(n)], "drug": [f"drug {k}" for k in drug],
                          "dose": rng.normal(size=n), "review": [
                              f"I took this {rng.choice(['gladly', 'daily', 'twice'])} and it made me feel number {i}"
                              for i in range(n)],
                          "visit": [f"V-{rng.integers(10**9)}" for _ in range(n)]})
    frame["effective"] = (drug % 2 == 0).astype(int)  # the 300-level category decides the label
    data = save_table(tmp_path / "drugs", frame, "effective", 100, 0.5)
    write_competition(own_competitions, "drugs", 'from pipelines.tabular import tabular_competition\n'
                      'COMPETITION = tabular_competition(name="drugs", slug="drugs", id_column="id",\n'
                      '    target="effective", metric="roc_auc", submission="probability", members=("catboost",),\n'
                      '    params={"catboost.rounds": 200})\n')
    run_main(["drugs", "--data-dir", str(data), "--folds", "3", "--submission", "s.csv"])
    out = capsys.readouterr().out.splitlines()
    assert "columns: 1 numbers (dose), 1 categories (drug), 1 text (review)" in out  # the text for text members
    assert any(line.startswith("column visit dropped: an identifier") for line in out)
    assert float(next(line for line in out if line.startswith("CV roc_auc")).split()[2]) > 0.8  # the drug is used


def test_a_members_features_get_its_own_parameters(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from features.tabular import FrameStep
    from pipelines.engine.folds import ReadParams

    class Scaled(FrameStep):
        def __init__(self, factor=1.0):
            self.factor = factor

        def add(self, frame):
            frame["x1"] = frame["x1"] * self.factor

    seen = []

    def features(data, params):
        seen.append(params["factor"])
        return make_pipeline(Scaled(params["factor"]), linear_inputs(())(data, params))

    def model(p):
        return SklearnEstimator(LogisticRegression(), p["n_classes"], p["threads"])

    members = {name: Member(features, model, {"factor": Param(factor), "threads": THREADS})
               for name, factor in (("a", 1.0), ("b", 1.0), ("c", 3.0))}
    competition = tabular_competition(name="own", slug="own", id_column="id", target="target", metric="accuracy",
                                      members=members)
    from pipelines.engine.crossval import FoldPlan, cross_validate_members

    data = make_table(tmp_path / "own", labels=(0, 1))
    results = cross_validate_members(competition, competition.load(data), competition.defaults, FoldPlan(folds=2))
    assert set(results) == {"a", "b", "c"} and seen == [1.0, 3.0, 1.0, 3.0]  # a and b share a fit per fold
    read = ReadParams({"factor": 1.0, "seed": 0})
    read["factor"]
    assert read.same_for({"factor": 1.0, "seed": 5}) and not read.same_for({"factor": 2.0, "seed": 0})


def test_a_fold_smaller_than_a_batch_still_trains(tmp_path):
    from pipelines.recipes.image_members import cnn

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (24, 16, 16, 3), dtype=np.uint8)
    labels = np.arange(24) % 3
    p = {**{key: param.default if isinstance(param, Param) else param for key, param in cnn(True).params.items()},
         "n_classes": 3, "image_size": 16, "max_epochs": 2, "widths": (8, 8, 8), "batch_size": 256, "seed": 0}
    model = cnn(True).model(p)
    model.fit(images, labels)
    assert model.trainer_.global_step == 2  # one batch of the 24 images an epoch, not none


def test_outputs_take_the_users_umask(tmp_path):
    from pipelines.core.files import write_text

    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.csv", "id\n1\n")
    finally:
        os.umask(old)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o644


def test_a_completed_resume_forgets_the_failed_attempts_error(tmp_path):
    from pipelines.record.runfolder import RunFolder

    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    folder.set_status("running", attempt="a")
    folder.fail(RuntimeError("killed"), "Traceback ...")
    assert folder.status["error"] == "killed"
    folder.set_status("running", attempt="b")
    folder.complete()
    assert {"error", "traceback"}.isdisjoint(folder.status) and folder.status["status"] == "complete"


def test_a_stale_task_writes_nothing_into_a_resumed_run(tmp_path):
    from pipelines.core.errors import UserError
    from pipelines.record.runfolder import RunFolder

    class Model:
        def __init__(self, text):
            self.text = text

        def save(self, folder):
            (folder / "model.txt").write_text(self.text)

    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    folder.set_status("running", attempt="old")
    stale = folder.start_fold("m", 0, "worker 1", "old")
    folder.set_status("running", attempt="new")  # the run was resumed while the old task trained
    fresh = folder.start_fold("m", 0, "worker 2", "new")
    folder.save_fold("m", 0, {"fitted": 1}, Model("new"), {"test": np.zeros(3)}, {}, attempt="new", staging=fresh)
    with pytest.raises(UserError, match="was resumed by another command"):
        folder.save_fold("m", 0, {"fitted": 2}, Model("old"), {"test": np.ones(3)}, {}, attempt="old", staging=stale)
    path = folder.fold_path("m", 0)
    assert (path / "model.txt").read_text() == "new" and np.load(path / "test.npy").sum() == 0
    assert folder.finished_fold("m", 0)["files"]["model.txt"]
    assert not list(path.parent.glob(".fold-0.*"))  # no staging folder left behind


def test_a_dead_worker_without_claims_is_reported_at_once():
    from pipelines.core.errors import UserError

    start = time.perf_counter()
    with pytest.raises(UserError, match="a worker process died"):
        list(workers.run_all(os._exit, [3], workers.Workers(count=2), name=lambda _: "a task"))
    assert time.perf_counter() - start < 8  # not after the 10 s wait for claims that will never come


def test_a_collapsed_fold_is_said_at_once_and_again_beside_the_cv(tmp_path, in_tmp, capsys):
    from pipelines.engine.folds import collapse
    from pipelines.recipes.image import image_competition
    from pipelines.run import resolve_settings, run
    from tests.synthetic import make_pets

    one_class = np.tile([0.1, 0.8, 0.1], (6, 1))
    assert "predicts class 1 for every one of its 6 validation rows" in collapse(one_class, np.arange(6) % 3, [])
    assert collapse(np.eye(3)[np.arange(6) % 3], np.arange(6) % 3, [{"train_loss": 0.9, "valid_loss": 856.0}])
    assert collapse(np.eye(3)[np.arange(6) % 3], np.arange(6) % 3, [{"train_loss": 0.01, "valid_loss": 2.0}]) is None
    assert "predicts 3 for every one" in collapse(np.full(5, 3.0), np.arange(5.0), [])
    competition = image_competition(name="pets", slug="pets", id_column="id", target="label", metric="accuracy",
                                    size=16)
    data = make_pets(tmp_path / "pets")
    preset, params, folds, baseline = resolve_settings(competition, None, None, [
        "cnn.lr=100000", "cnn.widths=8,8,8", "cnn.max_epochs=3"], 2)  # a rate that wrecks the BatchNorm statistics
    run(competition, data, {"preset": preset, "baseline": baseline, "params": params, "folds": folds, "seed": 0,
                            "refit": False, "logger": "csv", "submission": "s.csv"})
    out = capsys.readouterr().out
    assert "warning: cnn fold 0 collapsed: " in out and "lower its learning rate (--set cnn.lr=..., now 100000)" in out
    assert "warning: cnn collapsed in folds 0, 1 of 2 (see above): its CV is not what it can do" in out


def test_mirror_is_the_competitions_choice(tmp_path):
    import torch

    from pipelines.recipes.image import image_competition
    from pipelines.training.augment import tta_views

    text = image_competition(name="digits", slug="d", id_column="id", target="label", metric="accuracy", size=8,
                             mirror=False)
    photos = image_competition(name="pets", slug="p", id_column="id", target="label", metric="accuracy", size=64)
    assert text.defaults["cnn.mirror"] is False and text.defaults["finetune.mirror"] is False
    assert photos.defaults["cnn.mirror"] is True
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    for view in tta_views(x, 2, mirror=False):  # the image and two translations, none of them mirrored
        assert not torch.equal(view, torch.flip(x, dims=[3]))
    assert len(tta_views(x, 2, mirror=False)) == 3 and len(tta_views(x, 2)) == 4


def test_a_dask_worker_with_other_code_refuses_the_task(monkeypatch):
    from types import SimpleNamespace

    from pipelines.core import progress
    from pipelines.core.errors import UserError
    from pipelines.record.runfolder import code_digest, require_code

    monkeypatch.setattr(progress, "dask_worker", lambda: SimpleNamespace(address="tcp://10.0.0.2:4000"))
    require_code("house_prices", code_digest("house_prices"))  # the same code: the task runs
    with pytest.raises(UserError, match="Dask worker tcp://10.0.0.2:4000 runs other code than the command"):
        require_code("house_prices", "0" * 64)


def test_a_model_that_ranks_a_rare_class_has_not_collapsed():
    from pipelines.engine.folds import collapse

    targets = (np.arange(100) < 5).astype(int)  # 5% positives
    ranked = np.column_stack([1 - np.linspace(0.05, 0.45, 100), np.linspace(0.05, 0.45, 100)])
    assert collapse(ranked, targets, []) is None  # the majority everywhere, but the probabilities rank the rows
    assert collapse(np.tile([0.9, 0.1], (100, 1)), targets, []) is not None  # one answer for every row
