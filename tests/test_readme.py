"""The README's "Add a competition" examples, run as a new user would on a generated table."""
import re

import numpy as np
import pandas as pd

from pipelines.run import resolve_settings, run
from tests.conftest import REPO


def readme_examples():
    text = (REPO / "README.md").read_text()
    section = text.split("## Add a competition", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


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


def test_the_add_a_competition_examples_run(tmp_path, in_tmp, capsys):
    examples = readme_examples()
    assert len(examples) == 3
    data = make_churn(tmp_path / "playground-series-s4e1")
    for index, code in enumerate(examples):
        namespace = {}
        exec(compile(code, f"README example {index + 1}", "exec"), namespace)  # noqa: S102 - our own README
        competition = namespace["COMPETITION"]
        assert competition.name == "bank_churn" and competition.metric.name == "roc_auc"
        quick = [f"{key}={value}" for key, value in (("lgbm.rounds", 100), ("catboost.rounds", 100),
                                                     ("xgb.rounds", 100)) if key in competition.declared()]
        preset, params, folds, baseline = resolve_settings(competition, None, None, quick, 3)
        settings = {"preset": preset, "baseline": baseline, "params": params, "folds": folds, "seed": 0,
                    "refit": False, "logger": "csv", "submission": f"s{index}.csv"}
        result, path = run(competition, data, settings)
        submission = pd.read_csv(path)
        assert list(submission.columns) == ["id", "Exited"] and submission.Exited.between(0, 1).all()
        assert result.mean > 0.8  # AUC on a learnable rule
