"""The default tabular recipe's levers, one at a time, by cross-validation (the number to choose on).

    python -m benchmarks.recipe [--datasets spaceship,synthetic,gems] [--seed 0]

On Spaceship Titanic (its features, travel-group folds), a synthetic 50,000-row binary table and
a synthetic 40,000-row gem-price regression, each variant is a whole `pipelines.run` command,
printed with its CV and wall time: fixed boosting rounds (500 at rate 0.02 for LightGBM and
XGBoost, 800 at 0.04 for CatBoost: the recipe before early stopping); early stopping on an inner
split of each fold's training rows, at two rates, with and without training again on every row;
the second level (stack) beside the blend; ExtraTrees and k-nearest-neighbour members; log-target
GBDTs for the regression. `--variants` picks variants by name. Choose on these seeds; report the
choice on a seed never used here (benchmarks.peer). Run it alone on the machine.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.parallel import make_table
from benchmarks.peer import make_gems

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
EVERY = ("lgbm", "catboost", "xgb", "linear", "extra_trees", "knn", "lgbm_log", "catboost_log")

COMPETITIONS = {
    "bench_spaceship": '''
from features.spaceship import CabinParts, Spending, TravelGroups, travel_group
from pipelines.tabular import tabular_competition

COMPETITION = tabular_competition(name="bench_spaceship", slug="spaceship-titanic", id_column="PassengerId",
                                  target="Transported", metric="accuracy", keep_id=True,
                                  features=[TravelGroups(), CabinParts(), Spending()],
                                  groups=lambda data: travel_group(data.train_ids), members={MEMBERS})
''',
    "bench_binary": '''
from pipelines.tabular import tabular_competition

COMPETITION = tabular_competition(name="bench_binary", slug="bench-binary", id_column="id", target="target",
                                  metric="roc_auc", submission="probability", members={MEMBERS})
''',
    "bench_gems": '''
from pipelines.tabular import tabular_competition

COMPETITION = tabular_competition(name="bench_gems", slug="bench-gems", id_column="id", target="price",
                                  metric="rmse", members={MEMBERS})
''',
}

FIXED = ["lgbm.patience=0", "lgbm.rounds=500", "lgbm.learning_rate=0.02", "xgb.patience=0", "xgb.rounds=500",
         "xgb.learning_rate=0.02", "catboost.patience=0", "catboost.rounds=800", "catboost.learning_rate=0.04"]
BASE = "lgbm,catboost,xgb,linear"
SLOW = ["lgbm.learning_rate=0.02", "xgb.learning_rate=0.02", "catboost.learning_rate=0.04"]
REFIT = ["lgbm.stop_retrain=true", "xgb.stop_retrain=true", "catboost.stop_retrain=true"]
VARIANTS = {
    "fixed rounds, blend (before)": [f"models={BASE}", "stack=false", *FIXED],
    "early stopping, blend": [f"models={BASE}", "stack=false"],
    "early stopping at the old rates, blend": [f"models={BASE}", "stack=false", *SLOW],
    "early stopping, then the fold's every row, blend": [f"models={BASE}", "stack=false", *REFIT],
    "early stopping at the old rates, then every row, blend": [f"models={BASE}", "stack=false", *SLOW, *REFIT],
    "early stopping, blend or stack": [f"models={BASE}"],
    "+ extra_trees": [f"models={BASE},extra_trees"],
    "+ extra_trees, knn": [f"models={BASE},extra_trees,knn"],
}
LOGGED = ["lgbm_log.learning_rate=0.02", "catboost_log.learning_rate=0.04", "lgbm_log.stop_retrain=true",
          "catboost_log.stop_retrain=true"]
REGRESSION = {
    "fixed rounds, blend (before)": VARIANTS["fixed rounds, blend (before)"],
    "early stopping, blend or stack": VARIANTS["early stopping, blend or stack"],
    "early stopping at the old rates, then every row, blend or stack": [f"models={BASE}", *SLOW, *REFIT],
    "the same + log-target lgbm, catboost": [f"models={BASE},lgbm_log,catboost_log", *SLOW, *REFIT, *LOGGED],
}


def gems_folder(root):
    folder = make_gems(root / "gems", 50_000, seed=2)
    import pandas as pd

    frame = pd.read_csv(folder / "train.csv")
    frame.iloc[:40_000].to_csv(folder / "train.csv", index=False)
    test = frame.iloc[40_000:].drop(columns="price")
    test.to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"id": test.id, "price": 1.0}).to_csv(folder / "sample_submission.csv", index=False)
    return folder


def run(name, data_dir, assignments, seed, workdir, env):
    start = time.perf_counter()
    command = [sys.executable, "-m", "pipelines.run", name, "--data-dir", str(data_dir), "--seed", str(seed),
               "--submission", "s.csv", *[part for a in assignments for part in ("--set", a)]]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    cv = next(line for line in done.stdout.splitlines() if line.startswith("CV "))
    chosen = [line for line in done.stdout.splitlines() if "makes the submission" in line]
    return re.sub(r"^CV \w+: ", "", cv), time.perf_counter() - start, chosen[0].split("; the ")[-1] if chosen else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="spaceship,synthetic,gems")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", help="only the variants whose names contain one of these (comma-separated)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-recipe-") as temporary:
        root = Path(temporary)
        (root / "competitions").mkdir()
        members = "{" + ", ".join(f'"{name}": "{name}"' for name in EVERY) + "}"
        for name, text in COMPETITIONS.items():
            (root / "competitions" / f"{name}.py").write_text(text.replace("{MEMBERS}", members))
        env = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINES_COMPETITIONS": str(root / "competitions")}
        env.pop("PIPELINES_WORKERS", None)
        data = {"spaceship": ("bench_spaceship", SHARED / "spaceship-titanic", VARIANTS),
                "synthetic": ("bench_binary", make_table(root / "binary", 50_000, seed=3), VARIANTS),
                "gems": ("bench_gems", gems_folder(root), REGRESSION)}
        print(f"# benchmarks.recipe, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, seed {args.seed}\n")
        print("| data | variant | CV | wall time | submission from |")
        print("|---|---|---|---|---|")
        for key in args.datasets.split(","):
            name, folder, variants = data[key]
            for label, assignments in variants.items():
                if args.variants and not any(part in label for part in args.variants.split(",")):
                    continue
                cv, seconds, chosen = run(name, folder, assignments, args.seed, root, env)
                print(f"| {key} | {label} | {cv} | {seconds:.0f} s | {chosen} |", flush=True)


if __name__ == "__main__":
    main()
