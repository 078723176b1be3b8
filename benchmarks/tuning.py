"""Tuning benchmarks on House Prices: trials per minute with and without pruning, peak memory
of a long search against a short one, and (with --search N) a full search against the defaults.

    python -m benchmarks.tuning [--data-dir DIR] [--trials 12] [--search 40]

Every number comes from the real command (`python -m pipelines.tune`) in a subprocess
with a fresh SQLite study; peak RSS is the child's own maximum resident set size.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "house-prices-advanced-regression-techniques"


def tune(data_dir, trials, *extra):
    """Runs one tuning command; returns (wall seconds, peak RSS MiB, trial states, run folder files)."""
    with tempfile.TemporaryDirectory() as workdir:
        command = [sys.executable, "-m", "pipelines.tune", "house_prices", "--data-dir", str(data_dir),
                   "--trials", str(trials), "--storage", f"sqlite:///{workdir}/study.db", *extra]
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   env={**os.environ, "PYTHONPATH": str(REPO)}, text=True)
        out = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status):
            sys.exit(f"tuning failed: {' '.join(command)}")
        states = out.split("trials (", 1)[1].split(")", 1)[0]
        [best] = Path(workdir, "runs", "house_prices", "tune").glob("*/best_params.json")
        best_value = float(out.split("best rmsle: ", 1)[1].split()[0])
        return wall, usage.ru_maxrss / 1024, states, json.loads(best.read_text()), best_value


def default_cv(data_dir, folds):
    import competitions
    from pipelines.engine.crossval import cross_validate

    competition = competitions.get("house_prices")
    return cross_validate(competition, competition.load(Path(data_dir)), competition.defaults, folds=folds).mean


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--trials", type=int, default=12, help="trials for the pruning comparison")
    parser.add_argument("--search", type=int, default=0, help="also run a full N-trial 5-fold search")
    args = parser.parse_args()

    print("trials per minute, 5 folds:")
    for label, extra in (("with pruning", []), ("without pruning", ["--no-pruning"])):
        wall, _, states, _, best = tune(args.data_dir, args.trials, *extra)
        print(f"  {label:16} {args.trials / wall * 60:6.2f} trials/min  ({args.trials} trials in {wall:.0f}s: "
              f"{states}; best {best:.4f})")

    print("peak RSS, 2 folds, 10 epochs, no pruning:")
    short = tune(args.data_dir, 3, "--folds", "2", "--set", "max_epochs=10", "--no-pruning")[1]
    long = tune(args.data_dir, 30, "--folds", "2", "--set", "max_epochs=10", "--no-pruning")[1]
    print(f"  3 trials {short:.0f} MiB, 30 trials {long:.0f} MiB: ratio {long / short:.2f} (target <= 1.5)")

    if args.search:
        wall, _, states, params, best = tune(args.data_dir, args.search)
        base = default_cv(args.data_dir, 5)
        print(f"{args.search}-trial search, 5 folds: {wall / 60:.1f} min (target <= 10), {states}")
        print(f"  best CV RMSLE {best:.4f} vs defaults {base:.4f} ({'better' if best < base else 'NOT better'})")
        print(f"  best params: {params}")


if __name__ == "__main__":
    main()
