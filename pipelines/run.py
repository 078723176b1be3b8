"""python -m pipelines.run NAME: cross-validate a competition's pipeline and write a submission.

The last line printed to stdout is the path of the written submission.
"""
import argparse
import json
import time
from pathlib import Path

import competitions
from submissions.submit import require_message, submit
from submissions.write import align_to_sample, default_path, write_submission

from .blend import blend
from .crossval import cross_validate_members
from .data import schema
from .devices import gpu_count
from .download import locate_or_download
from .errors import UserError, cli_main
from .files import sha256
from .kaggle_client import CREDENTIALS_HELP, has_credentials
from .logs import LOGGERS, check_logger
from .params import resolve
from .report import format_score, save_outputs
from .runfolder import (
    RunFolder,
    code_version,
    differences,
    input_fingerprints,
    now,
    versions,
)
from .splits import competition_splits, excluded_rows, fold_of_rows
from .workers import plan, workers_argument


def competition_parser(prog, description, set_help):
    """The arguments every command over a competition shares."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("competition", help=f"one of: {', '.join(competitions.names())}")
    parser.add_argument("--data-dir", help="folder with the competition's Kaggle files (default data/<slug>)")
    parser.add_argument("--seed", type=int, default=0, help="seed for splits, training and sampling (default 0)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    return parser


def add_worker_arguments(parser, what="folds"):
    parser.add_argument("--workers", metavar="N",
                        help=f"{what} at a time, each in a worker process of its own (default auto: as many as the "
                             "cores, or the GPUs, allow; 1: in this process; PIPELINES_WORKERS sets the default)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="threads of each model that leaves them to the run (default: the cores shared among "
                             "the workers)")
    parser.add_argument("--cluster", metavar="tcp://HOST:PORT",
                        help=f"send the {what} to the workers of this Dask scheduler instead (they must see the data "
                             "and run folders at the same paths)")


def build_parser():
    parser = competition_parser("python -m pipelines.run", __doc__.splitlines()[0],
                                "override a hyperparameter, e.g. --set max_epochs=50 (repeatable)")
    parser.add_argument("--submission", help="output CSV (default submissions/NAME-<UTC time>.csv)")
    parser.add_argument("--folds", type=int, help="K for K-fold CV; 1 = one holdout split (default 5, or the preset's)")
    parser.add_argument("--preset", help="a competition's preset of hyperparameters, e.g. cpu or gpu "
                        "(default: gpu when a GPU is present, else cpu, for competitions that have presets)")
    parser.add_argument("--params", type=Path, help="JSON file of hyperparameters, e.g. a tuning run's best_params.json")
    parser.add_argument("--refit", action="store_true",
                        help="after CV, train each member once more on all training rows and predict the test set "
                             "with those models")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="continue an interrupted run: its finished folds are loaded, not trained again")
    parser.add_argument("--logger", choices=LOGGERS, default="csv",
                        help="metrics logger besides the CSV log in the run folder (tensorboard: pip install "
                             "-e '.[tensorboard]')")
    parser.add_argument("--submit", action="store_true", help="submit the file to Kaggle after a successful run")
    parser.add_argument("-m", "--message", help="the submission's description on Kaggle (with --submit)")
    add_worker_arguments(parser)
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
        name = "gpu" if gpu_count() and "gpu" in competition.presets else next(iter(competition.presets))
    if name not in competition.presets:
        raise UserError(f"--preset {name}: {competition.name} has presets {', '.join(competition.presets)}")
    preset = dict(competition.presets[name])
    return name, preset, preset.pop("folds", 5)


def resolve_params(competition, preset, params_file=None, assignments=()):
    """Defaults, then the preset, then a params file, then --set (each value checked against its range)."""
    return resolve(competition.declared(), assignments, read_params_file(params_file), preset=preset)


def resolve_settings(competition, preset_name, params_file, assignments, folds):
    """(preset name, params, folds, the defaults with the preset applied), as run and tune both resolve them."""
    preset, preset_params, preset_folds = choose_preset(competition, preset_name)
    params = resolve_params(competition, preset_params, params_file, assignments)
    folds = preset_folds if folds is None else folds
    check_folds(folds)
    return preset, params, folds, resolve_params(competition, preset_params)


def check_can_submit(message):
    """Before a long run: --submit needs a message and credentials."""
    require_message(message)
    if not has_credentials():
        raise UserError(f"--submit needs Kaggle credentials: {CREDENTIALS_HELP}")


def check_threads(threads):
    if threads is not None and threads < 1:
        raise UserError(f"--threads {threads}: give 1 or more threads, or leave it out (the cores shared among the workers)")


def check_folds(folds):
    if folds < 1:
        raise UserError(f"--folds {folds}: use 1 (a holdout split) or more")


def check_output_path(path):
    if path.is_dir():
        raise UserError(f"--submission {path} is a folder; give a file path such as {path / 'submission.csv'}")


def run_config(competition, dataset, data_dir, settings):
    """What the run is, as config.json records it (JSON round-tripped, so it compares with a stored one)."""
    config = {
        "kind": "cv",
        "competition": competition.name,
        "metric": {"name": competition.metric.name, "greater_is_better": competition.metric.greater_is_better},
        **settings,
        "members": list(competition.selected_members(settings["params"])),
        "data_dir": str(Path(data_dir).resolve()),
        "inputs": input_fingerprints(Path(data_dir), dataset.inputs),
        "train_schema": schema(dataset.X),
        "classes": dataset.info.get("classes"),
        "started": now(),
        "code": code_version(),
        "versions": versions(),
    }
    return json.loads(json.dumps(config, default=str))


def open_run_folder(competition, config, resume):
    """A new run folder, or the interrupted one to resume when its settings and data match."""
    if resume is None:
        return RunFolder.create(competition.name, config)
    folder = RunFolder.open(resume)
    if folder.config.get("kind") != "cv":
        raise UserError(f"--resume {resume}: a {folder.config.get('kind')} run cannot be resumed; make it again")
    folder.require_resumable()
    found = differences(folder.config, config)
    if found:
        raise UserError(f"--resume {resume}: this command differs from the run ({'; '.join(found[:3])}); "
                        "resume with the run's own settings, or start a new run")
    folder.set_status("running", resumed=now())
    return folder


def run(competition, data_dir, settings, submission_path=None, resume=None):
    """Load, cross-validate into a run folder, write the submission; returns (result, path).
    settings: preset, baseline (defaults with the preset), params, folds, seed, refit, logger, submission."""
    start = time.perf_counter()
    params, folds, seed = settings["params"], settings["folds"], settings["seed"]
    dataset = competition.load(data_dir, params)
    splits = competition_splits(competition, dataset, folds, seed)  # too many folds fails here, before any output
    tasks = (folds + bool(settings["refit"])) * len(competition.selected_members(params))  # (member, fold) pairs
    workers = plan(settings.get("workers", 1), tasks, settings.get("cluster"), settings.get("threads"))
    config = run_config(competition, dataset, data_dir, settings)
    folder = open_run_folder(competition, config, resume)
    submission_path = Path(submission_path or folder.config["submission"])
    print(f"{competition.name}: {len(dataset.y)} train rows, {len(dataset.test_ids)} test rows, "
          f"{folds} fold{'s' if folds > 1 else ''}, seed {seed}, {workers.describe()}", flush=True)
    print(f"run folder: {folder.path}", flush=True)
    try:
        excluded = excluded_rows(competition, dataset)
        result, results, weights = cross_validate_and_blend(competition, dataset, data_dir, folder, settings, splits,
                                                            excluded, workers)
        frame = competition.submission(dataset.test_ids, result.test, dataset.info.get("classes"))
        path = write_submission(align_to_sample(frame, dataset.sample), dataset.sample, submission_path,
                                competition.check_submission, dataset.info.get("classes"))
        save_outputs(folder, competition, dataset, result, results, weights, fold_of_rows(splits, len(dataset.y)),
                     excluded, time.perf_counter() - start)
        folder.complete(submission=str(path), submission_sha256=sha256(path))
    except BaseException as error:
        folder.set_status("failed", error=str(error).splitlines()[0] if str(error) else type(error).__name__)
        raise
    return result, path


def cross_validate_and_blend(competition, dataset, data_dir, folder, settings, splits, excluded, workers):
    """(the run's result, {member: CVResult}, blend weights or None), printed as it goes.
    `excluded` rows are kept out of training and out of fitting the blend weights."""
    metric = competition.metric.name
    members = competition.selected_members(settings["params"])
    several = len(members) > 1
    results = cross_validate_members(competition, dataset, settings["params"], settings["folds"], settings["seed"],
                                     members=members, folder=folder, refit=settings["refit"],
                                     logger=settings["logger"], workers=workers, data_dir=data_dir, report=True)
    if not several:
        result, weights = next(iter(results.values())), None
    else:
        for name, member_result in results.items():
            print(f"{name}: CV {metric} {member_result.mean:.5f} ± {member_result.std:.5f}")
        result, weights = blend(results, dataset.y, splits, competition.metric, excluded)
        print("blend weights: " + ", ".join(f"{name} {weight:.3f}" for name, weight in weights.items()))
    print(f"CV {metric}: {format_score(result.mean, result.std)}")
    if excluded.any():  # for comparison with public notebooks, which drop such rows before CV
        kept = result.validated & ~excluded
        score = competition.metric.score(dataset.y[kept], result.oof[kept])
        print(f"out-of-fold {metric} without the {int(excluded.sum())} rows kept out of training: {score:.5f}")
    return result, results, weights


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    workers = workers_argument(args.workers)
    check_threads(args.threads)
    competition = competitions.get(args.competition)
    preset, params, folds, baseline = resolve_settings(competition, args.preset, args.params, args.set, args.folds)
    check_logger(args.logger)
    if args.submit:
        check_can_submit(args.message)
    data_dir = locate_or_download(args.data_dir, competition)
    submission_path = Path(args.submission) if args.submission else None
    if submission_path:
        check_output_path(submission_path)
    settings = {"preset": preset, "baseline": baseline, "params": params,
                "folds": folds, "seed": args.seed, "refit": args.refit, "logger": args.logger,
                "submission": str(submission_path or default_path(competition.name)),
                "workers": workers, "threads": args.threads, "cluster": args.cluster}
    _, path = run(competition, data_dir, settings, submission_path, resume=args.resume)
    if args.submit:
        submit(competition, path, args.message)
    print(path)


if __name__ == "__main__":
    main()
