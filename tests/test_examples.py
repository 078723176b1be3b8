"""Every competition file the README shows is a file in examples/, and each runs as a new user would
run it (PIPELINES_COMPETITIONS=examples) on data generated in its competition's layout."""
import re
import sys

import numpy as np
import pandas as pd
import pytest

import competitions
from pipelines.run import main as run_main
from tests.conftest import REPO
from tests.synthetic import make_pets, make_tweets, write_images

EXAMPLES = REPO / "examples"


def readme_blocks():
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


def make_churn(folder, n_train=300, n_test=80, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    n = n_train + n_test
    frame = pd.DataFrame({"id": np.arange(n), "CreditScore": rng.integers(350, 850, n),
                          "Geography": rng.choice(["France", "Spain", "Germany"], n),
                          "Age": rng.integers(18, 90, n), "Balance": rng.exponential(60_000, n).round(2),
                          "NumOfProducts": rng.integers(0, 4, n), "Surname": [f"S{i}" for i in range(n)]})
    frame["Exited"] = ((frame.Age > 50) | (frame.Geography == "Germany")) & (rng.random(n) < 0.9)
    frame["Exited"] = frame.Exited.astype(int)
    frame.iloc[:n_train].to_csv(folder / "train.csv", index=False)
    frame.iloc[n_train:].drop(columns="Exited").to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"id": frame.id[n_train:], "Exited": 0.5}).to_csv(folder / "sample_submission.csv", index=False)
    return folder


def make_digits(folder, n_train=300, n_test=60):
    """scikit-learn's bundled 8x8 digits in Kaggle's image layout, ids with leading zeros."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images[:n_train + n_test] * 255 / 16).astype(np.uint8)
    ids = [f"{i:05d}" for i in range(len(images))]
    folder.mkdir(parents=True)
    write_images(folder, "train", dict(zip(ids[:n_train], images[:n_train])), "folder")
    write_images(folder, "test", dict(zip(ids[n_train:], images[n_train:])), "folder")
    pd.DataFrame({"id": ids[:n_train], "label": data.target[:n_train]}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"id": ids[n_train:], "label": 0}).to_csv(folder / "sample_submission.csv", index=False)
    return folder


TABLE = ["--set", "lgbm.rounds=100", "--folds", "3"]
CASES = {  # example -> (data maker, quick settings, what its submission holds)
    "bank_churn": (make_churn, [*TABLE, "--set", "catboost.rounds=100", "--set", "xgb.rounds=100"], "Exited"),
    "bank_churn_features": (make_churn, [*TABLE, "--set", "catboost.rounds=100", "--set", "xgb.rounds=100"],
                            "Exited"),
    "bank_churn_forest": (make_churn, TABLE, "Exited"),
    "pets": (make_pets, ["--set", "models=tiny", "--folds", "3"], "label"),
    "brightness": (lambda folder: make_pets(folder, regression=True),
                   ["--set", "cnn.widths=16,16,16", "--set", "cnn.max_epochs=10", "--folds", "2"], "score"),
    "digits": (make_digits, ["--set", "cnn.widths=16,16,16", "--folds", "3"], "label"),
    "sentiment": (make_tweets, ["--folds", "3", "--set", "models=tfidf"], "negative"),
}


def test_every_readme_competition_is_an_example_file():
    files = {path.stem: path.read_text() for path in EXAMPLES.glob("*.py")}
    declared = [block for block in readme_blocks() if "COMPETITION = " in block]
    assert sorted(files) == sorted(CASES)
    for block in declared:  # the README shows each file whole, as it is
        assert block in files.values(), block.splitlines()[0]
    assert len(declared) == len(files)


@pytest.fixture
def examples_folder(monkeypatch):
    monkeypatch.setenv("PIPELINES_COMPETITIONS", str(EXAMPLES))
    monkeypatch.setattr(competitions, "__path__", [*competitions.__path__, str(EXAMPLES)])
    yield
    for name in CASES:
        sys.modules.pop(f"competitions.{name}", None)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_example_runs_as_the_readme_says(name, examples_folder, tmp_path, in_tmp, capsys):
    make, quick, target = CASES[name]
    data = make(tmp_path / "data")
    run_main([name, "--data-dir", str(data), "--submission", "s.csv", *quick])
    out = capsys.readouterr().out
    submission = pd.read_csv(in_tmp / "s.csv", dtype={"id": str})
    sample = pd.read_csv(data / "sample_submission.csv", dtype={"id": str})
    assert list(submission.columns) == list(sample.columns) and submission.id.tolist() == sample.id.tolist()
    score = float(re.search(r"^CV \w+: (-?[0-9.]+)", out, flags=re.M).group(1))
    if name.startswith("bank_churn"):
        assert score > 0.8  # AUC on a learnable rule
    elif name == "brightness":
        assert score < pd.read_csv(data / "train.csv").score.std()  # better than the mean
    elif name == "sentiment":
        assert score < 0.6  # log loss; a uniform guess scores log(3) = 1.10
    else:
        assert score > 0.8  # pets: the colour tells the class (chance 1/3); digits: chance 1/10
