"""Folds in worker processes: the same run as in one process, one clear error when a worker dies,
resuming what it left, a GPU owned by each worker, and the worker count chosen and checked."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from pipelines.core import devices
from pipelines.core.context import Context, active
from pipelines.core.errors import UserError
from pipelines.engine import workers
from pipelines.predict import main as predict_main
from pipelines.run import main as run_main
from pipelines.tune import main as tune_main
from tests.conftest import subprocess_env
from tests.record.test_runs import fails, run_dirs

# a tabular member and a Lightning member, each fold a task of its own
HOUSE = ["house_prices", "--folds", "3", "--set", "models=mlp,lasso", "--set", "mlp.max_epochs=6"]


def test_two_workers_give_the_run_of_one_process(house_dir, in_tmp, capfd):
    run_main([*HOUSE, "--data-dir", str(house_dir), "--workers", "1", "--submission", "one.csv"])
    run_main([*HOUSE, "--data-dir", str(house_dir), "--workers", "2", "--submission", "two.csv"])
    out = capfd.readouterr().out  # workers print to the same terminal: file descriptor 1
    assert "2 worker processes, 1 thread each" in out
    assert "mlp fold 2: rmsle" in out and "worker 1" in out and "worker 2" in out  # a line per (member, fold)
    one, two = run_dirs(in_tmp)
    assert (in_tmp / "one.csv").read_bytes() == (in_tmp / "two.csv").read_bytes()
    assert (one / "oof.csv").read_bytes() == (two / "oof.csv").read_bytes()
    first, second = (json.loads((folder / "metrics.json").read_text()) for folder in (one, two))
    assert first["mean"] == second["mean"] and first["blend_weights"] == second["blend_weights"]
    for name in ("test-mlp", "oof-lasso"):
        np.testing.assert_array_equal(np.load(one / f"predictions/{name}.npy"), np.load(two / f"predictions/{name}.npy"))
    workers_seen = {json.loads((two / f"members/{m}/fold-{k}/record.json").read_text())["worker"]
                    for m in ("mlp", "lasso") for k in range(3)}
    assert workers_seen == {"worker 1", "worker 2"}


def test_predict_on_workers_writes_the_run_submission(house_dir, in_tmp, capfd):
    run_main([*HOUSE, "--data-dir", str(house_dir), "--workers", "1", "--submission", "s.csv"])
    [folder] = run_dirs(in_tmp)
    predict_main([str(folder), "--workers", "2", "--submission", "p.csv"])
    assert capfd.readouterr().out.strip().splitlines()[-1] == "p.csv"
    assert (in_tmp / "p.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()


def test_a_killed_worker_fails_the_run_naming_its_fold_and_resume_finishes_it(house_dir, in_tmp, capfd):
    args = ["house_prices", "--data-dir", str(house_dir), "--folds", "4", "--set", "models=mlp,lasso",
            "--set", "mlp.max_epochs=300", "--set", "mlp.batch_size=64"]
    run_main([*args, "--workers", "1", "--submission", "uninterrupted.csv"])
    [reference] = run_dirs(in_tmp)
    process = subprocess.Popen([sys.executable, "-m", "pipelines.run", *args, "--workers", "2",
                                "--submission", "resumed.csv"], cwd=in_tmp, env=subprocess_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        victim = None
        while victim is None:  # an mlp fold just started (seconds of training ahead) once another has finished
            assert time.monotonic() < deadline and process.poll() is None, "no mlp fold started"
            for claim in in_tmp.glob("runs/house_prices/*/members/mlp/fold-*/worker.json"):
                run = claim.parent.parent.parent.parent
                if (run != reference and not (claim.parent / "record.json").exists()
                        and time.time() - claim.stat().st_mtime < 0.5
                        and any(run.glob("members/*/fold-*/record.json"))):
                    victim = claim
            time.sleep(0.05)
        pid = json.loads(victim.read_text())["pid"]
        os.kill(pid, signal.SIGKILL)  # a few seconds into a fold of 300 epochs
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    folder = victim.parent.parent.parent.parent
    [victim] = [claim for claim in folder.glob("members/*/fold-*/worker.json")  # what the killed worker had begun
                if json.loads(claim.read_text())["pid"] == pid and not (claim.parent / "record.json").exists()]
    member, fold = victim.parent.parent.name, victim.parent.name.split("-")[1]
    assert process.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"the worker training {member} fold {fold} died (SIGKILL: killed, or out of memory)" in lines[0], lines[0]
    assert f"--resume {folder.relative_to(in_tmp)}" in lines[0], lines[0]
    assert json.loads((folder / "status.json").read_text())["status"] == "failed"
    assert not (in_tmp / "resumed.csv").exists()
    assert not (victim.parent / "record.json").exists()

    capfd.readouterr()
    run_main([*args, "--workers", "2", "--resume", str(folder)])
    out = capfd.readouterr().out
    assert "loaded" in out and out.strip().splitlines()[-1] == "resumed.csv"
    assert (in_tmp / "resumed.csv").read_bytes() == (in_tmp / "uninterrupted.csv").read_bytes()
    assert (folder / "oof.csv").read_bytes() == (reference / "oof.csv").read_bytes()


def test_each_worker_owns_one_gpu(house_dir, in_tmp, monkeypatch, capfd):
    """Two (faked) GPUs: each worker records its own; sklearn members never touch the device."""
    monkeypatch.setattr(devices, "gpu_count", lambda: 2)
    run_main(["house_prices", "--data-dir", str(house_dir), "--folds", "4", "--set", "models=lasso,svr",
              "--workers", "auto", "--submission", "s.csv"])
    assert "2 worker processes, one GPU each" in capfd.readouterr().out
    [folder] = run_dirs(in_tmp)
    records = [json.loads(path.read_text()) for path in folder.glob("members/*/fold-*/record.json")]
    assert len(records) == 8
    owned = {record["worker"]: record["device"] for record in records}
    assert sorted(owned.values()) == ["cuda:0", "cuda:1"]  # one GPU a worker, never shared
    assert devices.trainer_devices() == {"accelerator": "auto", "devices": 1}  # this process owns none
    with active(Context(gpu=1)):  # a worker sees only the GPU it owns: CUDA device 0 there
        assert devices.trainer_devices() == {"accelerator": "gpu", "devices": [0]} and devices.describe() == "cuda:1"


def test_worker_count_auto_and_clamped(monkeypatch):
    monkeypatch.setattr(workers, "cpu_cores", lambda: 16)
    monkeypatch.setattr(devices, "gpu_count", lambda: 0)
    assert workers.plan("auto", tasks=25) == workers.Workers(count=16, threads=1)
    assert workers.plan("auto", tasks=5) == workers.Workers(count=5, threads=3)  # cores // workers threads
    assert workers.plan("auto", tasks=5, threads=2) == workers.Workers(count=5, threads=2)
    assert workers.plan(1, tasks=5) == workers.Workers(count=1, threads=3)  # threads never follow --workers
    said = []
    assert workers.plan(8, tasks=3, log=said.append).count == 3
    assert said == ["--workers 8: only 3 models to train, so 3 workers"]
    monkeypatch.setattr(devices, "gpu_count", lambda: 2)
    assert workers.plan("auto", tasks=10) == workers.Workers(count=2, threads=8, gpus=2)
    for text in ("0", "-1", "many"):
        with pytest.raises(UserError, match=f"--workers {text}: give a number"):
            workers.workers_argument(text)


@pytest.mark.parametrize("extra, message", [
    (["--workers", "0"], "--workers 0: give a number of worker processes"),
    (["--threads", "0"], "--threads 0: give 1 or more threads"),
    (["--cluster", "tcp://127.0.0.1:9"], "--cluster tcp://127.0.0.1:9: cannot reach a Dask scheduler there"),
])
def test_bad_worker_options(extra, message, house_dir, in_tmp, capsys):
    fails(run_main, ["house_prices", "--data-dir", str(house_dir), "--submission", "s.csv", *extra], capsys, message)
    assert not (in_tmp / "s.csv").exists() and not (in_tmp / "runs").exists()


def test_a_worker_that_cannot_see_the_data_folder(tmp_path):
    import competitions
    from pipelines.engine.folds import FoldTask, run_fold

    task = FoldTask(competition="house_prices", data_dir=str(tmp_path / "elsewhere"), folds=5, seed=0, fold=0,
                    params=competitions.get("house_prices").defaults, members=("lasso",))
    with active(Context(worker="worker 3")):
        with pytest.raises(UserError, match="worker 3 cannot see the data folder .*elsewhere: every worker must reach"):
            run_fold(task)


def test_a_task_runs_in_its_own_context_and_leaves_the_process_as_it_was(tmp_path):
    """What a worker ran before never changes what it runs next: a task's cache and attempt hold
    while it runs, and the worker's own context (its name, GPU, threads) is back after."""
    from pipelines.core.context import current
    from pipelines.engine.folds import FoldTask, task_context

    task = FoldTask(competition="house_prices", data_dir=None, params={}, folds=5, seed=0, fold=0, members=("lasso",),
                    cache_dir=str(tmp_path / "theirs"), attempt="a1")
    mine = Context(threads=3, gpu=1, worker="worker 2", cache_dir=tmp_path / "mine")
    with active(mine):
        with active(task_context(task)) as context:
            assert (context.cache_dir, context.attempt) == (tmp_path / "theirs", "a1")
            assert (context.threads, context.gpu, context.worker) == (3, 1, "worker 2")
            assert devices.describe() == "cuda:1"
        assert current() is mine
    assert current().worker is None and current().gpu is None


def dask_scheduler():
    address = os.environ.get("PIPELINES_TEST_DASK_SCHEDULER")
    if not address:
        pytest.skip("no Dask scheduler: set PIPELINES_TEST_DASK_SCHEDULER (.ci/run starts one with .ci/dask)")
    return address


def test_a_run_on_a_dask_cluster_gives_the_local_run(house_dir, in_tmp, capfd):
    address = dask_scheduler()
    run_main([*HOUSE, "--data-dir", str(house_dir), "--workers", "1", "--submission", "local.csv"])
    run_main([*HOUSE, "--data-dir", str(house_dir), "--cluster", address, "--submission", "cluster.csv"])
    out = capfd.readouterr().out
    assert f"2 Dask workers at {address}" in out and "(0.0s, worker tcp://" in out  # lines of the workers
    local, cluster = run_dirs(in_tmp)
    assert (in_tmp / "local.csv").read_bytes() == (in_tmp / "cluster.csv").read_bytes()
    assert (local / "oof.csv").read_bytes() == (cluster / "oof.csv").read_bytes()
    record = json.loads((cluster / "members/mlp/fold-1/record.json").read_text())
    assert record["worker"].startswith("worker tcp://")

    predict_main([str(cluster), "--cluster", address, "--submission", "predicted.csv"])
    assert (in_tmp / "predicted.csv").read_bytes() == (in_tmp / "cluster.csv").read_bytes()

    import optuna

    storage = f"sqlite:///{in_tmp / 'study.db'}"  # a file every worker on this machine sees
    tune_main(["house_prices", "--data-dir", str(house_dir), "--storage", storage, "--folds", "2", "--trials", "2",
               "--set", "models=lasso", "--cluster", address, "--no-pruning"])
    assert "2 trials in " in capfd.readouterr().out
    trials = optuna.load_study(study_name="house_prices-lasso", storage=storage).trials
    assert len(trials) == 2 and all(t.value is not None for t in trials)


@pytest.mark.parametrize("member", ["lgbm", "xgb", "catboost", "linear"])
def test_models_give_the_same_numbers_on_one_thread_or_two(member, tmp_path):
    """Workers change the threads each model gets (cores // workers), never its numbers."""
    from pipelines.recipes.tabular import tabular_competition
    from tests.synthetic import make_table

    competition = tabular_competition(name="t", slug="t", id_column="id", target="target", metric="log_loss",
                                      submission="probabilities", members=(member,))
    data = competition.load(make_table(tmp_path / "t", labels=("a", "b", "c"), n_train=600,
                                       sample_columns=["a", "b", "c"]))
    predictions = []
    for threads in (1, 2):
        view = competition.member_params(member, competition.defaults, 0, 3, threads)
        features = competition.members[member].features(data, view)
        X, X_test = features.fit_transform(data.X, data.y), features.transform(data.X_test)
        model = competition.members[member].model(view).fit(X, data.y)
        predictions.append(model.predict(X_test))
    np.testing.assert_array_equal(*predictions)


def test_gpus_are_found_without_the_linux_driver_folder(monkeypatch, tmp_path):
    import torch

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(devices, "DRIVER_SIGNS", (str(tmp_path / "proc-nvidia"), str(tmp_path / "dxg")))
    assert devices.gpu_count() == 0  # no sign of a driver: torch is not asked
    (tmp_path / "dxg").touch()  # WSL2 has /dev/dxg and no /proc/driver/nvidia
    assert devices.gpu_count() == 1


def test_dask_workers_that_would_share_a_gpu_are_named():
    said = []
    workers.warn_shared_gpus({"tcp://a:1": ("a", "0"), "tcp://a:2": ("a", "0"), "tcp://b:1": ("b", "0"),
                              "tcp://c:1": ("c", None)}, log=said.append)
    assert said == ["warning: 2 Dask workers on a would all train on its GPU 0; start GPU workers with dask-cuda "
                    "(`dask cuda worker SCHEDULER`), which gives each worker a GPU of its own"]
    said.clear()
    workers.warn_shared_gpus({"tcp://a:1": ("a", "0"), "tcp://a:2": ("a", "1")}, log=said.append)  # dask-cuda's
    assert said == []


def test_an_error_in_the_competitions_code_on_workers_is_one_line(house_dir, tmp_path, in_tmp):
    own = tmp_path / "own"
    own.mkdir()
    (own / "broken.py").write_text('''import time

from features.tabular import FrameStep
from pipelines.tabular import tabular_competition


class Broken(FrameStep):
    def add(self, frame):
        if len(frame) < 110:  # a validation fold: the training folds of other tasks are under way
            time.sleep(1)
            return frame["Nope"]


COMPETITION = tabular_competition(name="broken", slug="broken", id_column="Id", target="SalePrice",
                                  metric="rmse", features=[Broken()], members=("linear", "lgbm"))
''')
    done = subprocess.run([sys.executable, "-m", "pipelines.run", "broken", "--data-dir", str(house_dir), "--folds", "5",
                           "--workers", "2"], cwd=in_tmp, env={**subprocess_env(), "PIPELINES_COMPETITIONS": str(own)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: KeyError: 'Nope' in Broken.add ({own / 'broken.py'}:11); rerun with --debug for the whole traceback"]


@pytest.mark.parametrize("error, message", [
    ("killed", "house_prices fold 1 was lost: the Dask workers running it died"),
    ("closed", "lost the Dask cluster while running house_prices fold 1 (connection gone)"),
    ("cancelled", "lost the Dask cluster while running house_prices fold 1 (CancelledError)"),
])
def test_a_lost_dask_task_is_told_by_its_type(error, message):
    from concurrent.futures import CancelledError, Future

    from distributed import KilledWorker
    from distributed.comm.core import CommClosedError

    from pipelines.engine.workers import task_result

    future = Future()
    made = {"killed": lambda: KilledWorker("task", "worker", 3), "closed": lambda: CommClosedError("connection gone"),
            "cancelled": CancelledError}
    future.set_exception(made[error]())
    with pytest.raises(UserError, match=re.escape(message)):
        task_result(future, "task", [], workers.FirstFailure(None, []), lambda task: "house_prices fold 1", "")


def test_an_error_named_like_a_dask_one_is_not_taken_for_it():
    from concurrent.futures import Future

    from pipelines.engine.workers import task_result

    class KilledWorker(Exception):  # a competition's own error that happens to share Dask's name
        pass

    future = Future()
    future.set_exception(KilledWorker("mine"))
    with pytest.raises(KilledWorker, match="mine"):
        task_result(future, "task", [], workers.FirstFailure(None, []), lambda task: "house_prices fold 1", "")


def test_the_first_failure_asks_once_who_died():
    from concurrent.futures import Future

    asked = []
    first = workers.FirstFailure(lambda tasks: asked.append(tasks) or ["lasso fold 2"], ["a", "b"])
    done, failed, again = Future(), Future(), Future()
    done.set_result(1)
    failed.set_exception(RuntimeError("worker gone"))
    again.set_exception(RuntimeError("another"))
    for future in (done, failed, again):
        first(future)
    assert asked == [["a", "b"]] and first.dead() == ["lasso fold 2"]
    assert workers.FirstFailure(None, []).dead(timeout=0) is None  # nothing to ask: no wait
