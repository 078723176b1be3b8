"""CIFAR-10: whole commands (decode, train, predict every test image, write the CSV), side by side.

    python -m benchmarks.cifar10 [--data-dir DIR] [--presets cpu-albumentations,cpu] [--seeds 0]
                                 [--set key=value ...] [--workdir DIR]

Each preset runs as `python -m pipelines.run cifar10 --preset P` (one stratified 80/20 holdout)
for each seed, in one shared working folder: the first run decodes the images, the others find
the cache warm (`--workdir` keeps the folder and its runs, e.g. for `benchmarks.runs --image-run`).
Printed per run: holdout accuracy, wall time, seconds per epoch, and training
seconds (the sum of the epochs; epoch 0 apart, as it holds torch.compile's warm-up on a GPU);
then each preset's mean over seeds. The default compares the cpu preset with the path it
replaced (per-image albumentations). On a GPU: --presets gpu --seeds 0,1,2,3,4.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "cifar-10"


def run(data_dir, workdir, preset, seed, assignments):
    before = set((workdir / "runs" / "cifar10").glob("2*"))
    start = time.perf_counter()
    sets = [option for a in assignments for option in ("--set", a)]
    done = subprocess.run([sys.executable, "-m", "pipelines.run", "cifar10", "--data-dir", str(data_dir),
                           "--preset", preset, "--seed", str(seed), *sets],
                          check=False, cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"run failed:\n{done.stderr}")
    [folder] = set((workdir / "runs" / "cifar10").glob("2*")) - before
    metrics = json.loads((folder / "metrics.json").read_text())
    [log] = folder.glob("members/*/fold-0/logs/csv/metrics.csv")  # the network is the one member
    epochs = pd.read_csv(log).groupby("epoch").epoch_seconds.max()
    return {"accuracy": metrics["mean"], "wall": wall, "epoch0": float(epochs.iloc[0]),
            "later": float(epochs.iloc[1:].sum()), "per_epoch": float(epochs.iloc[1:].mean())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--presets", default="cpu-albumentations,cpu")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--workdir", type=Path, help="keep the runs and the image cache here (default: a temp folder)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as temporary:
        workdir = args.workdir.resolve() if args.workdir else Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        for preset in args.presets.split(","):
            for seed in seeds:
                r = run(args.data_dir.resolve(), workdir, preset, seed, args.set)
                results.setdefault(preset, []).append(r)
                print(f"{preset:20s} seed {seed}: holdout accuracy {r['accuracy']:.4f}, wall {r['wall']:.0f} s, "
                      f"{r['per_epoch']:.1f} s/epoch, training {r['epoch0'] + r['later']:.1f} s "
                      f"(epoch 0 {r['epoch0']:.1f} s, then {r['later']:.1f} s)", flush=True)
    for preset, runs in results.items():
        accuracy = [r["accuracy"] for r in runs]
        spread = f" ± {statistics.stdev(accuracy):.4f}" if len(runs) > 1 else ""
        print(f"{preset:20s} mean over {len(runs)} seed(s): accuracy {statistics.mean(accuracy):.4f}{spread}, "
              f"wall {statistics.mean(r['wall'] for r in runs):.0f} s, "
              f"training after epoch 0 {statistics.mean(r['later'] for r in runs):.1f} s")


if __name__ == "__main__":
    main()
