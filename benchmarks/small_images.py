"""Small-image competitions declared as the README says, run with no flags: CV and wall time.

    python -m benchmarks.small_images [--cases digits8,digits28,photos20] [--seed 7]
                                      [--extra "models=lite0;cnn.mirror=false"]

- digits8 / digits28: scikit-learn's bundled handwritten digits (`sklearn.datasets.load_digits`,
  1,797 8x8 grayscale images, ten classes), 1,250 as training PNGs named by ids with leading zeros
  and the rest as the test set, declared with `size=8` and with `size=28`.
- photos20: 1,400 CIFAR-10 training images (the shared data's train.zip, ten classes) as 20x20
  grayscale PNGs, 600 more as the test set, declared with `size=20`.

Each case is a competition file in a folder of its own (PIPELINES_COMPETITIONS) and one
`python -m pipelines.run NAME --data-dir DIR --seed SEED` in a fresh working folder, timed as a whole
command; `--extra` runs each case again with each `--set` value it lists (separated by ";")
beside the default.
"""
import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
CIFAR = REPO.parent / "shared" / "data" / "cifar-10"

DECLARATION = '''"""{title}"""
from pipelines.image import image_competition

COMPETITION = image_competition(name="{name}", slug="{name}", id_column="id", target="label",
                                metric="accuracy", size={size})
'''


def write_competition(folder, images, labels, n_train):
    """Kaggle's image layout: train.csv (id, label), train/ and test/ PNGs named by id, a sample."""
    ids = [f"{i:05d}" for i in range(len(images))]
    for split, rows in (("train", range(n_train)), ("test", range(n_train, len(images)))):
        (folder / split).mkdir(parents=True)
        for row in rows:
            Image.fromarray(images[row]).save(folder / split / f"{ids[row]}.png")
    pd.DataFrame({"id": ids[:n_train], "label": labels[:n_train]}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"id": ids[n_train:], "label": labels[0]}).to_csv(folder / "sample_submission.csv", index=False)


def digits(folder):
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images * 255 / 16).round().astype(np.uint8)  # 0-16 ink levels as 8-bit grayscale
    order = np.random.default_rng(0).permutation(len(images))
    write_competition(folder, images[order], data.target[order], 1250)


def photos(folder, n_train=1400, n_test=600, size=20):
    labels = pd.read_csv(CIFAR / "trainLabels.csv").iloc[:n_train + n_test]
    with zipfile.ZipFile(CIFAR / "train.zip") as archive:
        names = {Path(name).stem: name for name in archive.namelist() if not name.endswith("/")}
        images = np.stack([np.asarray(Image.open(io.BytesIO(archive.read(names[str(i)]))).convert("L")
                                      .resize((size, size), Image.BILINEAR)) for i in labels.id])
    write_competition(folder, images, labels.label.to_numpy(), n_train)


CASES = {"digits8": (digits, 8, "Handwritten digits at 8 px"), "digits28": (digits, 28, "Handwritten digits at 28 px"),
         "photos20": (photos, 20, "CIFAR-10 photos at 20 px, grayscale")}


def run(name, data, own, seed, extra=()):
    env = {**os.environ, "PIPELINES_COMPETITIONS": str(own), "PYTHONPATH": str(REPO)}
    env.pop("PIPELINES_WORKERS", None)
    with tempfile.TemporaryDirectory() as work:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pipelines.run", name, "--data-dir", str(data), "--seed",
                               str(seed), *extra], cwd=work, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
    if done.returncode:
        return f"failed ({(done.stderr.strip().splitlines() or ['?'])[-1]})", seconds
    found = re.search(r"^CV accuracy: ([0-9.]+) ± ([0-9.]+)", done.stdout, flags=re.M)
    warnings = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if "collapsed" in line]
    return f"CV accuracy {found.group(1)} ± {found.group(2)}" + (f" ({len(warnings)} collapse warnings)"
                                                                  if warnings else ""), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--extra", default="", help="--set values to run beside the default, separated by ;")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        own = root / "competitions"
        own.mkdir()
        for case in args.cases.split(","):
            make, size, title = CASES[case]
            data = root / case
            make(data)
            (own / f"{case}.py").write_text(DECLARATION.format(title=title, name=case, size=size))
            for value in ["", *filter(None, args.extra.split(";"))]:
                outcome, seconds = run(case, data, own, args.seed, ("--set", value) if value else ())
                print(f"RESULT {case:9s} {value or 'default':18s}: {outcome}, {seconds:.0f} s whole command", flush=True)


if __name__ == "__main__":
    main()
