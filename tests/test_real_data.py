"""The real command on the real competition files (present in CI beside the repo)."""
import json
import subprocess
import sys

import pandas as pd

from tests.conftest import shared_data, subprocess_env


def default_run(name, data_dir, cwd, **read_options):
    """(submission, metrics.json) of `python -m pipelines.run NAME` on the real files."""
    done = subprocess.run([sys.executable, "-m", "pipelines.run", name, "--data-dir", str(data_dir)],
                          check=False, capture_output=True, text=True, env=subprocess_env(), cwd=cwd, timeout=600)
    assert done.returncode == 0, done.stderr
    submission = pd.read_csv(cwd / done.stdout.strip().splitlines()[-1], **read_options)
    [run_dir] = (cwd / "runs" / name).iterdir()
    return submission, json.loads((run_dir / "metrics.json").read_text())


def test_house_prices_default_run_on_real_data(tmp_path):
    data_dir = shared_data("house-prices-advanced-regression-techniques")
    submission, metrics = default_run("house_prices", data_dir, tmp_path)
    sample = pd.read_csv(data_dir / "sample_submission.csv")
    assert submission.Id.tolist() == sample.Id.tolist()
    assert submission.SalePrice.between(20_000, 1_500_000).all()
    assert len(metrics["folds"]) == 5
    assert metrics["mean"] < 0.13  # the D2L linear baseline scores about 0.17, one Lasso about 0.125
    best_member = min(member["mean"] for member in metrics["members"].values())
    assert metrics["mean"] < best_member  # the blend beats each of its members


def test_spaceship_titanic_default_run_on_real_data(tmp_path):
    data_dir = shared_data("spaceship-titanic")
    submission, metrics = default_run("spaceship_titanic", data_dir, tmp_path, dtype=str)
    sample = pd.read_csv(data_dir / "sample_submission.csv", dtype=str)
    assert submission.PassengerId.tolist() == sample.PassengerId.tolist()
    assert set(submission.Transported) == {"True", "False"}
    assert metrics["mean"] > 0.805  # 0.813 at seed 0; a majority guess scores 0.50
