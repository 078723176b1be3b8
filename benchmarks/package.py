"""Code-competition packages of the default runs: size, build time and the notebook's offline predict time.

    python -m benchmarks.package [--competitions house_prices,spaceship_titanic,dog_breeds]
                                 [--dog-cache DIR] [--seed 11]

For each competition: the default `python -m pipelines.run NAME` on the real files (dog breeds
with `--dog-cache`, a warm cache of its decoded images and embeddings), then
`python -m pipelines.package RUN --rehearse` with the declared image list (wheels from the
package index): printed are the package's size (run files and wheels apart), the wheels, the
build time, and the rehearsal: the notebook run offline in a fresh environment that sees only
the image's packages, its wall time, and whether its submission is the run's byte for byte.
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
SHARED = REPO.parent / "shared" / "data"
SLUGS = {"house_prices": "house-prices-advanced-regression-techniques", "spaceship_titanic": "spaceship-titanic",
         "dog_breeds": "dog-breed-identification"}


def command(args, cwd, env):
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout, time.perf_counter() - start


def size(folder):
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--competitions", default="house_prices,spaceship_titanic,dog_breeds")
    parser.add_argument("--dog-cache", type=Path, default=Path("cache"))
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        for name in args.competitions.split(","):
            workdir = Path(temporary) / name
            workdir.mkdir()
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            if name == "dog_breeds":
                env["PIPELINES_CACHE_DIR"] = str(args.dog_cache.resolve())
            _, run_seconds = command(["pipelines.run", name, "--data-dir", str(SHARED / SLUGS[name]),
                                      "--seed", str(args.seed), "--submission", "s.csv"], workdir, env)
            [run_dir] = (workdir / "runs" / name).glob("2*")
            out, build_seconds = command(["pipelines.package", str(run_dir), "--out", "pkg", "--rehearse"],
                                         workdir, env)
            rehearsal = re.search(r"ran offline in ([\d.]+)s; its submission is (.*)$", out, re.M)
            dataset = workdir / "pkg" / "dataset"
            wheels = sorted(path.name.split("-")[0] for path in (dataset / "wheels").glob("*.whl"))
            print(f"{name}: run {run_seconds:.0f} s; package {size(dataset):.1f} MiB (run files "
                  f"{size(dataset / 'run'):.1f} MiB, {len(wheels)} wheels {size(dataset / 'wheels'):.1f} MiB); "
                  f"build {build_seconds - float(rehearsal.group(1)):.1f} s; offline notebook "
                  f"{float(rehearsal.group(1)):.1f} s, submission {rehearsal.group(2)}", flush=True)
            print(f"  wheels: {', '.join(wheels)}", flush=True)


if __name__ == "__main__":
    main()
