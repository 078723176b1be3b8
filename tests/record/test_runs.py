"""Run folders: what a run records, predicting from it offline, resuming it, refitting, the table of runs."""
import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from pipelines import blend as blend_cli
from pipelines import predict as predict_cli
from pipelines import runs as runs_cli
from pipelines.core.files import file_record, sha256
from pipelines.run import main as run_main
from tests.conftest import subprocess_env
from tests.synthetic import make_cifar, make_dog_breeds

HOUSE = ["--set", "models=mlp,lasso", "--set", "mlp.max_epochs=4", "--folds", "3"]


def run_dirs(root, name="house_prices"):
    return sorted(path for path in (root / "runs" / name).iterdir() if path.is_dir())


def fails(main, argv, capsys, message):
    """One line on stderr naming the problem, exit code 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    return err[0]


def test_run_folder_records_the_run(house_dir, in_tmp, capsys):
    run_main(["house_prices", "--data-dir", str(house_dir), "--submission", "s.csv", *HOUSE])
    [folder] = run_dirs(in_tmp)
    config = json.loads((folder / "config.json").read_text())
    assert config["members"] == ["mlp", "lasso"] and config["folds"] == 3 and config["seed"] == 0
    assert config["params"]["mlp.max_epochs"] == 4 and config["baseline"]["mlp.max_epochs"] == 40
    assert set(config["versions"]) >= {"python", "torch", "pytorch-lightning", "scikit-learn", "optuna"}
    assert set(config["code"]) == {"commit", "dirty", "digest", "files"}
    assert {"pipelines/engine/folds.py", "competitions/house_prices.py", "features/house.py"} <= set(config["code"]["files"])
    assert config["inputs"]["train.csv"] == {"size": (house_dir / "train.csv").stat().st_size,
                                            "sha256": sha256(house_dir / "train.csv")}
    assert set(config["inputs"]) == {"train.csv", "test.csv", "sample_submission.csv", "data_description.txt"}
    assert config["train_schema"]["columns"][:2] == ["MSSubClass", "LotArea"]

    status = json.loads((folder / "status.json").read_text())
    assert status["status"] == "complete" and status["submission"] == "s.csv"
    assert status["submission_sha256"] == sha256(in_tmp / "s.csv")
    for member in ("mlp", "lasso"):
        for fold in range(3):
            record = json.loads((folder / "members" / member / f"fold-{fold}" / "record.json").read_text())
            assert record["fold"] == fold and np.isfinite(record["score"])
            for name, file in record["files"].items():
                assert sha256(folder / "members" / member / f"fold-{fold}" / name) == file["sha256"]
    assert (folder / "members/mlp/fold-0/model.ckpt").is_file()
    assert (folder / "members/lasso/fold-0/model.skops").is_file()
    # the two members use different preprocessing, so each saved its own fitted features
    assert (folder / "members/mlp/fold-0/features.skops").is_file()

    # predictions in model space for each member and the blend, with what blending runs needs
    oof, target = np.load(folder / "predictions/oof.npy"), np.load(folder / "predictions/target.npy")
    assert oof.shape == (150,) and np.isfinite(oof).all() and target.shape == (150,)
    assert sorted(np.unique(np.load(folder / "predictions/folds.npy")).tolist()) == [0, 1, 2]
    assert np.load(folder / "predictions/test-mlp.npy").shape == (60,)
    metrics = json.loads((folder / "metrics.json").read_text())
    weights = np.array(list(metrics["blend_weights"].values()))
    stacked = np.stack([np.load(folder / f"predictions/test-{m}.npy") for m in ("mlp", "lasso")])
    np.testing.assert_allclose(np.load(folder / "predictions/test.npy"), weights @ stacked)

    # metrics through Lightning's CSVLogger, and learning curves drawn from them
    logged = pd.read_csv(folder / "members/mlp/fold-0/logs/csv/metrics.csv")
    assert {"train_loss", "valid_loss", "epoch_seconds"} <= set(logged.columns) and logged.epoch.max() == 3
    assert (folder / "learning_curves_mlp.png").read_bytes()[:4] == b"\x89PNG"
    assert not (folder / "learning_curves_lasso.png").exists()  # no epochs, no curve


def test_members_sharing_a_recipe_share_its_fit(house_dir, in_tmp, capsys):
    run_main(["house_prices", "--data-dir", str(house_dir), "--submission", "s.csv", "--folds", "2",
              "--set", "models=lasso,svr"])
    [folder] = run_dirs(in_tmp)
    lasso = json.loads((folder / "members/lasso/fold-1/record.json").read_text())
    svr = json.loads((folder / "members/svr/fold-1/record.json").read_text())
    assert lasso["features"] == svr["features"] and svr["features"]["path"] == "members/lasso/fold-1/features.skops"
    assert not (folder / "members/svr/fold-1/features.skops").exists()


def test_predict_reproduces_the_run_and_needs_only_the_test_files(house_dir, in_tmp, tmp_path, capsys):
    run_main(["house_prices", "--data-dir", str(house_dir), "--submission", "s.csv", *HOUSE])
    [folder] = run_dirs(in_tmp)
    predict_cli.main([str(folder), "--submission", "p.csv"])
    assert capsys.readouterr().out.strip().splitlines()[-1] == "p.csv"
    assert (in_tmp / "p.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()

    # another machine: a copy of the run folder and the test files only, no kaggle, no training files
    other = tmp_path / "elsewhere"
    shutil.copytree(folder, other / "run")
    (other / "data").mkdir()
    for name in ("test.csv", "sample_submission.csv"):
        shutil.copy(house_dir / name, other / "data" / name)
    script = ("import sys; from pipelines.predict import main\n"
              "try:\n    main(sys.argv[1:])\nfinally:\n    assert 'kaggle' not in sys.modules, 'kaggle was imported'\n")
    done = subprocess.run([sys.executable, "-c", script, "run", "--data-dir", "data", "--submission", "q.csv"],
                          cwd=other, capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    assert (other / "q.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()


def test_predict_a_new_test_set_with_other_ids(house_dir, in_tmp, tmp_path, capsys):
    run_main(["house_prices", "--data-dir", str(house_dir), "--submission", "s.csv", *HOUSE])
    [folder] = run_dirs(in_tmp)
    new = tmp_path / "new"
    new.mkdir()
    test = pd.read_csv(house_dir / "test.csv").iloc[::-3].copy()
    test["Id"] = test["Id"] + 1000
    test = test[list(reversed(test.columns))]  # columns in another order are fine
    test.to_csv(new / "test.csv", index=False)
    pd.DataFrame({"Id": test.Id, "SalePrice": 0.0}).to_csv(new / "sample_submission.csv", index=False)
    predict_cli.main([str(folder), "--data-dir", str(new), "--submission", "new.csv"])
    predicted = pd.read_csv(in_tmp / "new.csv")
    assert predicted.Id.tolist() == test.Id.tolist()
    original = pd.read_csv(in_tmp / "s.csv").set_index("Id")
    np.testing.assert_allclose(predicted.SalePrice, original.loc[test.Id - 1000, "SalePrice"], rtol=1e-9)


def test_predict_refuses_bad_run_folders_and_test_files(house_dir, in_tmp, tmp_path, capsys):
    run_main(["house_prices", "--data-dir", str(house_dir), "--submission", "s.csv", *HOUSE])
    [folder] = run_dirs(in_tmp)
    capsys.readouterr()
    fails(predict_cli.main, [str(tmp_path / "nothing")], capsys, "not found")
    fails(predict_cli.main, [str(house_dir)], capsys, "is not a run folder")

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    test = pd.read_csv(house_dir / "test.csv").drop(columns="GrLivArea")
    test.to_csv(wrong / "test.csv", index=False)
    shutil.copy(house_dir / "sample_submission.csv", wrong)
    fails(predict_cli.main, [str(folder), "--data-dir", str(wrong), "--submission", "x.csv"], capsys,
          "lacks column 'GrLivArea'")

    model = folder / "members/lasso/fold-1/model.skops"
    original = model.read_bytes()
    model.write_bytes(original[:-10] + b"0123456789")
    fails(predict_cli.main, [str(folder), "--submission", "x.csv"], capsys, "fold-1/model.skops changed after")
    model.write_bytes(original)

    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps({**status, "status": "running", "pid": 0}))
    fails(predict_cli.main, [str(folder), "--submission", "x.csv"], capsys, "the run is running, not complete")
    (folder / "status.json").write_text(json.dumps(status))

    cifar = make_cifar(tmp_path / "cifar-10", n_train=10, n_test=5)
    fails(predict_cli.main, [str(folder), "--data-dir", str(cifar), "--submission", "x.csv"], capsys,
          "test.csv not found")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "competition": "cifar10"}))
    fails(predict_cli.main, [str(folder), "--submission", "x.csv"], capsys, "config.json changed after")
    assert not (in_tmp / "x.csv").exists()


def test_an_untrusted_type_in_a_model_file_is_refused(tmp_path):
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    from pipelines.core.errors import UserError
    from pipelines.core.persist import load_object, save_object
    from pipelines.kaggle import rehearsal

    path = tmp_path / "model.skops"
    skops.io.dump({"f": print}, path)  # a builtin function: skops lists it as untrusted
    with pytest.raises(UserError, match="would load builtins.print, not a type of this project"):
        load_object(path)
    # a function of ours that runs a subprocess, in a file whose record lists it: a function is never trusted
    save_object(FunctionTransformer(func=rehearsal.rehearse), path)
    with pytest.raises(UserError, match="would load pipelines.kaggle.rehearsal.rehearse, not a class"):
        load_object(path)
    save_object(FunctionTransformer(), path)  # what the run saved and recorded ...
    skops.io.dump(FunctionTransformer(func=rehearsal.rehearse), path)  # ... and what was put there after
    with pytest.raises(UserError, match="holds pipelines.kaggle.rehearsal.rehearse, which the run did not record saving"):
        load_object(path)
    save_object(FunctionTransformer(), path)
    assert isinstance(load_object(path), FunctionTransformer)


def wait_for(path, seconds=120):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_resume_after_sigkill_finishes_like_an_uninterrupted_run(house_dir, in_tmp, capsys):
    args = ["house_prices", "--data-dir", str(house_dir), "--folds", "4", "--set", "models=mlp,lasso",
            "--set", "mlp.max_epochs=150", "--set", "mlp.batch_size=64"]
    run_main([*args, "--submission", "uninterrupted.csv"])
    [reference] = run_dirs(in_tmp)
    capsys.readouterr()

    process = subprocess.Popen([sys.executable, "-m", "pipelines.run", *args, "--submission", "resumed.csv"],
                               cwd=in_tmp, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(run_dirs(in_tmp)) < 2:
            assert time.monotonic() < deadline and process.poll() is None, "the run did not start"
            time.sleep(0.05)
        folder = next(path for path in run_dirs(in_tmp) if path != reference)
        wait_for(folder / "members/lasso/fold-1/record.json")
        time.sleep(0.3)  # into fold 2's training
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (folder / "members/mlp/fold-2/record.json").exists(), "killed too late: fold 2 had finished"
    assert json.loads((folder / "status.json").read_text())["status"] == "running"
    assert not (in_tmp / "resumed.csv").exists()
    finished = {path: path.read_bytes() for path in (folder / "members").rglob("*")
                if path.is_file() and ("fold-0" in path.parts or "fold-1" in path.parts)}

    fails(predict_cli.main, [str(folder)], capsys, "the run is running, not complete")
    run_main([*args, "--resume", str(folder)])
    out = capsys.readouterr().out
    assert "mlp fold 0: rmsle" in out and "loaded" in out.split("mlp fold 0")[1].splitlines()[0]
    assert "loaded" not in out.split("mlp fold 2")[1].splitlines()[0]
    assert out.strip().splitlines()[-1] == "resumed.csv"  # the run's own submission path
    assert (in_tmp / "resumed.csv").read_bytes() == (in_tmp / "uninterrupted.csv").read_bytes()
    assert (folder / "oof.csv").read_bytes() == (reference / "oof.csv").read_bytes()
    metrics, expected = (json.loads((f / "metrics.json").read_text()) for f in (folder, reference))
    assert metrics["mean"] == expected["mean"] and metrics["blend_weights"] == expected["blend_weights"]
    assert all(path.read_bytes() == data for path, data in finished.items())  # finished folds not rewritten


def test_resume_refuses_other_settings_and_finished_runs(house_dir, in_tmp, capsys):
    args = ["house_prices", "--data-dir", str(house_dir), "--submission", "s.csv", *HOUSE]
    run_main(args)
    [folder] = run_dirs(in_tmp)
    status = json.loads((folder / "status.json").read_text())
    fails(run_main, [*args, "--resume", str(folder)], capsys, "is already complete")
    (folder / "status.json").write_text(json.dumps({**status, "status": "failed"}))
    fails(run_main, [*args, "--seed", "1", "--resume", str(folder)], capsys,
          "seed: the run has 0, this command 1")
    fails(run_main, [*args, "--folds", "2", "--resume", str(folder)], capsys, "folds: the run has 3")
    fails(run_main, [*args, "--set", "mlp.lr=0.5", "--resume", str(folder)], capsys,
          "parameter mlp.lr: the run has 0.01")
    import socket

    with subprocess.Popen(["sleep", "30"]) as writer:  # another live process still writing the run
        (folder / "status.json").write_text(json.dumps({**status, "status": "running", "pid": writer.pid,
                                                        "host": socket.gethostname()}))
        fails(run_main, [*args, "--resume", str(folder)], capsys, f"still being written by process {writer.pid}")
        writer.kill()
    frame = pd.read_csv(house_dir / "train.csv")
    frame.loc[0, "LotArea"] = 1.0
    frame.to_csv(house_dir / "train.csv", index=False)
    fails(run_main, [*args, "--resume", str(folder)], capsys, "data file train.csv: its contents differ")
    assert len(run_dirs(in_tmp)) == 1  # no run folder was started


def test_refit_trains_on_all_rows_and_predict_uses_those_models(house_dir, in_tmp, capsys):
    run_main(["house_prices", "--data-dir", str(house_dir), "--submission", "s.csv", "--refit", *HOUSE])
    out = capsys.readouterr().out
    assert "mlp refit on all training rows" in out
    [folder] = run_dirs(in_tmp)
    record = json.loads((folder / "members/mlp/full/record.json").read_text())
    assert record["train_rows"] == 150 and record["score"] is None
    fold_average = np.mean([np.load(folder / f"members/lasso/fold-{k}/test.npy") for k in range(3)], axis=0)
    refit = np.load(folder / "members/lasso/full/test.npy")
    np.testing.assert_array_equal(np.load(folder / "predictions/test-lasso.npy"), refit)
    assert not np.allclose(refit, fold_average)
    predict_cli.main([str(folder), "--submission", "p.csv"])
    assert (in_tmp / "p.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()


@pytest.mark.parametrize("name, make, argv", [
    ("cifar10", lambda root: make_cifar(root / "cifar-10", n_train=60, n_test=20),
     ["--folds", "2", "--set", "cnn.max_epochs=2", "--set", "cnn.widths=8,8,8", "--set", "cnn.batch_size=16"]),
    ("dog_breeds", lambda root: make_dog_breeds(root / "dog-breed-identification", n_test=6),
     ["--folds", "2", "--set", "models=tiny", "--set", "image_size=64", "--set", "tiny.max_epochs=2"]),
    ("dog_breeds", lambda root: make_dog_breeds(root / "dog-breed-identification", n_test=4),
     ["--preset", "gpu", "--folds", "2", "--set", "finetune.backbone=tiny", "--set", "image_size=64",
      "--set", "finetune.max_epochs=1", "--set", "finetune.batch_size=32", "--set", "finetune.unfreeze=1",
      "--set", "finetune.num_workers=0"]),
])
def test_predict_reproduces_image_runs_offline(name, make, argv, in_tmp, tmp_path, capsys):
    data_dir = make(tmp_path)
    run_main([name, "--data-dir", str(data_dir), "--submission", "s.csv", *argv])
    [folder] = run_dirs(in_tmp, name)
    shutil.rmtree(in_tmp / "cache")  # a cold cache: predict decodes (and embeds) the test images itself
    test_only = tmp_path / "test-only"
    test_only.mkdir()
    for path in data_dir.iterdir():
        if path.name.startswith(("test", "sample")):
            shutil.copy(path, test_only)
    predict_cli.main([str(folder), "--data-dir", str(test_only), "--submission", "p.csv"])
    assert (in_tmp / "p.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()
    test = np.load(folder / "predictions/test.npy")
    assert test.shape[1] == (10 if name == "cifar10" else 120)  # class probabilities, not labels
    np.testing.assert_allclose(test.sum(axis=1), 1, atol=1e-5)


def test_a_run_folder_made_before_a_parameter_existed_still_predicts(in_tmp, tmp_path):
    data_dir = make_cifar(tmp_path / "cifar-10", n_train=60, n_test=20)
    run_main(["cifar10", "--data-dir", str(data_dir), "--submission", "s.csv", "--folds", "2", "--set",
              "cnn.max_epochs=1", "--set", "cnn.widths=8,8,8", "--set", "cnn.batch_size=16"])
    [folder] = run_dirs(in_tmp, "cifar10")
    config = json.loads((folder / "config.json").read_text())
    for added in ("cnn.threads", "cnn.mirror", "cnn.min_size"):  # declared after older runs were made
        del config["params"][added]
    (folder / "config.json").write_text(json.dumps(config))
    status = json.loads((folder / "status.json").read_text())
    status["files"]["config.json"] = file_record(folder / "config.json")  # as that version wrote it
    (folder / "status.json").write_text(json.dumps(status))
    predict_cli.main([str(folder), "--submission", "p.csv"])
    assert (in_tmp / "p.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()


def test_table_of_runs_best_first_with_changed_params_and_public_score(house_dir, in_tmp, capsys):
    run_main(["house_prices", "--data-dir", str(house_dir), "--submission", "a.csv", "--folds", "2",
              "--set", "models=lasso"])
    run_main(["house_prices", "--data-dir", str(house_dir), "--submission", "b.csv", "--folds", "2",
              "--set", "models=lasso", "--set", "lasso.alpha=0.05"])
    a, b = run_dirs(in_tmp)
    (in_tmp / "runs/house_prices/kaggle-submissions.json").write_text(json.dumps(
        [{"ref": 7, "file": "b.csv", "sha256": sha256(in_tmp / "b.csv"), "public": "0.13210"}]))
    capsys.readouterr()
    runs_cli.main(["house_prices", "--csv"])
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert table.run_dir.tolist() == [str(a.relative_to(in_tmp)), str(b.relative_to(in_tmp))]  # lower RMSLE first
    assert table.cv.is_monotonic_increasing and table.status.tolist() == ["complete"] * 2
    assert table.changed.tolist() == ["models=lasso", "models=lasso lasso.alpha=0.05"]
    assert table.public_score.isna().tolist() == [True, False] and table.public_score[1] == pytest.approx(0.1321)
    assert table.members.tolist() == ["lasso", "lasso"] and table.folds.tolist() == [2, 2]
    runs_cli.main([])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("started") and "0.13210" in lines[2] and len(lines) == 3
    fails(runs_cli.main, ["titanic"], capsys, "unknown competition 'titanic'")


def test_blend_runs_into_a_run_folder_that_predict_reproduces(house_dir, in_tmp, capsys):
    common = ["house_prices", "--data-dir", str(house_dir), "--folds", "3"]
    run_main([*common, "--set", "models=lasso", "--submission", "a.csv"])
    run_main([*common, "--set", "models=hgb", "--set", "hgb.max_iter=60", "--submission", "b.csv"])
    a, b = run_dirs(in_tmp)
    capsys.readouterr()
    blend_cli.main([str(a), str(b), "--submission", "blend.csv"])
    out = capsys.readouterr().out
    assert f"house_prices/{a.name}: CV rmsle" in out and "blend weights:" in out
    [blended] = [path for path in run_dirs(in_tmp) if path not in (a, b)]
    metrics = json.loads((blended / "metrics.json").read_text())
    assert sum(metrics["blend_weights"].values()) == pytest.approx(1)
    scores = [json.loads((f / "metrics.json").read_text())["mean"] for f in (a, b)]
    assert metrics["mean"] <= max(scores)
    predict_cli.main([str(blended), "--submission", "again.csv"])
    assert (in_tmp / "again.csv").read_bytes() == (in_tmp / "blend.csv").read_bytes()
    capsys.readouterr()

    run_main([*common[:-1], "2", "--set", "models=lasso", "--submission", "c.csv"])
    [c] = [path for path in run_dirs(in_tmp) if path not in (a, b, blended)]
    fails(blend_cli.main, [str(a), str(c), "--submission", "bad.csv"], capsys, "have different splits")
    fails(blend_cli.main, [str(a)], capsys, "two or more run folders")
    assert not (in_tmp / "bad.csv").exists()


def test_blend_image_runs_whose_ids_are_text(tmp_path, in_tmp, capsys):
    folder = make_cifar(tmp_path / "cifar-10", n_train=60, n_test=12)
    common = ["cifar10", "--data-dir", str(folder), "--folds", "2", "--set", "cnn.widths=8,8,8",
              "--set", "cnn.batch_size=16"]
    run_main([*common, "--set", "cnn.max_epochs=1", "--submission", "a.csv"])
    run_main([*common, "--set", "cnn.max_epochs=2", "--submission", "b.csv"])
    a, b = sorted((in_tmp / "runs" / "cifar10").iterdir())
    blend_cli.main([str(a), str(b), "--submission", "blend.csv"])
    submission = pd.read_csv(in_tmp / "blend.csv")
    assert submission.id.tolist() == pd.read_csv(folder / "sampleSubmission.csv").id.tolist()
    [blended] = [path for path in (in_tmp / "runs" / "cifar10").iterdir() if path not in (a, b)]
    predict_cli.main([str(blended), "--submission", "again.csv"])
    assert (in_tmp / "again.csv").read_bytes() == (in_tmp / "blend.csv").read_bytes()


def test_tensorboard_logger(house_dir, in_tmp, capsys):
    pytest.importorskip("tensorboard")
    run_main(["house_prices", "--data-dir", str(house_dir), "--submission", "s.csv", "--folds", "2",
              "--set", "models=mlp", "--set", "mlp.max_epochs=2", "--logger", "tensorboard"])
    [folder] = run_dirs(in_tmp)
    assert list((folder / "members/mlp/fold-0/logs/tensorboard").glob("events.out.tfevents.*"))
    assert (folder / "members/mlp/fold-0/logs/csv/metrics.csv").is_file()
