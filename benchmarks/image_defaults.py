"""Which member suits small images: the cnn from scratch or a frozen pretrained backbone's head.

    python -m benchmarks.image_defaults [--data-dir DIR] [--train 5000] [--test 1000] [--seed 7]
                                        [--members cnn,lite0]

Takes the first `--train` labelled CIFAR-10 images as a competition of its own (the next `--test`
as its test set), declared with the image recipe at 32 px, and runs each member alone with the
same 5 folds: CV accuracy and wall time (a frozen backbone's includes embedding every image once
at its resolution, 224 px for Lite0).
"""
import argparse
import contextlib
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd

from pipelines.recipes.image import image_competition
from pipelines.run import resolve_settings, run

REPO = Path(__file__).resolve().parents[1]


def subset(data_dir, folder, n_train, n_test):
    labels = pd.read_csv(data_dir / "trainLabels.csv")
    train, test = labels.iloc[:n_train], labels.iloc[n_train:n_train + n_test]
    with zipfile.ZipFile(data_dir / "train.zip") as archive:
        names = {Path(name).stem: name for name in archive.namelist() if not name.endswith("/")}
        for split, frame in (("train", train), ("test", test)):
            (folder / split).mkdir(parents=True)
            for image_id in frame.id:
                (folder / split / f"{image_id}.png").write_bytes(archive.read(names[str(image_id)]))
    train.to_csv(folder / "train.csv", index=False)
    test.assign(label="cat").to_csv(folder / "sample_submission.csv", index=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "cifar-10")
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--members", default="cnn,lite0")
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    competition = image_competition(name="cifar_subset", slug="cifar-subset", id_column="id", target="label",
                                    metric="accuracy", size=32)
    with tempfile.TemporaryDirectory() as temporary, contextlib.chdir(temporary):  # runs and caches stay there
        folder = Path(temporary) / "data"
        subset(data_dir, folder, args.train, args.test)
        for member in args.members.split(","):
            preset, params, folds, baseline = resolve_settings(competition, None, None, [f"models={member}"], 5)
            settings = {"preset": preset, "baseline": baseline, "params": params, "folds": folds,
                        "seed": args.seed, "refit": False, "logger": "csv", "submission": f"{member}.csv"}
            start = time.perf_counter()
            result, _ = run(competition, folder, settings)
            print(f"RESULT {member:6s}: CV accuracy {result.mean:.4f} ± {result.scores.std():.4f} on {args.train} images "
                  f"({args.test} test), {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
