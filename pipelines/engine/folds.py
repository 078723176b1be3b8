"""A fold as a task: its features fitted once per recipe, then every member trained (or loaded,
when a resumed run finished it before), and the members' predictions handed back.

run_fold(task) is the one function that trains. The sequential loop calls it in this process
with the dataset already loaded; the local pool and a Dask cluster call it in their workers,
where it imports the competition by name and loads the data itself, once per process. A task
holds only values (names, paths, parameters, indices), so it travels to any worker. Members
share nothing but their recipe's fit on the fold, made once and handed to each member that
declares that recipe.
"""
import hashlib
import json
import random
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import competitions
from pipelines.core import devices, progress
from pipelines.core.context import Context, active, current
from pipelines.core.data import take
from pipelines.core.errors import ModelFailed, UserError, as_code_error
from pipelines.core.logs import logged_epochs
from pipelines.engine.splits import competition_splits, training_rows
from pipelines.record.runfolder import require_code


@dataclass
class Fold:
    index: int           # -1: the refit on all training rows
    score: float
    seconds: float
    history: list = field(default_factory=list)
    resumed: bool = False
    worker: str | None = None
    rounds: int | None = None  # boosting rounds early stopping chose
    collapsed: str | None = None  # why the fold's model looks collapsed (one class for every row, ...)


@dataclass(frozen=True, kw_only=True)
class FoldTask:
    """Everything a worker needs to train one fold of a run. `fold` is the fold's index, or "full"
    for the refit on all training rows; it trains with seed + index (seed + folds for the refit)."""

    competition: str
    data_dir: str | None
    params: dict
    folds: int
    seed: int
    fold: object
    members: tuple
    run_dir: str | None = None
    logger: str | None = None
    threads: int = 1          # each member's `threads` when it declares 0 (auto)
    metric: str = ""
    report: bool = False      # a line per finished member, and epochs of long fits
    several: bool = False     # the run has several members: lines name them
    attempt: str | None = None  # the command's attempt at the run; a resumed run's new attempt stops stale tasks
    data_signature: str | None = None  # the data folder as the command saw it (data_signature())
    cache_dir: str | None = None  # the command's image and embedding cache, for workers elsewhere
    time_budget: float | None = None  # seconds each GBDT may boost for under a run's --time-limit
    code_digest: str | None = None  # the command's code: a Dask worker that runs other code refuses the task

    @property
    def index(self):
        return -1 if self.fold == "full" else self.fold

    @property
    def fold_seed(self):
        return fold_seed(self.seed, self.folds, self.fold)

    @property
    def fold_label(self):
        return "refit" if self.fold == "full" else f"fold {self.fold}"

    @property
    def label(self):
        one = len(self.members) == 1 and self.members[0] != "model"
        return f"{self.members[0]} {self.fold_label}" if one else self.fold_label


@dataclass
class MemberFold:
    """One member's fold: its record, its validation predictions (None for a refit) and its test ones."""
    fold: Fold
    valid: np.ndarray | None
    test: np.ndarray


@dataclass
class FoldOutput:
    fold: object
    valid_rows: np.ndarray | None
    members: dict             # name -> MemberFold


def seed_everything(seed, with_torch=False):
    """Python's, NumPy's and torch's generators, as Lightning's seed_everything seeds them; torch
    only when it is loaded or asked for, so members that never use it never import it."""
    random.seed(seed)
    np.random.seed(seed)
    if with_torch or "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


_loaded = {}  # the dataset this process loaded last: every fold of a run needs the same one


def data_signature(data_dir):
    """The data folder's entries with their sizes and modification times: cheap to take, and changed
    by any edit, added or replaced file (a folder's own time changes when its files are added)."""
    entries = sorted((path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in Path(data_dir).iterdir())
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


def task_context(task):
    """The context a task runs in: this process's, with the command's cache and the run's attempt
    (a Dask worker, named by its address, runs in a folder of its own)."""
    return current().completed(cache_dir=task.cache_dir, attempt=task.attempt, worker=progress.worker_name())


def load_dataset(competition, data_dir, params, train=True, signature=None):
    """The competition's data (train=False: its test files only), loaded once per process and again
    when the folder changes. `signature`: the folder as the command saw it (data_signature), which a
    worker must see too."""
    where = current().worker or "this process"
    if not Path(data_dir).is_dir():
        raise UserError(f"{where} cannot see the data folder {data_dir}: every worker must reach the data and run "
                        "folders at the same paths (a shared filesystem)")
    seen = data_signature(data_dir)
    if signature is not None and seen != signature:
        raise UserError(f"{where} sees other files in {data_dir} than the command did (sizes or times differ): "
                        "the data changed during the run, or the workers read another copy of it")
    key = (competition.name, str(data_dir), json.dumps(params, sort_keys=True, default=str), train, seen)
    if key not in _loaded:
        _loaded.clear()
        _loaded[key] = competition.load(Path(data_dir), params, train=train)
    return _loaded[key]


_split = {}  # the splits this process made last, with the dataset they split: every fold of a run needs them


def splits_of(competition, dataset, folds, seed):
    """The competition's splits of `dataset`, made once per process (some splitters take seconds)."""
    key = (competition.name, folds, seed)
    if _split.get("key") != key or _split.get("dataset") is not dataset:
        _split.update(key=key, dataset=dataset, splits=competition_splits(competition, dataset, folds, seed))
    return _split["splits"]


def fold_rows(competition, dataset, task):
    """(training rows, validation rows or None) of the task's fold."""
    if task.fold == "full":
        return training_rows(competition, dataset, np.arange(len(dataset.y))), None
    train_rows, valid_rows = splits_of(competition, dataset, task.folds, task.seed)[task.fold]
    return training_rows(competition, dataset, train_rows), valid_rows


class ReadParams(dict):
    """A member's parameters that remember which of them a features recipe read: members whose values
    of those agree (the shared ones, say) share the recipe's fit on a fold."""

    def __init__(self, values):
        super().__init__(values)
        self.read, self.read_all = set(), False

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)

    def __iter__(self):
        self.read_all = True
        return super().__iter__()

    def keys(self):
        self.read_all = True
        return super().keys()

    def items(self):
        self.read_all = True
        return super().items()

    def values(self):
        self.read_all = True
        return super().values()

    def same_for(self, view):
        """Whether a recipe given `view` would read the same values as it read here."""
        mine, absent = dict(super().items()), object()
        if self.read_all:
            return mine == view
        return all(mine.get(key, absent) == view.get(key, absent) for key in self.read)


def fit_features(recipe, dataset, params, train_rows, valid_rows=None):
    """(fitted features, training, validation and test inputs): `recipe` fitted on train_rows only.
    A recipe sees the member's parameters (the shared ones, its own by short name, seed, n_classes)."""
    features = recipe(dataset, params)
    X_train = features.fit_transform(take(dataset.X, train_rows), dataset.y[train_rows])
    if getattr(X_train, "ndim", 0) == 2 and X_train.shape[1] == 0:
        raise UserError("the features left no column to train on (each was dropped, or a step removed it); keep "
                        "or make at least one number or category column")
    X_valid = None if valid_rows is None else features.transform(take(dataset.X, valid_rows))
    return features, X_train, X_valid, features.transform(dataset.X_test)


def by_recipe(members):
    """[(features recipe, [member names])] in the members' order of first use."""
    groups = {}
    for name, member in members.items():
        groups.setdefault(member.features, []).append(name)
    return list(groups.items())


def fold_seed(seed, folds, fold):
    """The seed fold `fold` of a run trains with (seed + its index; the refit, "full": seed + folds),
    for run, tune and predict alike."""
    return seed + (folds if fold == "full" else fold)


def class_count(competition, classes):
    """The classes a member predicts: the run's, for a classification metric; 0 for a number."""
    return len(classes or ()) if competition.metric.classification else 0


def n_classes(competition, dataset):
    return class_count(competition, dataset.info.get("classes"))


def open_run_folder(task, context):
    if task.run_dir is None:
        return None
    from pipelines.record.runfolder import RunFolder

    if context.worker and not Path(task.run_dir).is_dir():
        raise UserError(f"{context.worker} cannot see the run folder {task.run_dir}: "
                        "every worker must reach the data and run folders at the same paths (a shared filesystem)")
    return RunFolder(task.run_dir)


def run_fold(task, competition=None, dataset=None, callbacks=None, on_member=None):
    """Train (or load) every member of one fold; returns a FoldOutput.

    competition, dataset: the caller's, when it runs in this process (a worker imports the
    competition by name and loads the data itself); callbacks(index) -> extra Lightning callbacks
    for Lightning members (pruning); on_member(name, Fold) runs after each member (it may raise to
    stop the fold, as a pruned trial does). An exception in the competition's own code becomes a
    CodeError here, where its frames are, so a worker's error reads the same as this process's."""
    try:
        with active(task_context(task)) as context:
            return train_fold(task, context, competition, dataset, callbacks, on_member)
    except Exception as error:
        code_error = as_code_error(error)
        if code_error is None or code_error is error:
            raise
        raise code_error from None


@dataclass(frozen=True)
class FoldRun:
    """A fold task in the process that runs it: the task and its context, the competition and its
    data, the fold's rows, the run folder (or None) and the Lightning callbacks of the caller."""

    task: FoldTask
    context: Context
    competition: object
    dataset: object
    classes: int
    train_rows: np.ndarray
    valid_rows: np.ndarray | None
    folder: object = None
    callbacks: object = None

    def member_params(self, name):
        task = self.task
        return self.competition.member_params(name, task.params, task.fold_seed, self.classes, task.threads)


def train_fold(task, context, competition, dataset, callbacks, on_member):
    competition = competition or competitions.get(task.competition)
    require_code(task.competition, task.code_digest)
    dataset = dataset or load_dataset(competition, task.data_dir, task.params, signature=task.data_signature)
    train_rows, valid_rows = fold_rows(competition, dataset, task)
    run = FoldRun(task, context, competition, dataset, n_classes(competition, dataset), train_rows, valid_rows,
                  open_run_folder(task, context), callbacks)
    members = competition.member_list(task.members)
    outputs = {}
    with threadpool_limits(task.threads):
        for recipe, names in by_recipe(members):
            fits = []  # the recipe's fits on this fold: (the parameters it read, (features, inputs), saved file)
            for name in names:
                finished = run.folder.finished_fold(name, task.fold) if run.folder else None
                if finished:
                    outputs[name] = load_finished(run, name, finished)
                else:  # claimed first (worker.json), so a worker that dies fitting features is named too
                    path = run.folder.start_fold(name, task.fold, context.worker, context.attempt) if run.folder else None
                    view = run.member_params(name)
                    fit = next((fit for fit in fits if fit[0].same_for(view)), None)
                    if fit is None:
                        seed_everything(task.fold_seed)
                        read = ReadParams(view)
                        fit = [read, fit_features(recipe, dataset, read, train_rows, valid_rows), None]
                        fits.append(fit)
                    outputs[name], fit[2] = train_member(run, name, members[name], fit[1], fit[2], path)
                if task.report:
                    progress.say(describe(name, outputs[name].fold, task.metric, task.several))
                if on_member:
                    on_member(name, outputs[name].fold)
    return FoldOutput(task.fold, valid_rows, {name: outputs[name] for name in members})


def load_finished(run, name, record):
    """The MemberFold of a member's fold a run saved before."""
    folder, fold_key = run.folder, run.task.fold
    if run.valid_rows is not None and not np.array_equal(folder.fold_array(name, fold_key, "valid_rows"),
                                                         run.valid_rows):
        raise UserError(f"{folder.fold_path(name, fold_key)} validated other rows than this split; "
                        "the run folder does not belong to these settings")
    history = logged_epochs(folder.fold_path(name, fold_key) / "logs" / "csv" / "metrics.csv")
    valid = folder.fold_array(name, fold_key, "valid") if run.valid_rows is not None else None
    score = np.nan if record.get("score") is None else record["score"]
    fold = Fold(run.task.index, score, record.get("seconds", 0.0), history, resumed=True, worker=record.get("worker"),
                rounds=record.get("rounds"), collapsed=record.get("collapsed"))
    return MemberFold(fold, valid, folder.fold_array(name, fold_key, "test"))


def train_member(run, name, member, fitted, saved, path):
    """(MemberFold, where the fold's features are saved): the member trained on the fold's training
    rows, `fitted` its features (features, training, validation and test inputs), `saved` their file
    when another member saved them already, `path` the fold's staging folder in the run folder."""
    task, competition, dataset, folder = run.task, run.competition, run.dataset, run.folder
    train_rows, valid_rows = run.train_rows, run.valid_rows
    start = time.perf_counter()
    features, X_train, X_valid, X_test = fitted
    view = run.member_params(name)
    model = member.model(view)
    if task.time_budget and hasattr(model, "time_budget"):
        model.time_budget = task.time_budget
    lightning = getattr(model, "lightning", False)
    extra = {}
    label = f"{name} {task.fold_label}"
    if lightning:  # Lightning is imported only for members that train with it
        from pipelines.training.trainer import EpochLog, FiniteLoss, make_loggers

        extra["loggers"] = make_loggers(path / "logs", task.logger) if folder else ()
        extra["callbacks"] = [*(run.callbacks(task.index) if run.callbacks else ()),
                              FiniteLoss(label, learning_rate_hint(view, name)),
                              *([EpochLog(label)] if task.report and not progress.interactive() else ())]
    seed_everything(task.fold_seed, with_torch=lightning)
    validation = None if X_valid is None else (X_valid, dataset.y[valid_rows])
    with out_of_memory(label, view, name):
        model.fit(X_train, dataset.y[train_rows], validation=validation, **extra)
        valid_pred = None if X_valid is None else model.predict(X_valid)
        test_pred = model.predict(X_test)
    for predictions, rows in ((valid_pred, "validation"), (test_pred, "test")):
        if predictions is not None and not competition.metric.classification:
            with np.errstate(over="ignore"):  # log prices of 800 overflow: a diverged model, named below
                predictions = competition.metric.model_to_target(np.asarray(predictions, dtype=np.float64))
        require_finite(predictions, label, rows, view, name)
    score = np.nan if valid_rows is None else float(competition.metric.score(dataset.y[valid_rows], valid_pred))
    seconds = time.perf_counter() - start
    collapsed = None if valid_rows is None else collapse(valid_pred, dataset.y[valid_rows],
                                                         getattr(model, "history_", []))
    if collapsed:  # said at once, where it happened: averaged into a CV it would pass for a weak model
        progress.say(f"warning: {name} {task.fold_label} collapsed: {collapsed}; {learning_rate_hint(view, name)}, "
                     "or choose another member (--set models=...)")
    if folder:
        arrays = {"test": test_pred}
        if valid_rows is not None:
            arrays.update(valid=valid_pred, valid_rows=valid_rows)
        record = folder.save_fold(name, task.fold, features, model, arrays,
                                  {"score": None if np.isnan(score) else score, "seconds": round(seconds, 3),
                                   "train_rows": len(train_rows), "worker": run.context.worker,
                                   "rounds": getattr(model, "rounds_", None), "kept": getattr(model, "kept_", None),
                                   "device": devices.describe(run.context), "threads": task.threads, "collapsed": collapsed,
                                   **({"settings": model.settings_} if getattr(model, "sized", None) else {})},
                                  features_path=saved,
                                  attempt=run.context.attempt, staging=path)
        saved = record["features"]["path"]
    fold = Fold(task.index, score, seconds, getattr(model, "history_", []), worker=run.context.worker,
                rounds=getattr(model, "rounds_", None), collapsed=collapsed)
    return MemberFold(fold, valid_pred, test_pred), saved


def collapse(predictions, targets, history):
    """Why a fold's model looks collapsed, or None: one class (or one number) for every validation row
    where the rows hold several, or a validation loss that exploded beside its training loss. A model
    that picks the majority class everywhere but ranks the rows (a rare positive class) has not."""
    predictions = np.asarray(predictions, dtype=np.float64)
    one_target = np.ndim(targets) == 1  # several targets: each column's model is judged by the CV alone
    if one_target and predictions.ndim == 2 and len(np.unique(targets)) > 1:
        chosen = np.unique(predictions.argmax(axis=1))
        majority = np.bincount(np.asarray(targets, dtype=np.int64)).argmax()
        if len(chosen) == 1 and (chosen[0] != majority or np.ptp(predictions[:, chosen[0]]) < 0.01):
            return f"it predicts class {int(chosen[0])} for every one of its {len(predictions)} validation rows"
    if one_target and predictions.ndim == 1 and np.std(targets) > 0 and np.std(predictions) < 1e-6 * np.std(targets):
        return f"it predicts {predictions[0]:.4g} for every one of its {len(predictions)} validation rows"
    last = next((epoch for epoch in reversed(history) if "valid_loss" in epoch and "train_loss" in epoch), None)
    if last and last["valid_loss"] > 10 * max(last["train_loss"], 1.0):
        return f"its validation loss ended at {last['valid_loss']:.3g} beside a training loss of {last['train_loss']:.3g}"
    return None


@contextmanager
def out_of_memory(label, view, name):
    """A GPU's out-of-memory error as one error naming the model and the batch setting to lower."""
    try:
        yield
    except Exception as error:
        torch = sys.modules.get("torch")  # a model that ran out of GPU memory has imported it
        if torch is None or not isinstance(error, torch.cuda.OutOfMemoryError):
            raise
        keys = [key for key in ("batch_size", "eval_batch_size") if key in view]
        option = " or ".join(f"--set {key if name == 'model' else f'{name}.{key}'}=..." for key in keys)
        raise ModelFailed(f"{label} ran out of GPU memory; train it in smaller batches"
                          f"{f' ({option})' if option else ''}, or on a GPU with more memory") from None


def learning_rate_hint(view, name):
    """The setting that most often tames a diverging model: its learning rate, when it declares one."""
    for key in ("lr", "learning_rate"):
        if key in view:
            option = key if name == "model" else f"{name}.{key}"
            return f"lower its learning rate (--set {option}=..., now {view[key]:g})"
    return "check its parameters and inputs"


def require_finite(predictions, label, rows, view, name):
    """Predictions that are numbers: NaN or infinite ones (a diverged model) are one error naming the model."""
    if predictions is None:
        return
    bad = ~np.isfinite(np.asarray(predictions, dtype=np.float64))
    if bad.any():
        count = int(bad.reshape(len(bad), -1).any(axis=1).sum())
        raise ModelFailed(f"{label} predicted NaN or infinite values for {count} of {len(bad)} {rows} rows (as targets): "
                          f"the model diverged; {learning_rate_hint(view, name)}")


def describe(name, fold, metric, several):
    """A member's fold as one progress line."""
    epochs = [e["epoch_seconds"] for e in fold.history if "epoch_seconds" in e]
    per_epoch = sum(epochs) / len(epochs) if epochs else None
    details = f"{fold.seconds:.1f}s" + (f", {per_epoch:.{2 if per_epoch < 1 else 1}f}s/epoch" if epochs else "")
    details += ", loaded" if fold.resumed else ""
    details += f", {fold.worker}" if fold.worker and not fold.resumed else ""
    label = f"{name} " if several else ""
    if fold.index < 0:
        return f"{label}refit on all training rows ({details})"
    return f"{label}fold {fold.index}: {metric} {fold.score:.5f} ({details})"
