"""K-fold cross-validation: features and model fitted on each fold's training rows only.

Every member runs through the same splits. The work is a set of tasks (pipelines/folds.py): in
this process a task is a fold, whose members share their recipe's fit; on local worker processes
or a Dask cluster (pipelines/workers.py) a task is one (member, fold), so a few folds still keep
every worker busy. Results are gathered in fold order, so the CV, the out-of-fold predictions and
the averaged test predictions are the same whichever ran them. With a run folder, each finished
(member, fold) is saved at once and a resumed run loads it instead of training it again; with
`refit`, each member is also fitted once on all training rows and those models predict the test set.
"""
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import competitions

from .errors import UserError
from .folds import FoldTask, data_signature, describe, image_cache_dir, run_fold, splits_of
from .progress import say
from .runfolder import code_digest
from .splits import fold_of_rows
from .workers import Workers, run_all


@dataclass
class CVResult:
    metric_name: str
    folds: list
    oof: np.ndarray          # out-of-fold predictions in model space (NaN where never validated)
    validated: np.ndarray    # rows that had an out-of-fold prediction
    test: np.ndarray         # test predictions: the fold models' average, or the refit model's

    @property
    def scores(self):
        return np.array([fold.score for fold in self.folds])

    @property
    def mean(self):
        return float(self.scores.mean())

    @property
    def std(self):
        return float(self.scores.std())


def registered(competition):
    """Whether workers can import this competition by its name (a module of competitions/)."""
    try:
        return competitions.get(competition.name) is competition
    except UserError:
        return False


def fold_tasks(competition, params, folds, seed, members, keys, data_dir=None, folder=None, logger=None,
               threads=1, report=False, each_member=False, time_budget=None):
    """A task per fold in `keys` (fold indices, "full" for the refit); with `each_member`, a task per
    (member, fold), each fitting its member's features itself. Those go member by member, in the
    order of the members."""
    groups = [(name,) for name in members] if each_member else [tuple(members)]
    attempt = folder.status.get("attempt") if folder else None
    signature = None if data_dir is None else data_signature(data_dir)
    digest = code_digest(competition.name)
    return [FoldTask(competition=competition.name, data_dir=None if data_dir is None else str(Path(data_dir).resolve()),
                     params=params, folds=folds, seed=seed, fold=key, members=group,
                     run_dir=None if folder is None else str(folder.path.resolve()), logger=logger, threads=threads,
                     metric=competition.metric.name, report=report, several=len(members) > 1, attempt=attempt,
                     data_signature=signature, cache_dir=image_cache_dir(), time_budget=time_budget,
                     code_digest=digest)
            for group in groups for key in keys]


def run_folds(tasks, competition, dataset, workers, folder=None, fold_callbacks=None, on_fold=None):
    """{fold key: FoldOutput} of every task, run inline or on the workers."""
    if workers.inline:
        return {task.fold: run_fold(task, competition, dataset, callbacks=fold_callbacks,
                                    on_member=(lambda name, fold: on_fold(name, fold)) if on_fold else None)
                for task in tasks}

    def died(tasks):  # the (member, fold)s whose worker of this attempt is gone, from their worker.json
        return [f"{name} {task.fold_label}" for task in tasks for name in task.members
                if folder and folder.claim_died(name, task.fold, task.attempt)]

    hint = (f"; the finished folds are kept: resume with python -m pipelines.run {competition.name} --resume "
            f"{folder.path}" if folder else "")
    outputs = {}
    results = run_all(run_fold, tasks, workers, name=lambda task: f"{competition.name} {task.label}", died=died,
                      hint=hint)
    with closing(results):  # a failure here stops the workers at once
        for output in results:
            known = outputs.get(output.fold)
            if known is not None and not np.array_equal(known.valid_rows, output.valid_rows):
                raise UserError(f"two workers split the data into other folds (fold {output.fold}); every worker "
                                "must read the same data folder")
            if known is None:
                outputs[output.fold] = output
            else:  # another member of a fold that is already in
                known.members.update(output.members)
            for name, (fold, _, _) in output.members.items():
                if workers.cluster and tasks[0].report:  # Dask forwards prints late: the lines are printed here
                    say(describe(name, fold, tasks[0].metric, tasks[0].several))
                if on_fold:
                    on_fold(name, fold)
    return outputs


def refit_rounds(competition, params, members, outputs, folds):
    """Parameters that make each early-stopped member's refit train the median of its folds' chosen
    rounds, scaled up by the rows early stopping held out (the refit has no rows to stop on)."""
    declared = competition.declared()
    found = {}
    for name in members:
        rounds = [outputs[k].members[name][0].rounds for k in range(folds)]
        patience = params.get(f"{name}.patience")
        if patience and all(rounds) and f"{name}.rounds" in declared:
            scale = 1 / (1 - params[f"{name}.stop_fraction"])
            found.update({f"{name}.patience": 0, f"{name}.rounds": max(1, round(float(np.median(rounds)) * scale))})
    return found


def cross_validate_members(competition, dataset, params, folds=5, seed=0, members=None, folder=None, refit=False,
                           logger=None, fold_callbacks=None, on_fold=None, workers=None, data_dir=None,
                           report=False, log=print, time_budget=None):
    """{name: CVResult} of every member through the same K folds.

    Fold k of every member trains with seed + k (its random_state too); a refit with seed + folds.
    fold_callbacks(index) gives Lightning callbacks for that fold's Trainer (in this process);
    on_fold(name, Fold) runs after each fold (it may raise to stop early, e.g. a pruned trial);
    workers (pipelines.workers.Workers, default: this process) run the folds, reading data_dir;
    report prints a line per finished (member, fold); time_budget: seconds each GBDT may boost for."""
    members = members or competition.selected_members(params)
    workers = workers or Workers()
    if not workers.inline and not registered(competition):
        log(f"{competition.name} is not a module of competitions/ (nor of PIPELINES_COMPETITIONS), so workers "
            "cannot import it: its folds train in this process")
        workers = Workers(threads=workers.threads)
    splits = splits_of(competition, dataset, folds, seed)
    common = (data_dir, folder, logger, workers.threads, report, not workers.inline, time_budget)
    tasks = fold_tasks(competition, params, folds, seed, members, range(folds), *common)
    outputs = run_folds(tasks, competition, dataset, workers, folder, fold_callbacks, on_fold)
    if refit:  # after the folds: a refit trains as many boosting rounds as the folds chose, scaled to all rows
        refit_params = {**params, **refit_rounds(competition, params, members, outputs, folds)}
        tasks = fold_tasks(competition, refit_params, folds, seed, members, ["full"], *common)
        outputs.update(run_folds(tasks, competition, dataset, workers, folder, None, on_fold))
    n = len(dataset.y)
    results = {}
    for name in members:
        oof, test, history = None, None, []
        for index, (_, valid_rows) in enumerate(splits):
            output = outputs[index]
            if not np.array_equal(output.valid_rows, valid_rows):
                raise UserError(f"a worker split the data into other folds than this process (fold {index}); "
                                "every worker must read the same data folder")
            fold, valid_pred, test_pred = output.members[name]
            if oof is None:
                oof = np.full((n,) + valid_pred.shape[1:], np.nan)
                test = np.zeros_like(test_pred, dtype=np.float64)
            oof[valid_rows] = valid_pred
            test += test_pred / len(splits)  # in fold order: the same sum whichever worker finished first
            history.append(fold)
        if refit:
            _, _, test = outputs["full"].members[name]
        results[name] = CVResult(competition.metric.name, history, oof, fold_of_rows(splits, n) >= 0, test)
    return results


def cross_validate(competition, dataset, params, folds=5, seed=0, fold_callbacks=None, on_fold=None, member=None,
                   threads=1):
    """CVResult of one member, by name (default: the competition's only or first selected model),
    without a run folder, in this process (members that leave their threads to the run get `threads`)."""
    selected = competition.selected_members(params)
    name = member or next(iter(selected))
    members = competition.members or selected
    report = (lambda _, fold: on_fold(fold)) if on_fold else None
    return cross_validate_members(competition, dataset, params, folds, seed, members={name: members[name]},
                                  fold_callbacks=fold_callbacks, on_fold=report,
                                  workers=Workers(threads=threads))[name]
