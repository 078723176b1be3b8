"""CIFAR-10: the whole default command (decode, train, predict every test image, write the
CSV) timed end to end from a cold and from a warm image cache.

    python -m benchmarks.cifar10 [--data-dir DIR] [--preset cpu|gpu] [--set key=value ...]

Prints the decode time, seconds per cached epoch, holdout accuracy and wall time.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "cifar-10"


def run(data_dir, workdir, extra):
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipelines.run", "cifar10", "--data-dir", str(data_dir), *extra],
                          cwd=workdir, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"run failed:\n{done.stderr}")
    return wall, done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--preset")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--warm", action="store_true", help="also time a second run on the warm cache")
    args = parser.parse_args()
    extra = [*(["--preset", args.preset] if args.preset else []), *sum((["--set", s] for s in args.set), [])]
    with tempfile.TemporaryDirectory() as workdir:
        for label in ("cold cache", "warm cache")[: 2 if args.warm else 1]:
            wall, out = run(args.data_dir.resolve(), workdir, extra)
            decode = sum(float(s) for s in re.findall(r"^decoded .* in ([\d.]+)s", out, re.M))
            epochs = re.findall(r"([\d.]+)s/epoch", out)
            accuracy = re.search(r"CV accuracy: ([\d.]+)", out).group(1)
            print(f"{label}: wall {wall:.0f}s (target <= 900s on the 2-core CPU), decode {decode:.1f}s, "
                  f"{'/'.join(epochs)} s/epoch, holdout accuracy {accuracy}")


if __name__ == "__main__":
    main()
