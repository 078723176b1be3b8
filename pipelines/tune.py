"""python -m pipelines.tune NAME --trials N: an Optuna search over a competition's search space.

Each trial's value is the competition's K-fold CV metric from the same cross_validate
that pipelines.run uses. Studies persist in the storage (SQLite by default), so running
the same command again continues the same study; PostgreSQL lets workers on several
machines share one study. `--workers N` runs N trials at a time, each worker a process with
its own sampler on the one study (each trial's folds run in turn, so pruning keeps working);
`--cluster` runs the workers on a Dask scheduler's workers.
"""
import gc
import hashlib
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna

import competitions
from pipelines.core.errors import CodeError, UserError, as_code_error, cli_main, first_line
from pipelines.core.files import write_json
from pipelines.engine.crossval import cross_validate
from pipelines.engine.folds import load_dataset
from pipelines.engine.options import (
    add_worker_arguments,
    check_seed,
    check_threads,
    competition_parser,
    read_params_file,
    resolve_settings,
)
from pipelines.engine.params import resolve
from pipelines.engine.report import column_lines
from pipelines.engine.splits import competition_splits
from pipelines.engine.studies import (
    DEFAULT_STORAGE,
    WORKER,
    absolute_url,
    fail_dead_local_trials,
    open_storage,
    redact,
    unlocked,
)
from pipelines.engine.workers import check_cluster, check_options, plan, run_all, workers_argument
from pipelines.kaggle.data import locate_or_download
from pipelines.record.runfolder import code_version, input_fingerprints, new_run_dir
from pipelines.training.pruning import FoldPruning, epoch_pruning


def build_parser():
    parser = competition_parser("python -m pipelines.tune", __doc__.splitlines()[0],
                                "pin a hyperparameter for every trial (repeatable)")
    parser.add_argument("--trials", type=int, required=True, help="trials this command runs (on all its workers)")
    parser.add_argument("--timeout", type=float, help="stop starting new trials after this many seconds")
    parser.add_argument("--storage", default=DEFAULT_STORAGE, help=f"study database URL (default {DEFAULT_STORAGE})")
    parser.add_argument("--study-name", help="default: the competition's name, and the member's for a member")
    parser.add_argument("--folds", type=int, help="K of the CV each trial runs (default 5, or the preset's)")
    parser.add_argument("--preset", help="a competition's preset, as for pipelines.run (default: gpu when a GPU "
                        "is present, else cpu)")
    parser.add_argument("--params", action="append", default=[],
                        help="JSON file of parameters the trials start from, as for pipelines.run (repeatable)")
    parser.add_argument("--no-pruning", action="store_true", help="run every trial to the end")
    add_worker_arguments(parser, what="trials", default="1, as trials on one SQLite file are safest one at a time")
    return parser


def make_objective(competition, name, dataset, base, assignments, folds, seed, pruning, threads=1):
    """Each trial: the member's searched parameters over `base` (defaults, preset, params file), then
    --set, resolved and checked as pipelines.run resolves them; its value is the K-fold CV score."""
    suggest = competition.search_space(name)

    def objective(trial):
        trial.set_user_attr("worker", WORKER)
        params = resolve(competition.declared(), assignments, overrides={**base, **suggest(trial)})
        try:
            result = cross_validate(
                competition, dataset, params, folds=folds, seed=seed, member=name, threads=threads,
                fold_callbacks=lambda index: ([epoch_pruning(trial, competition.monitor, competition.metric.direction)]
                                              if pruning and index == 0 else []),
                on_fold=FoldPruning(trial, folds) if pruning else None,
            )
            return result.mean
        except optuna.TrialPruned:
            raise
        except Exception as error:  # noqa: BLE001 - a trial that fails is recorded FAIL; the search goes on
            reason = first_line(as_code_error(error) or error)
            if not isinstance(error, (UserError, CodeError)):
                reason = f"{type(error).__name__}: {reason}"
            trial.set_user_attr("error", reason)
            print(f"trial {trial.number} failed: {reason}", flush=True)
            return float("nan")  # Optuna records a trial whose value is NaN as FAIL
        finally:
            gc.collect()  # free the fold models, trainers and loaders before the next trial

    return objective


@dataclass(frozen=True)
class TuneJob:
    """One tuning worker's share of a search, by value, so it runs in any process."""

    competition: str
    data_dir: str
    storage: str
    study_name: str
    member: str
    base: dict
    assignments: tuple
    pinned: dict
    folds: int
    seed: int
    pruning: bool
    trials: int
    timeout: float | None    # seconds from the worker's start after which no trial starts
    threads: int = 1


def sampler_seed(seed, trials_so_far):
    """The search's seed mixed with this worker's identity (host:pid) and the study's size, so
    workers that start together on one storage never propose the same trials."""
    digest = hashlib.sha256(f"{seed}/{WORKER}/{trials_so_far}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def tune_worker(job, dataset=None):
    """Run this worker's trials on the shared study; returns the numbers of the trials it finished."""
    competition = competitions.get(job.competition)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # constant_liar
    study = optuna.load_study(study_name=job.study_name, storage=open_storage(job.storage), pruner=pruner())
    study.sampler = optuna.samplers.TPESampler(seed=sampler_seed(job.seed, len(study.trials)), constant_liar=True)
    dataset = dataset or load_dataset(competition, job.data_dir, job.pinned)
    objective = make_objective(competition, job.member, dataset, job.base, list(job.assignments), job.folds, job.seed,
                               job.pruning, job.threads)
    finished = []
    study.optimize(objective, n_trials=job.trials, timeout=job.timeout, gc_after_trial=True,
                   callbacks=[lambda _, trial: finished.append(trial.number)])
    return finished


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


FRESH_SEED_OFFSET = 1000  # the seed best parameters are scored again with: never the search's own


def summarize(study, competition, run_dir, found_with, rescore):
    """Print the study and its best trial, score the best parameters again on fresh splits, write
    best_params.json (the parameters and what they were found with), trials.csv and the plots."""
    states = {}
    for trial in study.trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    print(f"study {study.study_name}: {len(study.trials)} trials ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))})")
    try:
        best = study.best_trial
    except ValueError:
        failed = [trial.user_attrs["error"] for trial in study.trials if "error" in trial.user_attrs]
        why = f" ({len(failed)} failed; the last: {failed[-1]})" if failed else ""
        raise UserError(f"no trial has completed yet{why}; run more trials (--trials), allow more time (--timeout) "
                        "or narrow the search (--set)") from None
    metric = competition.metric.name
    print(f"best {metric}: {best.value:.5f} (trial {best.number}) on the search's own splits (seed {found_with['seed']})")
    for key, value in best.params.items():
        print(f"  {key} = {value}")
    fresh_seed = found_with["seed"] + FRESH_SEED_OFFSET
    fresh = rescore(best.params, fresh_seed)
    print(f"the same parameters on fresh splits (seed {fresh_seed}, never used by the search): {metric} {fresh:.5f}; "
          "expect this, not the search's best, from a run")
    write_json(run_dir / "best_params.json", {"params": best.params, "found_with": {
        **found_with, "trial": best.number, "value": best.value, "fresh_seed": fresh_seed, "fresh_value": fresh}})
    study.trials_dataframe().to_csv(run_dir / "trials.csv", index=False)
    save_plots(study, run_dir)
    print(f"run folder: {run_dir}")
    print(f"reuse with: python -m pipelines.run {competition.name} --params {run_dir / 'best_params.json'} "
          f"--seed {fresh_seed + 1}")
    return best


def check_search(study, search):
    """A study continues only the search it began: the same folds, seed, preset, pinned values and data."""
    recorded = study.user_attrs.get("search")
    if recorded is None or not study.trials:
        study.set_user_attr("search", search)
        return
    labels = {"folds": "folds", "seed": "seed", "preset": "preset", "pinned": "pinned --set values"}
    found = [f"{label}: the study has {recorded.get(key)!r}, this command {search.get(key)!r}"
             for key, label in labels.items() if recorded.get(key) != search.get(key)]
    if recorded.get("data") != search.get("data"):
        found.append("data: the study's trials were scored on data files with other contents (sha256)")
    if found:
        what = "; ".join(found[:2])
        raise UserError(f"study {study.study_name!r} was searched with other settings ({what}); its trials would "
                        "not compare: use the study's settings, or another --study-name")


def choose_member(competition, params):
    """Tuning targets one member: the first of those selected by `models`."""
    members = competition.selected_members(params)
    name = next(iter(members))
    if not competition.searchable(name if competition.members else None):
        raise UserError(f"{competition.name} declares no search range to tune"
                        + ("" if name == "model" else f" for member {name}"))
    if len(members) > 1:
        print(f"tuning member {name} (the first of {', '.join(members)}); choose one with --set models=NAME")
    return name


def pruner():
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=10)


def open_study(args, competition, name, storage):
    """The study of this competition (and member); one made for another member is refused."""
    member = name if competition.members else None
    study_name = args.study_name or competition.name + (f"-{member}" if member else "")
    study = optuna.create_study(storage=storage, study_name=study_name, load_if_exists=True,
                                direction=competition.metric.direction, pruner=pruner())
    if study.direction.name.lower() != competition.metric.direction:
        raise UserError(f"study {study_name!r} in {redact(args.storage)} was made to {study.direction.name.lower()}; "
                        f"{competition.metric.name} needs {competition.metric.direction}: choose another --study-name")
    recorded = study.user_attrs.get("member", "")
    if recorded != (member or "") and (recorded or study.trials):
        what = f"member {recorded}" if recorded else "another model"
        raise UserError(f"study {study_name!r} tunes {what} of {competition.name}, not {member or 'its model'}: "
                        "choose another --study-name (or drop it: each member gets its own study)")
    study.set_user_attr("member", member or "")
    return study


def shares(trials, workers):
    """How many of `trials` each of `workers` runs."""
    return [trials // workers + (index < trials % workers) for index in range(workers)]


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    with unlocked(args.storage):
        tune(args)


def tune(args):
    check_options(args.workers, args.cluster)
    requested = workers_argument(args.workers, default="1")
    check_threads(args.threads)
    check_seed(args.seed)
    competition = competitions.get(args.competition)
    if args.trials <= 0:
        raise UserError(f"--trials {args.trials}: give a positive number of trials")
    if args.timeout is not None and args.timeout <= 0:
        raise UserError(f"--timeout {args.timeout}: give a positive number of seconds")
    # the same resolution as pipelines.run (preset, params file, --set); fails before any work
    preset, pinned, folds, baseline = resolve_settings(competition, args.preset, args.params, args.set, args.folds)
    workers = plan(requested, args.trials, args.cluster, args.threads, folds)  # an unreachable cluster fails here
    base = {**(competition.presets.get(preset) or {}), **read_params_file(args.params)}
    base.pop("folds", None)
    data_dir = locate_or_download(args.data_dir, competition)
    storage = open_storage(args.storage)
    dataset = competition.load(data_dir, pinned)
    for line in column_lines(dataset.info["columns"]) if "columns" in dataset.info else ():
        print(line)
    pinned = competition.fitting_models(pinned, dataset, pinned.get("models") != baseline.get("models"))
    name = choose_member(competition, pinned)
    study = open_study(args, competition, name, storage)
    failed = fail_dead_local_trials(study)
    if failed:
        print(f"marked FAIL the trials of a worker that died: {', '.join(map(str, failed))}")
    competition_splits(competition, dataset, folds, args.seed)  # too many folds fails here, before any trial
    inputs = input_fingerprints(Path(data_dir), dataset.inputs)
    search = {"folds": folds, "seed": args.seed, "preset": preset, "pinned": sorted(args.set),
              "data": hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()}
    check_search(study, search)
    if workers.cluster:
        check_cluster(workers.cluster, competition.name, [Path(data_dir).resolve()],
                      code_version(competition.name)["digest"])
    print(f"tuning {competition.name}{'' if name == 'model' else f' member {name}'}"
          f"{f' (preset {preset})' if preset else ''}: study {study.study_name!r} in {redact(args.storage)}, "
          f"{len(study.trials)} earlier trials, {args.trials} more, {folds} folds, {workers.describe()}", flush=True)
    start = time.perf_counter()
    job = TuneJob(competition=competition.name, data_dir=str(Path(data_dir).resolve()), storage=absolute_url(args.storage),
                  study_name=study.study_name, member=name, base=base, assignments=tuple(args.set), pinned=pinned,
                  folds=folds, seed=args.seed, pruning=not args.no_pruning, trials=args.trials,
                  timeout=args.timeout, threads=workers.threads)
    if workers.inline:
        finished = tune_worker(job, dataset)
    else:
        jobs = [TuneJob(**{**vars(job), "trials": share}) for share in shares(args.trials, workers.count) if share]
        finished = [number for numbers in run_all(tune_worker, jobs, workers, name=lambda _: "a tuning worker")
                    for number in numbers]
    elapsed = time.perf_counter() - start
    run_dir = new_run_dir(f"{competition.name}/tune")
    write_json(run_dir / "config.json", {**vars(args), "storage": redact(args.storage), "study_name": study.study_name,
                                         "member": name, "preset": preset, "folds": folds, "workers": workers.count,
                                         "seconds": round(elapsed, 1), "data_dir": str(data_dir)})
    def rescore(best, seed):
        params = resolve(competition.declared(), args.set, overrides={**base, **best})
        return cross_validate(competition, dataset, params, folds=folds, seed=seed, member=name,
                              threads=workers.threads).mean

    found_with = {**search, "params_files": [str(path) for path in args.params], "study": study.study_name,
                  "storage": redact(args.storage)}
    summarize(optuna.load_study(study_name=study.study_name, storage=storage), competition, run_dir, found_with,
              rescore)
    stopped = f" (--timeout stopped it after {len(finished)} of {args.trials})" if len(finished) < args.trials else ""
    print(f"{len(finished)} trial{'s' if len(finished) != 1 else ''} in {elapsed:.0f}s{stopped}")


if __name__ == "__main__":
    main()
