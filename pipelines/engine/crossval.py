"""K-fold cross-validation: features and model fitted on each fold's training rows only.

Every member runs through the same splits. The work is a set of tasks (pipelines/engine/folds.py): in
this process a task is a fold, whose members share their recipe's fit; on local worker processes
or a Dask cluster (pipelines/engine/workers.py) a task is one (member, fold), so a few folds still keep
every worker busy. Results are gathered in fold order, so the CV, the out-of-fold predictions and
the averaged test predictions are the same whichever ran them. With a run folder, each finished
(member, fold) is saved at once and a resumed run loads it instead of training it again; with
`refit`, each member is also fitted once on all training rows and those models predict the test set.
"""
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

import competitions
from pipelines.core.context import current
from pipelines.core.errors import UserError
from pipelines.core.progress import say
from pipelines.engine.folds import FoldTask, data_signature, describe, run_fold, splits_of
from pipelines.engine.splits import fold_of_rows
from pipelines.engine.workers import Workers, run_all
from pipelines.record.runfolder import code_digest


@dataclass
class CVResult:
    metric_name: str
    folds: list
    oof: np.ndarray          # out-of-fold predictions in model space (NaN where never validated)
    validated: np.ndarray    # rows that had an out-of-fold prediction
    test: np.ndarray         # test predictions: the fold models' average, or the refit model's
    decision: dict | None = None  # the metric's decision rule fitted on every out-of-fold row (pipelines/engine/decisions.py)

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


@dataclass(frozen=True)
class FoldPlan:
    """How a run's folds train: K folds of `seed` (fold k trains with seed + k, a refit with seed +
    folds), with a `refit` on all training rows or not, on `workers` (default: this process) that
    read `data_dir`, saving into `folder` (a RunFolder, or None); `report` prints a line per finished
    (member, fold); `time_budget`: seconds each GBDT may boost for; `logger`: the Lightning logger."""

    folds: int = 5
    seed: int = 0
    refit: bool = False
    workers: Workers = Workers()
    data_dir: object = None
    folder: object = None
    logger: str | None = None
    report: bool = False
    time_budget: float | None = None


def fold_tasks(competition, params, members, keys, plan):
    """A task per fold in `keys` (fold indices, "full" for the refit); on workers, a task per (member,
    fold), each fitting its member's features itself. Those go member by member, in the order of the
    members."""
    groups = [(name,) for name in members] if not plan.workers.inline else [tuple(members)]
    folder, data_dir = plan.folder, plan.data_dir
    common = dict(competition=competition.name, params=params, folds=plan.folds, seed=plan.seed,
                  data_dir=None if data_dir is None else str(Path(data_dir).resolve()),
                  run_dir=None if folder is None else str(folder.path.resolve()), logger=plan.logger,
                  threads=plan.workers.threads, metric=competition.metric.name, report=plan.report,
                  several=len(members) > 1, attempt=folder.status.get("attempt") if folder else None,
                  data_signature=None if data_dir is None else data_signature(data_dir),
                  cache_dir=str(current().cache_dir), time_budget=plan.time_budget,
                  code_digest=code_digest(competition.name))
    return [FoldTask(fold=key, members=group, **common) for group in groups for key in keys]


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
            for name, member_fold in output.members.items():
                if workers.cluster and tasks[0].report:  # Dask forwards prints late: the lines are printed here
                    say(describe(name, member_fold.fold, tasks[0].metric, tasks[0].several))
                if on_fold:
                    on_fold(name, member_fold.fold)
    return outputs


def refit_rounds(competition, params, members, outputs, folds):
    """Parameters that make each early-stopped member's refit train the median of its folds' chosen
    rounds, scaled up by the rows early stopping held out (the refit has no rows to stop on)."""
    declared = competition.declared()
    found = {}
    for name in members:
        rounds = [outputs[k].members[name].fold.rounds for k in range(folds)]
        patience = params.get(f"{name}.patience")
        if patience and all(rounds) and f"{name}.rounds" in declared:
            scale = 1 / (1 - params[f"{name}.stop_fraction"])
            found.update({f"{name}.patience": 0, f"{name}.rounds": max(1, round(float(np.median(rounds)) * scale))})
    return found


def cross_validate_members(competition, dataset, params, plan=FoldPlan(), members=None, fold_callbacks=None,
                           on_fold=None, log=print):
    """{name: CVResult} of every member (default: the selected ones) through the same K folds of `plan`.

    fold_callbacks(index) gives Lightning callbacks for that fold's Trainer (in this process);
    on_fold(name, Fold) runs after each fold (it may raise to stop early, e.g. a pruned trial)."""
    members = members or competition.selected_members(params)
    if not plan.workers.inline and not registered(competition):
        log(f"{competition.name} is not a module of competitions/ (nor of PIPELINES_COMPETITIONS), so workers "
            "cannot import it: its folds train in this process")
        plan = replace(plan, workers=Workers(threads=plan.workers.threads))
    splits = splits_of(competition, dataset, plan.folds, plan.seed)
    tasks = fold_tasks(competition, params, members, range(plan.folds), plan)
    outputs = run_folds(tasks, competition, dataset, plan.workers, plan.folder, fold_callbacks, on_fold)
    if plan.refit:  # after the folds: a refit trains as many boosting rounds as the folds chose, scaled to all rows
        refit_params = {**params, **refit_rounds(competition, params, members, outputs, plan.folds)}
        tasks = fold_tasks(competition, refit_params, members, ["full"], plan)
        outputs.update(run_folds(tasks, competition, dataset, plan.workers, plan.folder, None, on_fold))
    n = len(dataset.y)
    results = {}
    for name in members:
        oof, test, history = None, None, []
        for index, (_, valid_rows) in enumerate(splits):
            output = outputs[index]
            if not np.array_equal(output.valid_rows, valid_rows):
                raise UserError(f"a worker split the data into other folds than this process (fold {index}); "
                                "every worker must read the same data folder")
            member_fold = output.members[name]
            if oof is None:
                oof = np.full((n,) + member_fold.valid.shape[1:], np.nan)
                test = np.zeros_like(member_fold.test, dtype=np.float64)
            oof[valid_rows] = member_fold.valid
            test += member_fold.test / len(splits)  # in fold order: the same sum whichever worker finished first
            history.append(member_fold.fold)
        if plan.refit:
            test = outputs["full"].members[name].test
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
    plan = FoldPlan(folds=folds, seed=seed, workers=Workers(threads=threads))
    return cross_validate_members(competition, dataset, params, plan, members={name: members[name]},
                                  fold_callbacks=fold_callbacks, on_fold=report)[name]
