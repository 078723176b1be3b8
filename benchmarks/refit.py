"""What --refit gains, measured on an inner holdout of the training data (the test labels are not ours).

    python -m benchmarks.refit NAME [--data-dir DIR] [--holdout 0.2] [--seed 0] [-- run options...]

The training rows are split once (stratified for classifiers) into an inner training set and a
holdout that plays the test set, written in Kaggle's layout to a temporary folder. One
`pipelines.run NAME --refit` on it gives both test predictions: the fold models' average (each
member's fold predictions, blended with the run's weights) and the refit models'. Both are
scored on the holdout with the competition's metric. Tabular (train.csv/test.csv) and labelled
image (labels CSV + train.zip) layouts are supported.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

import competitions

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def tabular_split(data_dir, folder, holdout, seed, id_column, target):
    train = pd.read_csv(data_dir / "train.csv")
    inner, held = train_test_split(train, test_size=holdout, random_state=seed)
    inner.to_csv(folder / "train.csv", index=False)
    held.drop(columns=target).to_csv(folder / "test.csv", index=False)
    pd.DataFrame({id_column: held[id_column], target: inner[target].iloc[0]}).to_csv(
        folder / "sample_submission.csv", index=False)
    for path in data_dir.iterdir():  # anything else the competition reads (e.g. a data description)
        if path.name not in ("train.csv", "test.csv", "sample_submission.csv") and path.is_file():
            shutil.copy(path, folder / path.name)
    return held[id_column].to_numpy(), held[target].to_numpy()


def image_split(data_dir, folder, holdout, seed, competition):
    labels_file = next(name for name in competition.files if name != competition.sample_submission)
    labels = pd.read_csv(data_dir / labels_file)
    id_column, label_column = labels.columns[:2]
    inner, held = train_test_split(labels, test_size=holdout, random_state=seed, stratify=labels[label_column])
    inner.to_csv(folder / labels_file, index=False)
    sample = pd.read_csv(data_dir / competition.sample_submission, nrows=1)
    rows = pd.DataFrame({id_column: held[id_column]})
    for column in sample.columns[1:]:
        rows[column] = sample[column].iloc[0]
    rows.to_csv(folder / competition.sample_submission, index=False)
    os.symlink((data_dir / "train.zip").resolve(), folder / "train.zip")
    wanted = {str(i) for i in held[id_column]}
    with zipfile.ZipFile(data_dir / "train.zip") as source, zipfile.ZipFile(folder / "test.zip", "w") as out:
        for name in source.namelist():
            if Path(name).stem in wanted:
                out.writestr("test/" + Path(name).name, source.read(name))
    return held[id_column].to_numpy(), held[label_column].to_numpy()


def model_space(competition, run_dir, truth):
    """Holdout targets as the run's predictions see them: class indices, or the regression link."""
    classes = json.loads((run_dir / "config.json").read_text()).get("classes")
    if classes:
        index = {str(name): k for k, name in enumerate(classes)}
        return np.array([index[str(value)] for value in truth])
    to_model = getattr(competition.metric, "to_model", None)
    return to_model(truth.astype(float)) if to_model else truth.astype(float)


def fold_average(run_dir, config, metrics):
    """The test predictions the fold models' average would have given (blended as the run blends)."""
    weights = metrics.get("blend_weights") or {config["members"][0]: 1.0}
    parts = []
    for member in weights:
        folds = sorted((run_dir / "members" / member).glob("fold-*/test.npy"))
        parts.append(sum(np.load(path) / len(folds) for path in folds))
    return np.tensordot(np.asarray(list(weights.values())), np.stack(parts), axes=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("competition")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("run_options", nargs=argparse.REMAINDER, help="passed to pipelines.run after --")
    args = parser.parse_args()
    competition = competitions.get(args.competition)
    data_dir = (args.data_dir or SHARED / competition.slug).resolve()
    workdir = Path(tempfile.mkdtemp(prefix="bench-refit-"))
    folder = workdir / "data"
    folder.mkdir()
    if (data_dir / "train.csv").is_file():
        sample = pd.read_csv(data_dir / competition.sample_submission, nrows=1)
        ids, truth = tabular_split(data_dir, folder, args.holdout, args.seed, sample.columns[0], sample.columns[1])
    else:
        ids, truth = image_split(data_dir, folder, args.holdout, args.seed, competition)
    options = [o for o in args.run_options if o != "--"]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipelines.run", args.competition, "--data-dir", str(folder),
                           "--refit", "--seed", str(args.seed), *options], cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(done.stderr)
    run_dir = max((workdir / "runs" / args.competition).glob("2*"))
    config, metrics = (json.loads((run_dir / name).read_text()) for name in ("config.json", "metrics.json"))
    test_ids = np.load(run_dir / "predictions" / "test_ids.npy")
    order = pd.Series(np.arange(len(test_ids)), index=test_ids.astype(str)).loc[ids.astype(str)].to_numpy()
    y = model_space(competition, run_dir, truth)
    refit = np.load(run_dir / "predictions" / "test.npy")[order]
    average = fold_average(run_dir, config, metrics)[order]
    metric = competition.metric
    print(f"{args.competition} {' '.join(options)}: inner training rows {len(pd.read_csv(run_dir / 'oof.csv'))}+, "
          f"holdout {len(ids)} rows, seed {args.seed}; run with --refit {seconds:.0f} s")
    print(f"  CV {metric.name} (fold models)           {metrics['mean']:.5f} ± {metrics['std']:.5f}")
    print(f"  holdout {metric.name}, fold models' average {metric.score(y, average):.5f}")
    print(f"  holdout {metric.name}, refit on all rows    {metric.score(y, refit):.5f}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
