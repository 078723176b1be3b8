"""python -m pipelines.tune NAME --trials N: an Optuna search over a competition's search space.

Each trial's value is the competition's K-fold CV metric from the same cross_validate
that pipelines.run uses. Studies persist in the storage (SQLite by default), so running
the same command again continues the same study; PostgreSQL lets workers on several
machines share one study.
"""
import gc
import time
import warnings

import optuna

import competitions

from .crossval import cross_validate
from .download import locate_or_download
from .errors import UserError, cli_main
from .files import write_json
from .params import resolve
from .pruning import EpochPruning, FoldPruning
from .run import check_folds, competition_parser
from .runfolder import new_run_dir
from .studies import (
    DEFAULT_STORAGE,
    WORKER,
    fail_dead_local_trials,
    open_storage,
    redact,
)


def build_parser():
    parser = competition_parser("python -m pipelines.tune", __doc__.splitlines()[0],
                                "pin a hyperparameter for every trial (repeatable)")
    parser.add_argument("--trials", type=int, required=True, help="trials this worker runs")
    parser.add_argument("--timeout", type=float, help="stop starting new trials after this many seconds")
    parser.add_argument("--storage", default=DEFAULT_STORAGE, help=f"study database URL (default {DEFAULT_STORAGE})")
    parser.add_argument("--study-name", help="default: the competition's name")
    parser.add_argument("--folds", type=int, default=5, help="K of the CV each trial runs (default 5)")
    parser.add_argument("--no-pruning", action="store_true", help="run every trial to the end")
    return parser


def make_objective(competition, member, dataset, assignments, folds, seed, pruning):
    def objective(trial):
        trial.set_user_attr("worker", WORKER)
        params = resolve(competition.defaults, assignments, overrides=member.search_space(trial))
        try:
            result = cross_validate(
                competition, dataset, params, folds=folds, seed=seed, member=member,
                fold_callbacks=lambda index: [EpochPruning(trial, competition.monitor)] if pruning and index == 0 else [],
                on_fold=FoldPruning(trial) if pruning else None,
            )
            return result.mean
        finally:
            gc.collect()  # free the fold models, trainers and loaders before the next trial

    return objective


def save_plots(study, folder):
    """Optimisation history and parameter importances as PNG (Optuna's matplotlib plots)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    saved = []
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    for name, plot, needed in (("optimization_history", plots.plot_optimization_history, 1),
                               ("param_importances", plots.plot_param_importances, 2)):
        if len(complete) < needed:
            continue
        axis = plot(study)
        axis.figure.set_size_inches(8, 5)
        axis.figure.tight_layout()
        axis.figure.savefig(folder / f"{name}.png", dpi=100)
        plt.close(axis.figure)
        saved.append(name)
    return saved


def summarize(study, competition, run_dir):
    states = {}
    for trial in study.trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    print(f"study {study.study_name}: {len(study.trials)} trials ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))})")
    try:
        best = study.best_trial
    except ValueError:
        raise UserError("no trial has completed yet; run more trials (--trials) or allow more time (--timeout)") from None
    print(f"best {competition.metric.name}: {best.value:.5f} (trial {best.number})")
    for key, value in best.params.items():
        print(f"  {key} = {value}")
    write_json(run_dir / "best_params.json", best.params)
    study.trials_dataframe().to_csv(run_dir / "trials.csv", index=False)
    save_plots(study, run_dir)
    print(f"run folder: {run_dir}")
    print(f"reuse with: python -m pipelines.run {competition.name} --params {run_dir / 'best_params.json'}")
    return best


def choose_member(competition, params):
    """Tuning targets one member: the first of those selected by `models`."""
    members = competition.selected_members(params)
    name, member = next(iter(members.items()))
    if member.search_space is None:
        raise UserError(f"{competition.name} declares no search space to tune"
                        + ("" if name == "model" else f" for member {name}"))
    if len(members) > 1:
        print(f"tuning member {name} (the first of {', '.join(members)}); choose one with --set models=NAME")
    return name, member


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    competition = competitions.get(args.competition)
    if args.trials <= 0:
        raise UserError(f"--trials {args.trials}: give a positive number of trials")
    if args.timeout is not None and args.timeout <= 0:
        raise UserError(f"--timeout {args.timeout}: give a positive number of seconds")
    check_folds(args.folds)
    pinned = resolve(competition.defaults, args.set)  # fails on a bad --set before any work
    name, member = choose_member(competition, pinned)
    data_dir = locate_or_download(args.data_dir, competition)
    storage = open_storage(args.storage)
    study_name = args.study_name or competition.name
    study = optuna.create_study(
        storage=storage, study_name=study_name, load_if_exists=True, direction=competition.metric.direction,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=10),
    )
    if study.direction.name.lower() != competition.metric.direction:
        raise UserError(f"study {study_name!r} in {redact(args.storage)} was made to {study.direction.name.lower()}; "
                        f"{competition.metric.name} needs {competition.metric.direction}: choose another --study-name")
    failed = fail_dead_local_trials(study)
    if failed:
        print(f"marked FAIL the trials of a worker that died: {', '.join(map(str, failed))}")
    study.sampler = optuna.samplers.TPESampler(seed=args.seed + len(study.trials))  # resumed runs explore anew
    dataset = competition.load(data_dir, pinned)
    print(f"tuning {competition.name}{'' if name == 'model' else f' member {name}'}: study {study_name!r} in {redact(args.storage)}, "
          f"{len(study.trials)} earlier trials, {args.trials} more, {args.folds} folds", flush=True)
    start = time.perf_counter()
    study.optimize(
        make_objective(competition, member, dataset, args.set, args.folds, args.seed, pruning=not args.no_pruning),
        n_trials=args.trials, timeout=args.timeout, gc_after_trial=True,
    )
    elapsed = time.perf_counter() - start
    run_dir = new_run_dir(f"{competition.name}/tune")
    write_json(run_dir / "config.json", {**vars(args), "storage": redact(args.storage), "study_name": study_name,
                                         "seconds": round(elapsed, 1), "data_dir": str(data_dir)})
    summarize(study, competition, run_dir)
    print(f"{args.trials} trials in {elapsed:.0f}s")


if __name__ == "__main__":
    main()
