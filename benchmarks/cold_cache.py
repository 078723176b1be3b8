"""Dog breeds from a cold cache with the default workers, against the code before embeddings were
shared between workers.

    python -m benchmarks.cold_cache --before DIR [--seed 11] [--data-dir DIR]

`--before` is a checkout of the code before the change (e.g. `git worktree add ../before 65637ae`).
Each tree runs the default command twice in a working folder of its own: first with an empty cache
(decoding every image, embedding it with Lite1 and Lite2), then again warm. Printed per run: CV log
loss, the whole command's wall time, how many images each embedding pass computed; then the cold
ratio (after / before), the warm ratio, whether the two trees wrote byte-identical submissions and
the largest difference of a probability between them.
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


def run_command(tree, workdir, data_dir, seed, label):
    """One whole `pipelines.run dog_breeds` in `workdir` (its cache there), as a user runs it."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "PIPELINES_CACHE_DIR": str(workdir / "cache")}
    env.pop("PIPELINES_WORKERS", None)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipelines.run", "dog_breeds", "--data-dir", str(data_dir),
                           "--seed", str(seed), "--submission", f"{label}.csv"], check=False, cwd=workdir,
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"dog_breeds in {tree} failed:\n{done.stderr[-3000:]}")
    folder = max((workdir / "runs" / "dog_breeds").glob("2*"))
    embedded = [int(n) for n in re.findall(r"embedded (\d+) images", done.stdout)]
    score = json.loads((folder / "metrics.json").read_text())["mean"]
    print(f"RESULT {label:11s}: CV log loss {score:.5f}, {wall:.1f} s whole command, embedding passes "
          f"computed {embedded} images ({sum(embedded)} in all)", flush=True)
    return wall, (workdir / f"{label}.csv").read_bytes()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--data-dir", type=Path, default=SHARED / "dog-breed-identification")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": REPO}
    walls, submissions = {}, {}
    with tempfile.TemporaryDirectory() as temporary:
        for name, tree in trees.items():
            for state in ("cold", "warm"):
                label = f"{name}-{state}"
                walls[label], submissions[label] = run_command(tree, Path(temporary) / name, args.data_dir.resolve(),
                                                               args.seed, label)
    print(f"RESULT cold after/before: {walls['after-cold'] / walls['before-cold']:.3f}; warm after/before: "
          f"{walls['after-warm'] / walls['before-warm']:.3f}; submissions byte-identical: "
          f"{submissions['after-cold'] == submissions['before-cold']} (cold), "
          f"{submissions['after-warm'] == submissions['before-warm']} (warm); largest difference of a "
          f"probability: {largest_difference(submissions['after-cold'], submissions['before-cold']):.2e}", flush=True)


def largest_difference(a, b):
    """The largest absolute difference between two submissions' probabilities (same ids, same columns)."""
    import io

    import pandas as pd

    first, second = (pd.read_csv(io.BytesIO(data), index_col=0) for data in (a, b))
    return float((first - second.loc[first.index, first.columns]).abs().to_numpy().max())


if __name__ == "__main__":
    main()
