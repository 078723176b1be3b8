"""Folds on workers: whole-command wall time of one process against two workers, and how a
default run grows with the rows of a table.

    python -m benchmarks.parallel [--sizes 30000,300000,1000000] [--skip-speedup] [--skip-scaling]

Speed-up (the same command three ways, side by side, with the same CV required of each):
`--workers 1 --threads 1` (one core, how runs trained before workers), `--workers 1` (one
process, its models on both cores' threads) and `--workers 2` (a model per core), on House
Prices, Spaceship Titanic and a synthetic 300,000-row table (20 numeric and 5 categorical
columns, a binary target, the default tabular members). Scaling: the default run (--workers
auto) of the synthetic table at each size, with its wall time and the peak memory of the whole
process tree (the command and its workers), sampled every 0.2 s. Run it alone on the machine.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
SYNTHETIC = '''"""A synthetic binary table for benchmarks: 20 numeric and 5 categorical columns."""
from pipelines.tabular import tabular_competition

COMPETITION = tabular_competition(name="synthetic_table", slug="synthetic-table", id_column="id", target="target",
                                  metric="roc_auc", submission="probability")
'''


def make_table(folder, rows, seed=0):
    """train.csv (`rows` rows), test.csv (a fifth as many) and sample_submission.csv."""
    rng = np.random.default_rng(seed)
    n = rows + rows // 5
    numeric = rng.normal(size=(n, 20)).astype(np.float32)
    numeric[rng.random((n, 20)) < 0.02] = np.nan
    frame = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(20)])
    levels = (3, 8, 20, 50, 200)
    codes = [rng.integers(0, k, n) for k in levels]
    for i, (k, code) in enumerate(zip(levels, codes)):
        frame[f"c{i}"] = pd.Series([f"level{j}" for j in range(k)], dtype=object).to_numpy()[code]
    effect = rng.normal(size=200)
    score = (np.nan_to_num(numeric[:, 0]) * np.nan_to_num(numeric[:, 1]) + np.sin(2 * np.nan_to_num(numeric[:, 2]))
             + 0.5 * np.abs(np.nan_to_num(numeric[:, 3])) + effect[codes[4]] + 0.5 * (codes[0] == 1)
             + rng.normal(0, 1.0, n))
    frame.insert(0, "id", np.arange(n))
    frame["target"] = (score > np.median(score)).astype(int)
    folder.mkdir(parents=True, exist_ok=True)
    frame.iloc[:rows].to_csv(folder / "train.csv", index=False)
    test = frame.iloc[rows:].drop(columns="target")
    test.to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"id": test.id, "target": 0.5}).to_csv(folder / "sample_submission.csv", index=False)
    return folder


def run(args, workdir, env):
    """(wall seconds, peak MiB of the process tree, CV line) of `python -m pipelines.run args`."""
    import psutil

    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "pipelines.run", *args], cwd=workdir, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode:
        sys.exit(f"pipelines.run {' '.join(args)} failed:\n{err}")
    cv = next(line for line in out.splitlines() if line.startswith("CV "))
    return seconds, peak / 2**20, cv


def speedup(datasets, workdir, env):
    ways = {"--workers 1 --threads 1": ["--workers", "1", "--threads", "1"],
            "--workers 1": ["--workers", "1"], "--workers 2": ["--workers", "2"]}
    print("| data | " + " | ".join(ways) + " | one core / 2 workers | 1 process / 2 workers | same CV |")
    print("|---|" + "---|" * (len(ways) + 3))
    for name, competition, data_dir in datasets:
        seconds, cvs = {}, set()
        for label, extra in ways.items():
            seconds[label], _, cv = run([competition, "--data-dir", str(data_dir), *extra], workdir, env)
            cvs.add(cv)
            print(f"  {name} {label}: {seconds[label]:.1f}s, {cv}", file=sys.stderr, flush=True)
        one_core, one_process, two = (seconds[label] for label in ways)
        print(f"| {name} | " + " | ".join(f"{s:.1f} s" for s in seconds.values())
              + f" | {one_core / two:.2f}x | {one_process / two:.2f}x | {'yes' if len(cvs) == 1 else cvs} |", flush=True)


def scaling(sizes, workdir, env, tables):
    print("\n| rows | wall time (--workers auto) | peak memory (all processes) | seconds per 100k rows | CV |")
    print("|---|---|---|---|---|")
    for rows in sizes:
        data_dir = make_table(tables / f"rows-{rows}", rows)
        seconds, peak, cv = run(["synthetic_table", "--data-dir", str(data_dir)], workdir, env)
        print(f"| {rows:,} | {seconds:.1f} s | {peak:.0f} MiB | {seconds / rows * 1e5:.1f} s | "
              f"{re.sub(r'^CV ', '', cv)} |", flush=True)
        shutil.rmtree(data_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="30000,300000,1000000", help="rows of the scaling runs")
    parser.add_argument("--skip-speedup", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        (workdir / "competitions").mkdir()
        (workdir / "competitions" / "synthetic_table.py").write_text(SYNTHETIC)
        env = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINES_COMPETITIONS": str(workdir / "competitions")}
        env.pop("PIPELINES_WORKERS", None)
        tables = workdir / "tables"
        print(f"# benchmarks.parallel, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}\n")
        if not args.skip_speedup:
            synthetic = make_table(tables / "rows-300000", 300_000)
            speedup([("House Prices", "house_prices", SHARED / "house-prices-advanced-regression-techniques"),
                     ("Spaceship Titanic", "spaceship_titanic", SHARED / "spaceship-titanic"),
                     ("synthetic 300k", "synthetic_table", synthetic)], workdir, env)
            shutil.rmtree(synthetic)
        if not args.skip_scaling:
            scaling([int(size) for size in args.sizes.split(",")], workdir, env, tables)


if __name__ == "__main__":
    main()
