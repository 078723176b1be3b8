"""CIFAR-10 and dog breeds through the image recipe, side by side with the code before it.

    python -m benchmarks.image_recipe --before DIR [--cifar-seed 2] [--dog-seed 11]
                                      [--cifar-data DIR] [--dog-data DIR] [--dog-cache DIR]

`--before` is a checkout of the code before the competitions became declarations (e.g.
`git worktree add ../before ae4f777`). Each whole command runs once per tree, alternating:
CIFAR-10's default (cpu) preset, decoding into a fresh cache of its own for each tree, then dog
breeds' default with a warm cache (`--dog-cache`: decoded images and embeddings built by an earlier
run; both trees key them alike). Printed per run: the CV score, the wall time and the decode time;
then whether the two trees wrote byte-identical submissions.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def run_command(tree, workdir, competition, data_dir, seed, cache):
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipelines.run", competition, "--data-dir", str(data_dir),
                           "--seed", str(seed), "--submission", "submission.csv"],
                          check=False, cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(tree), "PIPELINES_CACHE_DIR": str(cache)})
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{competition} in {tree} failed:\n{done.stderr}")
    [folder] = (workdir / "runs" / competition).glob("2*")
    decode = sum(float(s) for s in re.findall(r"^decoded \d+ \w+ images from .* in ([\d.]+)s", done.stdout, re.M))
    score = json.loads((folder / "metrics.json").read_text())["mean"]
    return {"score": score, "wall": wall, "decode": decode, "submission": (workdir / "submission.csv").read_bytes()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the code before the recipe")
    parser.add_argument("--cifar-seed", type=int, default=2)
    parser.add_argument("--dog-seed", type=int, default=11)
    parser.add_argument("--cifar-data", type=Path, default=SHARED / "cifar-10")
    parser.add_argument("--dog-data", type=Path, default=SHARED / "dog-breed-identification")
    parser.add_argument("--dog-cache", type=Path, default=Path("cache"), help="a warm cache of dog breeds' images")
    parser.add_argument("--skip", default="", help="cifar10 or dog_breeds, to run the other only")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "recipe": REPO}
    jobs = [("cifar10", args.cifar_data, args.cifar_seed), ("dog_breeds", args.dog_data, args.dog_seed)]
    with tempfile.TemporaryDirectory() as temporary:
        for competition, data_dir, seed in jobs:
            if competition in args.skip.split(","):
                continue
            results = {}
            for name, tree in trees.items():
                cache = Path(temporary) / f"cache-{name}" if competition == "cifar10" else args.dog_cache.resolve()
                r = run_command(tree, Path(temporary) / name / competition, competition, data_dir.resolve(), seed,
                                cache)
                results[name] = r
                print(f"{competition:10s} {name:7s} seed {seed}: CV {r['score']:.5f}, wall {r['wall']:.1f} s "
                      f"(decode {r['decode']:.1f} s)", flush=True)
            same = results["before"]["submission"] == results["recipe"]["submission"]
            ratio = results["recipe"]["wall"] / results["before"]["wall"]
            print(f"{competition:10s} recipe / before wall time {ratio:.3f}; submissions byte-identical: {same}",
                  flush=True)


if __name__ == "__main__":
    main()
