import json
import subprocess
import sys

import pandas as pd
import pytest

from pipelines.run import main
from tests.conftest import subprocess_env

FAST = ["--set", "mlp.max_epochs=3", "--folds", "2"]


def test_run_writes_validated_submission_and_run_folder(house_dir, in_tmp, capsys):
    out = in_tmp / "out" / "sub.csv"
    main(["house_prices", "--data-dir", str(house_dir), "--submission", str(out), *FAST])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == str(out)
    assert any(line.startswith("CV rmsle: ") for line in lines)
    submission = pd.read_csv(out)
    sample = pd.read_csv(house_dir / "sample_submission.csv")
    assert list(submission.columns) == ["Id", "SalePrice"]
    assert submission.Id.tolist() == sample.Id.tolist()
    assert (submission.SalePrice > 0).all()

    [run_dir] = (in_tmp / "runs" / "house_prices").iterdir()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["params"]["mlp.max_epochs"] == 3 and config["folds"] == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["folds"]) == 2 and metrics["metric"] == "rmsle"
    oof = pd.read_csv(run_dir / "oof.csv")
    members = [f"prediction_{name}" for name in ("mlp", "lasso", "svr", "hgb", "gbr")]
    assert len(oof) == 150 and list(oof.columns) == ["Id", "target", "prediction", *members]
    assert (run_dir / "learning_curves_mlp.png").read_bytes()[:4] == b"\x89PNG"


def test_default_submission_path(house_dir, in_tmp, capsys):
    main(["house_prices", "--data-dir", str(house_dir), *FAST])
    path = capsys.readouterr().out.strip().splitlines()[-1]
    assert path.startswith("submissions/house_prices-") and path.endswith(".csv")
    assert (in_tmp / path).is_file()


def test_params_file(house_dir, in_tmp, capsys):
    params = in_tmp / "best.json"
    params.write_text(json.dumps({"mlp.hidden": 16, "mlp.max_epochs": 2}))
    main(["house_prices", "--data-dir", str(house_dir), "--params", str(params), "--folds", "2",
          "--submission", "s.csv"])
    [run_dir] = (in_tmp / "runs" / "house_prices").iterdir()
    assert json.loads((run_dir / "config.json").read_text())["params"]["mlp.hidden"] == 16


@pytest.mark.parametrize("args, message", [
    (["nope"], "unknown competition 'nope'"),
    (["house_prices", "--set", "depth=3"], "unknown parameter 'depth'"),
    (["house_prices", "--set", "mlp.max_epochs=many"], "expected a value of type int"),
    (["house_prices", "--folds", "0"], "--folds 0"),
    (["house_prices", "--params", "missing.json"], "--params missing.json: no such file"),
])
def test_bad_arguments_one_line_exit_2_nothing_written(args, message, house_dir, in_tmp, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--data-dir", str(house_dir), "--submission", "s.csv"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not (in_tmp / "s.csv").exists()


def test_bad_data_one_line_exit_2_nothing_written(house_dir, in_tmp, capsys):
    frame = pd.read_csv(house_dir / "train.csv").drop(columns="GrLivArea")
    frame.to_csv(house_dir / "train.csv", index=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["house_prices", "--data-dir", str(house_dir), "--submission", "s.csv", *FAST])
    assert exit_info.value.code == 2
    assert "has column 'GrLivArea' that train.csv lacks" in capsys.readouterr().err
    assert not (in_tmp / "s.csv").exists() and not (in_tmp / "runs").exists()


def test_command_line_error_has_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.run", "house_prices", "--data-dir", str(tmp_path / "none")],
        capture_output=True, text=True, env=subprocess_env(), cwd=tmp_path, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: data folder") and "Traceback" not in done.stderr
    assert done.stdout == ""
