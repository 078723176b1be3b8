"""python -m pipelines.run NAME: cross-validate a competition's pipeline and write a submission.

The last line printed to stdout is the path of the written submission.
"""
import argparse
import json
import time
from pathlib import Path

import pandas as pd

import competitions
from submissions.submit import require_message, submit
from submissions.write import default_path, write_submission

from .blend import cross_validate_members
from .crossval import excluded_rows
from .download import locate_or_download
from .errors import UserError, cli_main
from .files import atomic_path
from .kaggle_client import CREDENTIALS_HELP, has_credentials
from .params import resolve
from .report import (
    format_score,
    metrics_summary,
    new_run_dir,
    plot_learning_curves,
    write_json,
)


def competition_parser(prog, description, set_help):
    """The arguments every command over a competition shares."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("competition", help=f"one of: {', '.join(competitions.names())}")
    parser.add_argument("--data-dir", help="folder with the competition's Kaggle files (default data/<slug>)")
    parser.add_argument("--seed", type=int, default=0, help="seed for splits, training and sampling (default 0)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    return parser


def build_parser():
    parser = competition_parser("python -m pipelines.run", __doc__.splitlines()[0],
                                "override a hyperparameter, e.g. --set max_epochs=50 (repeatable)")
    parser.add_argument("--submission", help="output CSV (default submissions/NAME-<UTC time>.csv)")
    parser.add_argument("--folds", type=int, help="K for K-fold CV; 1 = one holdout split (default 5, or the preset's)")
    parser.add_argument("--preset", help="a competition's preset of hyperparameters, e.g. cpu or gpu "
                        "(default: gpu when a GPU is present, else cpu, for competitions that have presets)")
    parser.add_argument("--params", type=Path, help="JSON file of hyperparameters, e.g. a tuning run's best_params.json")
    parser.add_argument("--submit", action="store_true", help="submit the file to Kaggle after a successful run")
    parser.add_argument("-m", "--message", help="the submission's description on Kaggle (with --submit)")
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


def choose_preset(competition, name):
    """(preset name, its params, its default folds); competitions without presets have none."""
    if not competition.presets:
        if name:
            raise UserError(f"{competition.name} has no presets; drop --preset")
        return None, {}, 5
    if name is None:
        import torch

        name = "gpu" if torch.cuda.is_available() and "gpu" in competition.presets else next(iter(competition.presets))
    if name not in competition.presets:
        raise UserError(f"--preset {name}: {competition.name} has presets {', '.join(competition.presets)}")
    preset = dict(competition.presets[name])
    return name, preset, preset.pop("folds", 5)


def resolve_params(competition, preset, params_file, assignments):
    """Defaults, then the preset, then a params file, then --set."""
    return resolve({**competition.defaults, **preset}, assignments, read_params_file(params_file))


def oof_frame(dataset, result, id_column, members=None):
    """Out-of-fold predictions in model space beside the target, one column per class for classifiers
    (and, for a blend of regressors, one column per member)."""
    rows = result.validated
    frame = pd.DataFrame({id_column: dataset.train_ids[rows], "target": dataset.y[rows]})
    predictions = result.oof[rows]
    if predictions.ndim == 1:
        frame["prediction"] = predictions
        for name, member in (members or {}).items():
            frame[f"prediction_{name}"] = member.oof[rows]
    else:
        names = dataset.info.get("classes") or range(predictions.shape[1])
        frame = frame.join(pd.DataFrame(predictions, columns=[f"p_{n}" for n in names], index=frame.index))
    return frame


def align_to_sample(frame, sample):
    """Rows in the sample submission's id order."""
    id_column = sample.columns[0]
    return frame.set_index(id_column).loc[sample[id_column].to_numpy()].reset_index()


def check_can_submit(message):
    """Before a long run: --submit needs a message and credentials."""
    require_message(message)
    if not has_credentials():
        raise UserError(f"--submit needs Kaggle credentials: {CREDENTIALS_HELP}")


def check_folds(folds):
    if folds < 1:
        raise UserError(f"--folds {folds}: use 1 (a holdout split) or more")


def check_output_path(path):
    if path.is_dir():
        raise UserError(f"--submission {path} is a folder; give a file path such as {path / 'submission.csv'}")


def run(competition, data_dir, params, folds, seed, submission_path, preset=None):
    """Load, cross-validate, save the run folder, write the submission; returns (result, path)."""
    start = time.perf_counter()
    dataset = competition.load(data_dir, params)
    print(f"{competition.name}: {len(dataset.y)} train rows, {len(dataset.test_ids)} test rows, "
          f"{folds} fold{'s' if folds > 1 else ''}, seed {seed}", flush=True)
    metric = competition.metric.name

    several = len(competition.selected_members(params)) > 1

    def report_fold(name, fold):
        epochs = [e["seconds"] for e in fold.history if "seconds" in e]
        per_epoch = f", {sum(epochs) / len(epochs):.1f}s/epoch" if epochs else ""
        label = f"{name} " if several else ""
        print(f"{label}fold {fold.index}: {metric} {fold.score:.5f} ({fold.seconds:.1f}s{per_epoch})", flush=True)

    result, results, weights = cross_validate_members(competition, dataset, params, folds, seed, report_fold,
                                                      log=lambda text: print(text, flush=True))
    excluded = excluded_rows(competition, dataset)
    print(f"CV {metric}: {format_score(result.mean, result.std)}")
    if excluded.any():  # for comparison with public notebooks, which drop such rows before CV
        kept = result.validated & ~excluded
        score = competition.metric.score(dataset.y[kept], result.oof[kept])
        print(f"out-of-fold {metric} without the {int(excluded.sum())} rows kept out of training: {score:.5f}")

    frame = competition.submission(dataset.test_ids, result.test, dataset.info.get("classes"))
    frame = align_to_sample(frame, dataset.sample)
    path = write_submission(frame, dataset.sample, submission_path, competition.check_submission)

    run_dir = new_run_dir(competition.name)
    config = {"competition": competition.name, "data_dir": str(data_dir), "preset": preset, "folds": folds,
              "seed": seed, "params": params, "submission": str(path)}
    write_json(run_dir / "config.json", config)
    summary = metrics_summary(result, time.perf_counter() - start)
    if weights is not None:
        summary["members"] = {name: metrics_summary(member_result, None) for name, member_result in results.items()}
        summary["blend_weights"] = weights
    write_json(run_dir / "metrics.json", summary)
    with atomic_path(run_dir / "oof.csv") as temporary:
        oof_frame(dataset, result, dataset.sample.columns[0], results if weights else None).to_csv(temporary, index=False)
    trained = [r.folds for r in results.values() if any(fold.history for fold in r.folds)]
    plot_learning_curves(run_dir / "learning_curves.png", trained[0] if trained else [],
                         f"{competition.name} learning curves")
    print(f"run folder: {run_dir}")
    return result, path


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    competition = competitions.get(args.competition)
    preset, preset_params, preset_folds = choose_preset(competition, args.preset)
    params = resolve_params(competition, preset_params, args.params, args.set)
    folds = preset_folds if args.folds is None else args.folds
    check_folds(folds)
    if args.submit:
        check_can_submit(args.message)
    data_dir = locate_or_download(args.data_dir, competition)
    submission_path = Path(args.submission) if args.submission else default_path(competition.name)
    check_output_path(submission_path)
    _, path = run(competition, data_dir, params, folds, args.seed, submission_path, preset)
    if args.submit:
        submit(competition, path, args.message)
    print(path)


if __name__ == "__main__":
    main()
