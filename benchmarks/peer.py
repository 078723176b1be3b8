"""Our default tabular run side by side with AutoGluon, the peer a competitor would pick instead.

    python -m benchmarks.peer --autogluon PYTHON [--datasets house,spaceship,synthetic,gems,tweets,urgency]
        [--seed 11] [--best-factor 5]

Each dataset's training rows are split 80/20 once (a seeded holdout, by travel group for Spaceship
Titanic); the 80% becomes a competition folder in Kaggle's layout and the 20% its test set, whose
labels only this script knows. On it, one after the other: our default run (`python -m
pipelines.run NAME`, default workers), AutoGluon `medium_quality` with our run's wall time as its
time_limit, and AutoGluon `best_quality` with five times that. Each is scored on the holdout with
the competition's metric; the wall times and ratios are printed. Text: `tweets` is the shared
tweet-sentiment (log loss, a probability column per class); `urgency` its tweets beside synthetic
account columns and a number that mixes their sentiment with those columns (make_urgency). Ours
starts each dataset with an empty cache, so its time (the peer's limit) includes embedding the text.

AutoGluon is never a dependency of the project: it lives in a virtual environment of its own,
whose python this script is given (--autogluon). Make it with torch installed first, so nothing
pulls CUDA packages:

    python3 -m venv ~/autogluon && ~/autogluon/bin/pip install torch==2.13.0 && \\
        ~/autogluon/bin/pip install "autogluon.tabular[lightgbm,catboost,xgboost]==1.6.3"

(without the extras AutoGluon skips its LightGBM, CatBoost and XGBoost models, saying so only in
its log). A peer that runs past four times its limit (plus two minutes) is stopped and reported.

House Prices is given to AutoGluon as log1p(SalePrice) with RMSE (the competition's RMSLE), the
others as they are, with their raw columns (no feature work), as a new AutoGluon user would.
Run it alone on the machine.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.parallel import SYNTHETIC, make_table

GEMS = '''"""A synthetic gem-price table for benchmarks: a skewed positive price scored by RMSE."""
from pipelines.tabular import tabular_competition

COMPETITION = tabular_competition(name="synthetic_gems", slug="synthetic-gems", id_column="id", target="price",
                                  metric="rmse")
'''


def make_gems(folder, rows, seed=0):
    """Diamond-like rows: carat, cut, colour, clarity and dimensions; a price that grows as a power
    of carat, with quality steps and noise (so skewed, positive, and best learnt in log space)."""
    rng = np.random.default_rng(seed)
    carat = np.round(rng.gamma(2.0, 0.4, rows) + 0.2, 2)
    cut, colour, clarity = (rng.integers(0, k, rows) for k in (5, 7, 8))
    log_price = (8.3 + 1.7 * np.log(carat) + 0.06 * cut - 0.07 * colour + 0.09 * clarity
                 + rng.normal(0, 0.12, rows))
    frame = pd.DataFrame({
        "id": np.arange(rows), "carat": carat,
        "cut": np.array(["Fair", "Good", "Very Good", "Premium", "Ideal"])[cut],
        "color": np.array(list("JIHGFED"))[colour],
        "clarity": np.array(["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"])[clarity],
        "depth": np.round(rng.normal(61.7, 1.4, rows), 1), "table": np.round(rng.normal(57.4, 2.2, rows), 0),
        "x": np.round(6.5 * carat ** (1 / 3) + rng.normal(0, 0.05, rows), 2),
        "price": np.round(np.exp(log_price)),
    })
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "train.csv", index=False)
    return folder

URGENCY = '''"""Airline tweets beside account columns: how urgently each needs a reply (a number), scored by RMSE."""
from pipelines.tabular import tabular_competition

COMPETITION = tabular_competition(name="tweet_urgency", slug="tweet-urgency", id_column="id", target="urgency",
                                  metric="rmse")
'''


def make_urgency(folder, source, seed=0):
    """A text table with other columns beside the text: tweet-sentiment's training tweets (real text)
    with synthetic account columns (followers, verified, airline, hour) and a number that mixes each
    tweet's real sentiment label with those columns and noise, so both the text and the columns carry
    signal."""
    rng = np.random.default_rng(seed)
    frame = pd.read_csv(source / "train.csv")
    rows = len(frame)
    followers = np.round(rng.lognormal(5.0, 2.0, rows)).astype(int)
    verified = rng.random(rows) < 0.15
    airlines = np.array(["virgin", "united", "delta", "southwest", "us"])
    airline = rng.integers(0, len(airlines), rows)
    hour = rng.integers(0, 24, rows)
    mood = frame.sentiment.map({"negative": 2.0, "neutral": 1.0, "positive": 0.0}).to_numpy()
    urgency = (mood + 0.8 * verified + 0.3 * np.log10(followers + 1) + np.array([0.0, 0.4, 0.1, -0.3, 0.6])[airline]
               + 0.4 * np.sin(2 * np.pi * hour / 24) + rng.normal(0, 0.5, rows))
    table = pd.DataFrame({"id": frame.id, "text": frame.text, "followers": followers,
                          "verified": np.where(verified, "yes", "no"), "airline": airlines[airline], "hour": hour,
                          "urgency": np.round(urgency, 3)})
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "train.csv", index=False)
    return folder


REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

AUTOGLUON = '''
import sys, json, time
import numpy as np, pandas as pd
from autogluon.tabular import TabularPredictor

spec = json.loads(sys.argv[1])
train, test = pd.read_csv(spec["train"]), pd.read_csv(spec["test"])
label = spec["label"]
if spec["log"]:
    train[label] = np.log1p(train[label])
train = train.drop(columns=[spec["id"]])
start = time.time()
predictor = TabularPredictor(label=label, eval_metric=spec["metric"], problem_type=spec["problem"],
                             path=spec["path"], verbosity=0)
predictor.fit(train, presets=spec["preset"], time_limit=spec["time_limit"])
features = test.drop(columns=[spec["id"]])
if spec["metric"] == "log_loss":
    probabilities = predictor.predict_proba(features)
    probabilities.insert(0, "id", test[spec["id"]].to_numpy())
    probabilities.to_csv(spec["out"], index=False)
    print(json.dumps({"seconds": time.time() - start}))
    sys.exit(0)
if spec["metric"] == "roc_auc":
    predictions = predictor.predict_proba(features)[1].to_numpy()
else:
    predictions = predictor.predict(features).to_numpy()
if spec["log"]:
    predictions = np.expm1(predictions)
pd.DataFrame({"id": test[spec["id"]], "prediction": predictions}).to_csv(spec["out"], index=False)
print(json.dumps({"seconds": time.time() - start}))
'''


class Dataset:
    """A competition's training rows split into a folder (80%) and holdout labels (20%)."""

    def __init__(self, name, competition, source, id_column, label, metric, problem, log=False, groups=None,
                 extra_files=(), classes=None):
        self.name, self.competition, self.source = name, competition, Path(source)
        self.id_column, self.label, self.metric, self.problem, self.log = id_column, label, metric, problem, log
        self.groups, self.extra_files = groups, extra_files
        self.classes = classes  # log loss: the sample has a probability column per class

    def split(self, folder, seed=0):
        from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit

        frame = pd.read_csv(self.source / "train.csv")
        splitter = GroupShuffleSplit if self.groups else ShuffleSplit
        groups = self.groups(frame) if self.groups else None
        train_rows, holdout_rows = next(splitter(n_splits=1, test_size=0.2, random_state=seed).split(frame, groups=groups))
        folder.mkdir(parents=True)
        frame.iloc[train_rows].to_csv(folder / "train.csv", index=False)
        holdout = frame.iloc[holdout_rows]
        holdout.drop(columns=[self.label]).to_csv(folder / "test.csv", index=False)
        sample = pd.DataFrame({self.id_column: holdout[self.id_column], self.label: holdout[self.label].iloc[0]})
        if self.classes:
            sample = pd.DataFrame({self.id_column: holdout[self.id_column], **{c: 1 / len(self.classes)
                                                                                for c in self.classes}})
        sample.to_csv(folder / "sample_submission.csv", index=False)
        for name in self.extra_files:
            shutil.copy(self.source / name, folder / name)
        self.truth = holdout.set_index(self.id_column)[self.label]
        return folder

    def score(self, ids, predictions):
        """`predictions`: a column of predictions, or for log loss a frame with a column per class."""
        from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

        truth = self.truth.loc[ids].to_numpy()
        if self.metric == "log_loss":
            return float(log_loss(truth.astype(str), predictions[list(self.classes)].to_numpy(),
                                  labels=list(self.classes)))
        if self.metric == "rmsle":
            return float(np.sqrt(np.mean((np.log1p(np.asarray(predictions, float)) - np.log1p(truth)) ** 2)))
        if self.metric == "rmse":
            return float(np.sqrt(np.mean((np.asarray(predictions, float) - truth) ** 2)))
        if self.metric == "roc_auc":
            return float(roc_auc_score(truth, predictions))
        return float(accuracy_score(truth.astype(str), np.asarray(predictions).astype(str)))

    @property
    def better(self):
        return min if self.metric in ("rmsle", "rmse", "log_loss") else max


def ours(dataset, folder, workdir, env, seed):
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipelines.run", dataset.competition, "--data-dir", str(folder),
                           "--seed", str(seed), "--submission", "ours.csv"], cwd=workdir, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"our run of {dataset.name} failed:\n{done.stderr}")
    submission = pd.read_csv(workdir / "ours.csv")
    answers = submission.iloc[:, 1:] if dataset.classes else submission.iloc[:, 1]
    return dataset.score(submission.iloc[:, 0], answers), seconds


def autogluon(python, dataset, folder, workdir, preset, time_limit):
    out = workdir / f"autogluon-{preset}.csv"
    spec = {"train": str(folder / "train.csv"), "test": str(folder / "test.csv"), "label": dataset.label,
            "id": dataset.id_column,
            "metric": {"rmsle": "root_mean_squared_error", "rmse": "root_mean_squared_error"}.get(dataset.metric,
                                                                                                  dataset.metric),
            "problem": dataset.problem, "log": dataset.log, "preset": preset, "time_limit": time_limit,
            "path": str(workdir / f"autogluon-{preset}"), "out": str(out)}
    start = time.perf_counter()
    try:
        done = subprocess.run([python, "-c", AUTOGLUON, json.dumps(spec)], capture_output=True, text=True,
                              timeout=4 * time_limit + 120)
    except subprocess.TimeoutExpired:
        print(f"AutoGluon {preset} on {dataset.name} ran past {4 * time_limit + 120:.0f} s with a time limit of "
              f"{time_limit:.0f} s: stopped", flush=True)
        return float("nan"), time.perf_counter() - start
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"AutoGluon {preset} on {dataset.name} failed:\n{done.stderr[-3000:]}")
    predictions = pd.read_csv(out)
    answers = predictions if dataset.classes else predictions["prediction"]
    return dataset.score(predictions["id"], answers), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--autogluon", required=True, help="the python of AutoGluon's own virtual environment")
    parser.add_argument("--datasets", default="house,spaceship,synthetic,gems")
    parser.add_argument("--seed", type=int, default=11, help="our run's seed (one never used while choosing)")
    parser.add_argument("--synthetic-rows", type=int, default=50_000)
    parser.add_argument("--gems-rows", type=int, default=40_000)
    parser.add_argument("--best-factor", type=float, default=5.0,
                        help="AutoGluon best_quality's time as a multiple of ours (0: not run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as temporary:
        root = Path(temporary)
        (root / "competitions").mkdir()
        (root / "competitions" / "synthetic_table.py").write_text(SYNTHETIC)
        (root / "competitions" / "synthetic_gems.py").write_text(GEMS)
        (root / "competitions" / "tweet_urgency.py").write_text(URGENCY)
        env = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINES_COMPETITIONS": str(root / "competitions")}
        keys = args.datasets.split(",")
        synthetic_source = make_table(root / "synthetic-source", args.synthetic_rows, seed=1)
        gems_source = make_gems(root / "gems-source", args.gems_rows, seed=1)
        urgency_source = (make_urgency(root / "urgency-source", SHARED / "tweet-sentiment", seed=1)
                          if "urgency" in keys else None)
        datasets = {
            "house": Dataset("House Prices", "house_prices", SHARED / "house-prices-advanced-regression-techniques",
                             "Id", "SalePrice", "rmsle", "regression", log=True,
                             extra_files=("data_description.txt",)),
            "spaceship": Dataset("Spaceship Titanic", "spaceship_titanic", SHARED / "spaceship-titanic",
                                 "PassengerId", "Transported", "accuracy", "binary",
                                 groups=lambda frame: frame.PassengerId.str.split("_").str[0]),
            "synthetic": Dataset(f"synthetic {args.synthetic_rows // 1000}k", "synthetic_table", synthetic_source,
                                 "id", "target", "roc_auc", "binary"),
            "gems": Dataset(f"synthetic gems {args.gems_rows // 1000}k", "synthetic_gems", gems_source, "id", "price",
                            "rmse", "regression"),
            "tweets": Dataset("Tweet sentiment (text)", "tweet_sentiment", SHARED / "tweet-sentiment", "id",
                              "sentiment", "log_loss", "multiclass", classes=("negative", "neutral", "positive")),
            **({"urgency": Dataset("Tweet urgency (text + columns)", "tweet_urgency", urgency_source, "id", "urgency",
                                   "rmse", "regression")} if urgency_source else {}),
        }
        print(f"# benchmarks.peer, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, our seed {args.seed}\n")
        print("| data | metric | ours (s) | AutoGluon medium, same time (s) | AutoGluon best, 5x time (s) | "
              "ours vs medium | ours vs best |")
        print("|---|---|---|---|---|---|---|")
        for key in keys:
            dataset = datasets[key]
            workdir = root / key
            workdir.mkdir()
            folder = dataset.split(workdir / "data")
            # an empty cache each: text embeddings computed in an earlier run would shorten ours, and so the peer's time
            score, seconds = ours(dataset, folder, workdir, {**env, "PIPELINES_CACHE_DIR": str(root / f"cache-{key}")},
                                  args.seed)
            medium, medium_s = autogluon(args.autogluon, dataset, folder, workdir, "medium_quality", seconds)
            best, best_s = (autogluon(args.autogluon, dataset, folder, workdir, "best_quality", args.best_factor * seconds)
                            if args.best_factor else (float("nan"), 0.0))

            def versus(other, ran=True):
                if other != other:
                    return "did not finish" if ran else "not run"
                ahead = dataset.better(score, other) == score
                return f"{'ahead' if ahead else 'behind'} by {abs(score - other) / abs(other):.2%}"

            print(f"| {dataset.name} | {dataset.metric} | {score:.4f} ({seconds:.0f}) | {medium:.4f} ({medium_s:.0f}) | "
                  f"{best:.4f} ({best_s:.0f}) | {versus(medium)} | {versus(best, bool(args.best_factor))} |", flush=True)


if __name__ == "__main__":
    main()
