"""python -m pipelines.run NAME: cross-validate a competition's pipeline and write a submission.

The last line printed to stdout is the path of the written submission.
"""
import argparse
import json
import time
from pathlib import Path

import competitions
from submissions.write import default_path, write_submission

from .crossval import cross_validate
from .data import locate
from .errors import UserError, cli_main
from .params import resolve
from .report import format_score, metrics_summary, new_run_dir, plot_learning_curves, write_json


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m pipelines.run", description=__doc__.splitlines()[0])
    parser.add_argument("competition", help=f"one of: {', '.join(competitions.names())}")
    parser.add_argument("--data-dir", help="folder with the competition's Kaggle files (default data/<slug>)")
    parser.add_argument("--submission", help="output CSV (default submissions/NAME-<UTC time>.csv)")
    parser.add_argument("--folds", type=int, default=5, help="K for K-fold CV; 1 = one holdout split (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed for splits and training (default 0)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a hyperparameter, e.g. --set max_epochs=50 (repeatable)")
    parser.add_argument("--params", type=Path, help="JSON file of hyperparameters, e.g. a tuning run's best_params.json")
    return parser


def read_params_file(path):
    if path is None:
        return {}
    try:
        params = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"--params {path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"--params {path}: not valid JSON ({error})") from None
    if not isinstance(params, dict):
        raise UserError(f"--params {path}: expected a JSON object of name: value")
    return params


def align_to_sample(frame, sample):
    """Rows in the sample submission's id order."""
    id_column = sample.columns[0]
    return frame.set_index(id_column).loc[sample[id_column].to_numpy()].reset_index()


def check_folds(folds):
    if folds < 1:
        raise UserError(f"--folds {folds}: use 1 (a holdout split) or more")


def check_output_path(path):
    if path.is_dir():
        raise UserError(f"--submission {path} is a folder; give a file path such as {path / 'submission.csv'}")


def run(competition, data_dir, params, folds, seed, submission_path):
    """Load, cross-validate, save the run folder, write the submission; returns (result, path)."""
    start = time.perf_counter()
    dataset = competition.load(data_dir)
    print(f"{competition.name}: {len(dataset.y)} train rows, {len(dataset.test_ids)} test rows, "
          f"{folds} fold{'s' if folds > 1 else ''}, seed {seed}", flush=True)
    metric = competition.metric.name

    def report_fold(fold):
        print(f"fold {fold.index}: {metric} {fold.score:.5f} ({fold.seconds:.1f}s)", flush=True)

    result = cross_validate(competition, dataset, params, folds=folds, seed=seed, on_fold=report_fold)
    print(f"CV {metric}: {format_score(result.mean, result.std)}")

    frame = align_to_sample(competition.submission(dataset.test_ids, result.test), dataset.sample)
    path = write_submission(frame, dataset.sample, submission_path, competition.check_submission)

    run_dir = new_run_dir(competition.name)
    config = {"competition": competition.name, "data_dir": str(data_dir), "folds": folds, "seed": seed,
              "params": params, "submission": str(path)}
    write_json(run_dir / "config.json", config)
    write_json(run_dir / "metrics.json", metrics_summary(result, time.perf_counter() - start))
    oof = competition.submission(dataset.train_ids[result.validated], result.oof[result.validated])
    truth = competition.submission(dataset.train_ids[result.validated], dataset.y[result.validated])
    oof.join(truth.iloc[:, 1:].add_suffix("_true")).to_csv(run_dir / "oof.csv", index=False)
    plot_learning_curves(run_dir / "learning_curves.png", result.folds, f"{competition.name} learning curves")
    print(f"run folder: {run_dir}")
    return result, path


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    competition = competitions.get(args.competition)
    params = resolve(competition.defaults, args.set, read_params_file(args.params))
    data_dir = locate(args.data_dir, competition)
    submission_path = Path(args.submission) if args.submission else default_path(competition.name)
    check_output_path(submission_path)
    check_folds(args.folds)
    _, path = run(competition, data_dir, params, args.folds, args.seed, submission_path)
    print(path)


if __name__ == "__main__":
    main()
