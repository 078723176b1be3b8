"""python -m pipelines.run NAME: cross-validate a competition's pipeline and write a submission.

The last line printed to stdout is the path of the written submission.
"""
import json
import time
import traceback
import uuid
from pathlib import Path

import competitions
from pipelines.core.data import schema
from pipelines.core.errors import UserError, cli_main
from pipelines.core.files import sha256
from pipelines.core.logs import LOGGERS, check_logger
from pipelines.engine.crossval import FoldPlan, cross_validate_members, registered
from pipelines.engine.decisions import decide
from pipelines.engine.ensemble import blend, equal_weights, stack
from pipelines.engine.folds import splits_of
from pipelines.engine.options import (
    add_worker_arguments,
    check_seed,
    check_threads,
    check_time_limit,
    competition_parser,
    resolve_settings,
)
from pipelines.engine.report import column_lines, format_score, save_outputs, write_competition_submission
from pipelines.engine.splits import excluded_rows, fold_of_rows
from pipelines.engine.workers import check_cluster, check_options, plan, workers_argument
from pipelines.kaggle.client import CREDENTIALS_HELP, has_credentials
from pipelines.kaggle.data import locate_or_download
from pipelines.record.runfolder import (
    RUNS_DIR,
    RunFolder,
    code_changes,
    code_version,
    differences,
    input_fingerprints,
    now,
    versions,
)
from submissions.submit import require_message, submit
from submissions.write import check_output_path, default_path


def build_parser():
    parser = competition_parser("python -m pipelines.run", __doc__.splitlines()[0],
                                "override a hyperparameter, e.g. --set max_epochs=50 (repeatable)")
    parser.add_argument("--submission", help="output CSV (default submissions/NAME-<UTC time>.csv)")
    parser.add_argument("--folds", type=int, help="K for K-fold CV; 1 = one holdout split (default 5, or the preset's)")
    parser.add_argument("--preset", help="a competition's preset of hyperparameters, e.g. cpu or gpu "
                        "(default: gpu when a GPU is present, else cpu, for competitions that have presets)")
    parser.add_argument("--params", type=Path, action="append", default=[],
                        help="JSON file of hyperparameters, e.g. a tuning run's best_params.json (repeatable: "
                             "later files win, so several members' best parameters combine)")
    parser.add_argument("--refit", action="store_true",
                        help="after CV, train each member once more on all training rows and predict the test set "
                             "with those models")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="continue an interrupted run: its finished folds are loaded, not trained again")
    parser.add_argument("--logger", choices=LOGGERS, default="csv",
                        help="metrics logger besides the CSV log in the run folder (tensorboard: pip install "
                             "-e '.[tensorboard]')")
    parser.add_argument("--time-limit", type=float, metavar="SECONDS",
                        help="finish within about this many seconds: boosting stops early where the time shared "
                             "among the models runs out (its rounds then depend on the machine)")
    parser.add_argument("--submit", action="store_true", help="submit the file to Kaggle after a successful run")
    parser.add_argument("-m", "--message", help="the submission's description on Kaggle (with --submit)")
    add_worker_arguments(parser)
    return parser


def check_can_submit(message):
    """Before a long run: --submit needs a message and credentials."""
    require_message(message)
    if not has_credentials():
        raise UserError(f"--submit needs Kaggle credentials: {CREDENTIALS_HELP}")


RESERVE = 0.15  # of a --time-limit kept for blending, outputs and the stragglers


def time_budget(limit, started, workers, models):
    """Seconds each model may boost for so that `models` on `workers` end within `limit`; one clear
    error when that leaves too little for even a first round."""
    if limit is None:
        return None
    elapsed = time.perf_counter() - started
    budget = (limit * (1 - RESERVE) - elapsed) * workers.count / models
    on = f"{models} models on {workers.count} worker{'s' if workers.count > 1 else ''}"
    if budget < 1.0:
        need = (elapsed + models / workers.count) / (1 - RESERVE)
        raise UserError(f"--time-limit {limit:g}: too short for {on} (loading took {elapsed:.0f} s); "
                        f"give at least {need:.0f} s")
    print(f"time limit {limit:g} s: {on}, about {budget:.0f} s of boosting each", flush=True)
    return budget


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
        "code": code_version(competition.name),
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
    changed = code_changes(folder.config.get("code", {}), config["code"])
    if changed:
        commit = folder.config["code"].get("commit")
        raise UserError(f"--resume {resume}: the code changed since the run started ({', '.join(changed[:4])}"
                        f"{', ...' if len(changed) > 4 else ''}); finished folds would mix two versions: resume with "
                        f"the run's code{f' (git commit {commit[:12]} and the same files)' if commit else ''}, or "
                        "start a new run")
    folder.set_status("running", resumed=now(), attempt=uuid.uuid4().hex)
    return folder


def run(competition, data_dir, settings, submission_path=None, resume=None):
    """Load, cross-validate into a run folder, write the submission; returns (result, path).
    settings: preset, baseline (defaults with the preset), params, folds, seed, refit, logger, submission."""
    start = time.perf_counter()
    params, folds, seed = settings["params"], settings["folds"], settings["seed"]
    dataset = competition.load(data_dir, params)
    chosen = "baseline" in settings and params.get("models") != settings["baseline"].get("models")
    params = competition.fitting_models(params, dataset, chosen)
    settings = {**settings, "params": params}
    splits = splits_of(competition, dataset, folds, seed)  # too many folds fails here, before any output
    tasks = (folds + bool(settings["refit"])) * len(competition.selected_members(params))  # (member, fold) pairs
    workers = plan(settings.get("workers", 1), tasks, settings.get("cluster"), settings.get("threads"), folds)
    budget = time_budget(settings.get("time_limit"), settings.get("clock", start), workers, tasks)
    config = run_config(competition, dataset, data_dir, {**{k: v for k, v in settings.items() if k != "clock"},
                                                         "threads": workers.threads})
    if workers.cluster and registered(competition):  # every worker checked before anything is written
        RUNS_DIR.resolve().mkdir(parents=True, exist_ok=True)
        check_cluster(workers.cluster, competition.name, [Path(data_dir).resolve(), RUNS_DIR.resolve()],
                      config["code"]["digest"])
    folder = open_run_folder(competition, config, resume)
    submission_path = Path(submission_path or folder.config["submission"])
    extra = dataset.info.get("extra_rows", 0)
    rows = f"{len(dataset.y) - extra} train rows" + (f" and {extra} extra (every fold trains on them, none is "
                                                      "validated)" if extra else "")
    print(f"{competition.name}: {rows}, {len(dataset.test_ids)} test rows, "
          f"{folds} fold{'s' if folds > 1 else ''}, seed {seed}, {workers.describe()}", flush=True)
    for line in column_lines(dataset.info["columns"]) if "columns" in dataset.info else ():
        print(line, flush=True)
    print(f"run folder: {folder.path}", flush=True)
    try:
        excluded = excluded_rows(competition, dataset)
        result, results, weights, stacker = cross_validate_and_blend(competition, dataset, data_dir, folder, settings,
                                                                     splits, excluded, workers, budget)
        path = write_competition_submission(competition, dataset.test_ids, result.test, dataset.info.get("classes"),
                                            dataset.sample, submission_path, decision=result.decision)
        save_outputs(folder, competition, dataset, result, results, weights, fold_of_rows(splits, len(dataset.y)),
                     excluded, time.perf_counter() - start, stacker)
        folder.complete(submission=str(path), submission_sha256=sha256(path))
    except BaseException as error:
        folder.fail(error, getattr(error, "details", "") or traceback.format_exc())
        raise
    return result, path


def cross_validate_and_blend(competition, dataset, data_dir, folder, settings, splits, excluded, workers, budget=None):
    """(the run's result, {member: CVResult}, blend weights or None), printed as it goes.
    `excluded` rows are kept out of training and out of fitting the blend weights."""
    metric = competition.metric.name
    members = competition.selected_members(settings["params"])
    several = len(members) > 1
    plan = FoldPlan(folds=settings["folds"], seed=settings["seed"], refit=settings["refit"], workers=workers,
                    data_dir=data_dir, folder=folder, logger=settings["logger"], report=True, time_budget=budget)
    results = cross_validate_members(competition, dataset, settings["params"], plan, members=members)
    for name, member_result in results.items():
        collapsed = [fold.index for fold in member_result.folds if fold.collapsed and fold.index >= 0]
        if collapsed:
            print(f"warning: {name} collapsed in fold{'s' if len(collapsed) > 1 else ''} "
                  f"{', '.join(map(str, collapsed))} of {settings['folds']} (see above): its CV is not what it can do")
    stacker = None
    if not several:
        result, weights = next(iter(results.values())), None
    else:
        for name, member_result in results.items():
            print(f"{name}: CV {metric} {member_result.mean:.5f} ± {member_result.std:.5f}")
        result, weights = blend(results, dataset.y, splits, competition.metric, excluded)
        print("blend weights: " + ", ".join(f"{name} {weight:.3f}" for name, weight in weights.items())
              + (" (equal: one holdout split has no other folds to fit them on)" if equal_weights(splits) else ""))
        if settings["params"].get("stack", False) and not equal_weights(splits) and not competition.metric.columns:
            stacked, model = stack(results, dataset.y, splits, competition.metric, excluded, settings["seed"])
            better = stacked.mean > result.mean if competition.metric.greater_is_better else stacked.mean < result.mean
            print(f"blend: CV {metric} {format_score(result.mean, result.std)}; stack ({type(model).__name__} on the "
                  f"members' out-of-fold predictions): CV {metric} {format_score(stacked.mean, stacked.std)}; "
                  f"the {'stack' if better else 'blend'} makes the submission")
            if better:
                result, stacker = stacked, model
    result = decide(result, dataset.y, splits, competition.metric, excluded)
    print(f"CV {metric}: {format_score(result.mean, result.std)}")
    if excluded.any():  # for comparison with public notebooks, which drop such rows before CV
        kept = result.validated & ~excluded
        score = competition.metric.score(dataset.y[kept], result.oof[kept])
        print(f"out-of-fold {metric} without the {int(excluded.sum())} rows kept out of training: {score:.5f}")
    return result, results, weights, stacker


@cli_main
def main(argv=None):
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    check_options(args.workers, args.cluster)
    workers = workers_argument(args.workers)
    check_threads(args.threads)
    check_time_limit(args.time_limit)
    check_seed(args.seed)
    competition = competitions.get(args.competition)
    preset, params, folds, baseline = resolve_settings(competition, args.preset, args.params, args.set, args.folds)
    check_logger(args.logger)
    if args.submit:
        check_can_submit(args.message)
    data_dir = locate_or_download(args.data_dir, competition)
    submission_path = Path(args.submission) if args.submission else None
    check_output_path(submission_path or default_path(competition.name))
    settings = {"preset": preset, "baseline": baseline, "params": params,
                "folds": folds, "seed": args.seed, "refit": args.refit, "logger": args.logger,
                "submission": str(submission_path or default_path(competition.name)),
                "workers": workers, "threads": args.threads, "cluster": args.cluster, "time_limit": args.time_limit,
                "clock": started}
    _, path = run(competition, data_dir, settings, submission_path, resume=args.resume)
    if args.submit:
        submit(competition, path, args.message)
    print(path)


if __name__ == "__main__":
    main()
