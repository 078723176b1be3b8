"""A category of many levels that decides the label: used by default, and said so at the start.

    python -m benchmarks.categories [--seed 7] [--tree DIR]

A 600-row table (and 200 test rows) whose label is decided by a 300-level category (a drug name,
each twice in the training rows and again in the test rows; the label also flips for 10% of rows), beside two numbers of noise,
a free-text review and a visit code unique to each row. The default tabular recipe runs on it as a
new user's competition file (no flags), then on the same table without the category column: CV AUC
of both, and the run's lines that say which columns it used and dropped. `--tree` runs another
checkout of the project (the code before, say) on the same tables.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DECLARATION = '''from pipelines.tabular import tabular_competition

COMPETITION = tabular_competition(name="{name}", slug="{name}", id_column="id", target="effective",
                                  metric="roc_auc", submission="probability")
'''


def table(folder, drop=(), n_train=600, n_test=200, levels=300, seed=0):
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    drug = np.concatenate([rng.permutation(np.repeat(np.arange(levels), n_train // levels)),  # each drug twice
                           rng.integers(0, levels, n_test)])
    works = rng.random(levels) < 0.5  # each drug works or not
    frame = pd.DataFrame({"id": [f"p{i:05d}" for i in range(n)], "drug": [f"drug {k:03d}" for k in drug],
                          "age": rng.integers(18, 90, n), "dose": rng.normal(size=n).round(3),
                          "review": [f"I took it {rng.choice(['daily', 'twice', 'once'])} for {rng.integers(2, 60)} days "
                                     f"and felt {rng.choice(['better', 'worse', 'the same'])}, visit {i}"
                                     for i in range(n)],
                          "visit": [f"V-{rng.integers(10**9)}" for _ in range(n)]})
    frame["effective"] = (works[drug] ^ (rng.random(n) < 0.1)).astype(int)
    frame = frame.drop(columns=list(drop))
    folder.mkdir(parents=True)
    frame.iloc[:n_train].to_csv(folder / "train.csv", index=False)
    frame.iloc[n_train:].drop(columns="effective").to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"id": frame.id[n_train:], "effective": 0.5}).to_csv(folder / "sample_submission.csv", index=False)


def run(name, data, own, seed, tree=REPO):
    env = {**os.environ, "PIPELINES_COMPETITIONS": str(own), "PYTHONPATH": str(tree)}
    with tempfile.TemporaryDirectory() as work:
        done = subprocess.run([sys.executable, "-m", "pipelines.run", name, "--data-dir", str(data), "--seed",
                               str(seed)], cwd=work, env=env, capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    roles = [line for line in lines if line.startswith(("columns:", "column "))]
    return float(re.search(r"^CV roc_auc: ([0-9.]+)", done.stdout, flags=re.M).group(1)), roles


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tree", type=Path, default=REPO, help="the project checkout to run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        own = root / "competitions"
        own.mkdir()
        for name, drop in (("drugs", ()), ("drugs_without", ("drug",))):
            table(root / name, drop)
            (own / f"{name}.py").write_text(DECLARATION.format(name=name))
            auc, roles = run(name, root / name, own, args.seed, args.tree.resolve())
            print(f"RESULT {name:13s}: CV roc_auc {auc:.4f}", flush=True)
            for line in roles:
                print(f"    {line}")


if __name__ == "__main__":
    main()
