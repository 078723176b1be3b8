"""The same answers from two trees of the code: run, predict, tune and package side by side.

    python -m benchmarks.same_answers --before DIR [--after DIR] [--seed 5] [--skip dog_breeds,cifar10]
                                      [--dog-cache DIR]

`--before` and `--after` are checkouts (e.g. `git worktree add ../before 2202ac3`; `--after`
defaults to this one). Per competition, the whole `python -m pipelines.run` of each tree (house
prices and spaceship titanic by default; dog breeds by default on a warm cache, `--dog-cache`,
built first if empty; CIFAR-10's cpu preset cut to two epochs), then the after tree predicts again
from the before tree's run folder. Printed: each CV to the last digit, wall times, and whether the
submissions are byte-identical. Then a three-trial `tune` of house prices' lasso in the before
tree, each trial scored again by the after tree, and `package` of the before tree's house prices
run by each tree (every file of the package but the project's own wheel, which holds the code).
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
RUNS = {  # competition: (data folder, extra arguments)
    "house_prices": ("house-prices-advanced-regression-techniques", []),
    "spaceship_titanic": ("spaceship-titanic", []),
    "dog_breeds": ("dog-breed-identification", []),
    "cifar10": ("cifar-10", ["--set", "cnn.max_epochs=2"]),
}


def command(tree, workdir, args, cache):
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", *args], check=False, cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(tree), "PIPELINES_CACHE_DIR": str(cache)})
    if done.returncode:
        sys.exit(f"{' '.join(args)} in {tree} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout, time.perf_counter() - start


def run_both(trees, work, competition, seed, cache_of):
    data_dir, extra = RUNS[competition]
    found = {}
    for name, tree in trees.items():
        workdir = work / name / competition
        _, wall = command(tree, workdir, ["pipelines.run", competition, "--data-dir", str(SHARED / data_dir),
                                          "--seed", str(seed), "--submission", "submission.csv", *extra],
                          cache_of(name))
        [folder] = (workdir / "runs" / competition).glob("2*")
        cv = json.loads((folder / "metrics.json").read_text())["mean"]
        found[name] = {"cv": cv, "wall": wall, "folder": folder,
                       "submission": (workdir / "submission.csv").read_bytes()}
        print(f"{competition:17s} run     {name:6s}: CV {cv!r}, {wall:.1f} s", flush=True)
    same = found["before"]["submission"] == found["after"]["submission"]
    print(f"{competition:17s} run: same CV {found['before']['cv'] == found['after']['cv']}, submissions "
          f"byte-identical {same}, after / before wall {found['after']['wall'] / found['before']['wall']:.3f}",
          flush=True)
    out = work / "after" / f"{competition}-predicted.csv"
    _, wall = command(trees["after"], work / "after" / competition,
                      ["pipelines.predict", str(found["before"]["folder"]), "--submission", str(out)], cache_of("after"))
    print(f"{competition:17s} predict: the after tree from the before tree's run folder in {wall:.1f} s, "
          f"byte-identical {out.read_bytes() == found['before']['submission']}", flush=True)
    return found


def tune_both(trees, work, seed):
    """Optuna mixes each tuning process's identity into its sampler's seed (so workers that share a
    study never propose the same trials): two tunes never propose the same values. So the before tree
    tunes, and the after tree scores each trial's parameters again with a run on the same folds."""
    house = str(SHARED / RUNS["house_prices"][0])
    workdir = work / "before" / "tune"
    command(trees["before"], workdir, ["pipelines.tune", "house_prices", "--data-dir", house, "--set", "models=lasso",
                                       "--trials", "3", "--folds", "3", "--seed", str(seed), "--workers", "1"],
            work / "cache")
    import optuna

    study = optuna.load_study(study_name="house_prices-lasso", storage=f"sqlite:///{workdir / 'runs' / 'optuna.db'}")
    same = []
    for number, trial in enumerate(study.trials):
        again = work / "after" / f"trial-{number}"
        assignments = [part for key, value in trial.params.items() for part in ("--set", f"{key}={value!r}")]
        command(trees["after"], again, ["pipelines.run", "house_prices", "--data-dir", house, "--set", "models=lasso",
                                        *assignments, "--folds", "3", "--seed", str(seed), "--workers", "1",
                                        "--submission", "s.csv"], work / "cache")
        [folder] = (again / "runs" / "house_prices").glob("2*")
        value = json.loads((folder / "metrics.json").read_text())["mean"]
        same.append(value == trial.value)
        print(f"tune trial {number} {trial.params}: before {trial.value!r}, after {value!r}", flush=True)
    print(f"tune: the after tree scores each of the before tree's trials the same {all(same)}", flush=True)


def package_both(trees, work, run_folder):
    listing = {}
    for name, tree in trees.items():
        out = work / name / "package"
        command(tree, work / name, ["pipelines.package", str(run_folder), "--out", str(out)], work / "cache")
        listing[name] = {str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
                         for path in sorted(out.rglob("*")) if path.is_file() and "kaggle_pipelines" not in path.name
                         and "kaggle-pipelines" not in path.name}
    same = listing["before"] == listing["after"]
    print(f"package: {len(listing['after'])} files beside the project's wheel, byte-identical {same}"
          + ("" if same else f" (differ: {sorted(k for k in listing['after'] if listing['after'][k] != listing['before'].get(k))})"),
          flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=REPO)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--skip", default="", help="competitions to leave out, comma-separated, or tune, package")
    parser.add_argument("--dog-cache", type=Path, default=None, help="a warm cache of dog breeds (built when empty)")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    skip = set(args.skip.split(","))
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        dog_cache = (args.dog_cache or work / "dog-cache").resolve()
        if "dog_breeds" not in skip and not (dog_cache / "embeddings").is_dir():
            _, wall = command(trees["after"], work / "warm", ["pipelines.run", "dog_breeds", "--data-dir",
                                                            str(SHARED / RUNS["dog_breeds"][0]), "--submission",
                                                            "s.csv"], dog_cache)
            print(f"dog_breeds cache warmed in {wall:.1f} s (not compared)", flush=True)
        house = None
        for competition in RUNS:
            if competition in skip:
                continue
            cache_of = {"dog_breeds": lambda name: dog_cache,
                        "cifar10": lambda name: work / f"cache-{name}"}.get(competition, lambda name: work / "cache")
            found = run_both(trees, work, competition, args.seed, cache_of)
            house = found["before"]["folder"] if competition == "house_prices" else house
        if "tune" not in skip:
            tune_both(trees, work, args.seed)
        if "package" not in skip and house is not None:
            package_both(trees, work, house)
        shutil.rmtree(work / "cache", ignore_errors=True)


if __name__ == "__main__":
    main()
