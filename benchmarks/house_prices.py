"""House Prices: wall time and CV RMSLE of the default run (each member and the blend),
beside the D2L chapter's linear model.

    python -m benchmarks.house_prices [--data-dir DIR] [--folds 5] [--seed 0] [--load N] [--set KEY=VALUE ...]

Member seconds are the sums of their fold fits (features, model, predictions) inside the run.
--load N keeps N busy processes running beside the run (a machine that is doing other work);
--set passes parameters to the run, e.g. --set hgb.threads=2 to compare members' threading.

The D2L baseline ("Predicting House Prices on Kaggle"): numeric columns standardised
and NaN set to 0, one-hot with a NaN indicator, one linear layer trained with Adam
(lr 5, batch 64, 100 epochs) on squared error of raw prices; scored here by the same
K-fold splits and the same RMSLE.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipelines.engine.splits import kfold

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "house-prices-advanced-regression-techniques"


def d2l_features(train, test):
    features = pd.concat([train.drop(columns=["Id", "SalePrice"]), test.drop(columns=["Id"])])
    numeric = features.select_dtypes(include="number").columns
    features[numeric] = ((features[numeric] - features[numeric].mean()) / features[numeric].std()).fillna(0)
    features = pd.get_dummies(features, dummy_na=True).astype(np.float32)
    return torch.tensor(features.to_numpy()[: len(train)])


def d2l_linear_cv(data_dir, folds, seed):
    train, test = pd.read_csv(data_dir / "train.csv"), pd.read_csv(data_dir / "test.csv")
    X, y = d2l_features(train, test), torch.tensor(train.SalePrice.to_numpy(np.float32)).reshape(-1, 1)
    scores = []
    for fold, (tr, va) in enumerate(kfold(folds, seed).split(X)):
        torch.manual_seed(seed + fold)
        net = torch.nn.Linear(X.shape[1], 1)
        optimizer = torch.optim.Adam(net.parameters(), lr=5)
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[tr], y[tr]), batch_size=64, shuffle=True)
        for _ in range(100):
            for xb, yb in loader:
                optimizer.zero_grad()
                torch.nn.functional.mse_loss(net(xb), yb).backward()
                optimizer.step()
        with torch.no_grad():
            pred = net(X[va]).clamp(1, float("inf"))
        scores.append(float(torch.sqrt(torch.mean((torch.log(pred) - torch.log(y[va])) ** 2))))
    return float(np.mean(scores)), float(np.std(scores))


def busy_processes(count):
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def default_run(data_dir, folds, seed, assignments=()):
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pipelines.run", "house_prices", "--data-dir", str(data_dir.resolve()),
             "--folds", str(folds), "--seed", str(seed), *[arg for a in assignments for arg in ("--set", a)]],
            check=False, cwd=workdir, capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
        wall = time.perf_counter() - start
        if done.returncode:
            sys.exit(f"default run failed:\n{done.stderr}")
        [metrics] = Path(workdir, "runs", "house_prices").glob("2*/metrics.json")
        metrics = json.loads(metrics.read_text())
    return wall, metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--load", type=int, default=0, help="busy processes beside the run")
    parser.add_argument("--set", action="append", default=[], help="a parameter for the run (repeatable)")
    args = parser.parse_args()

    hogs = busy_processes(args.load)
    try:
        wall, metrics = default_run(args.data_dir, args.folds, args.seed, args.set)
    finally:
        for hog in hogs:
            hog.kill()
    if args.load or args.set:
        print(f"with {args.load} busy processes beside the run; --set {' '.join(args.set) or '(none)'}")
    mean = metrics["mean"]
    start = time.perf_counter()
    d2l_mean, d2l_std = d2l_linear_cv(args.data_dir, args.folds, args.seed)
    d2l_wall = time.perf_counter() - start
    print(f"{'':28}{'CV RMSLE':>20}{'seconds':>10}")
    weights = metrics.get("blend_weights", {})
    for name, member in metrics.get("members", {}).items():
        seconds = sum(fold["seconds"] for fold in member["folds"])
        slowest = max(fold["seconds"] for fold in member["folds"])
        print(f"{'  member ' + name:28}{member['mean']:>11.4f} ± {member['std']:.4f}{seconds:>10.1f}"
              f"   weight {weights.get(name, 0):.3f}   slowest fold {slowest:.1f} s")
    print(f"{'default run (whole command)':28}{mean:>11.4f} ± {metrics['std']:.4f}{wall:>10.1f}")
    print(f"{'D2L linear (in-process)':28}{d2l_mean:>11.4f} ± {d2l_std:.4f}{d2l_wall:>10.1f}")
    print(f"CV RMSLE ratio default/D2L: {mean / d2l_mean:.3f}; default run wall time target <= 90 s: "
          f"{'met' if wall <= 90 else 'MISSED'} ({wall:.1f} s)")


if __name__ == "__main__":
    main()
