"""Predicting from a finished run's saved models, without training: each (member, fold) model
predicts the test files in this process or on the workers (a task each, by value), averaged in fold
order, then blended or stacked as the run was. On the run's own data the predictions are the run's,
byte for byte.
"""
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import competitions
from pipelines.core.context import active, current
from pipelines.core.data import match_schema
from pipelines.core.errors import UserError
from pipelines.core.files import sha256
from pipelines.core.progress import worker_name
from pipelines.engine.folds import class_count, data_signature, fold_seed, load_dataset
from pipelines.engine.report import write_competition_submission
from pipelines.engine.workers import Workers, run_all
from pipelines.record.runfolder import RunFolder, code_changes, code_digest, code_version, require_code
from submissions.write import default_path


def fold_keys(config):
    return ["full"] if config["refit"] else list(range(config["folds"]))


@dataclass(frozen=True, kw_only=True)
class PredictTask:
    """One saved (member, fold) model to predict the test files of `data_dir` with, by value."""

    run_dir: str
    data_dir: str
    member: str
    key: object            # a fold index, or "full" for the refit
    record: dict           # the fold's record, verified by the command (files and sha256)
    threads: int = 1       # when the run did not record the threads it trained with
    data_signature: str | None = None
    cache_dir: str | None = None
    code_digest: str | None = None  # the command's code: a Dask worker that runs other code refuses the task


def test_inputs(competition, config, data_dir, dataset=None, signature=None):
    """The test files of `data_dir` in the form the run trained on (loaded once per process)."""
    dataset = dataset or load_dataset(competition, data_dir, competition.recorded_params(config["params"]), train=False,
                                      signature=signature)
    dataset.X_test = match_schema(config["train_schema"], dataset.X_test, f"the test data in {data_dir}")
    return dataset


def predict_fold(task, dataset=None, inputs=None):
    """Test predictions of one saved (member, fold) model. `inputs` (fitted features file -> the test
    set it transforms to) lets members that shared a fold's features share one transform."""
    with active(current().completed(cache_dir=task.cache_dir, worker=worker_name())):
        return predict_saved(task, dataset, inputs)


def predict_saved(task, dataset, inputs):
    folder = RunFolder(task.run_dir)
    config = folder.config
    competition = competitions.get(config["competition"])
    require_code(config["competition"], task.code_digest)
    dataset = test_inputs(competition, config, task.data_dir, dataset, task.data_signature)
    record = task.record
    inputs = {} if inputs is None else inputs
    shared = record["features"]["path"]
    if shared not in inputs:
        inputs[shared] = folder.load_features(record).transform(dataset.X_test)
    threads = record.get("threads") or task.threads  # as the model trained: the same numbers on any machine
    with threadpool_limits(threads):
        return saved_model(folder, competition, task.member, task.key, threads).predict(inputs[shared])


def saved_model(folder, competition, member, key, threads=1):
    """A finished fold's model (key "full": the refit's), loaded into the member's estimator as the
    fold built it (its seed, classes and threads)."""
    config = folder.config
    view = competition.member_params(member, competition.recorded_params(config["params"]),
                                     fold_seed(config["seed"], config["folds"], key),
                                     class_count(competition, config.get("classes")), threads)
    return folder.load_model(member, key, competition.member_list(config["members"])[member].model(view))


def member_test_predictions(folder, competition, dataset, data_dir, workers):
    """{member: test predictions} averaged over the run's fold models (or its refit models), each
    model predicting in this process or on the workers."""
    config = folder.config
    keys = fold_keys(config)
    records = {(name, key): folder.finished_fold(name, key, to_predict=True)
               for name in config["members"] for key in keys}
    unfinished = [pair for pair, record in records.items() if record is None]
    if unfinished:
        raise UserError(f"{folder.fold_path(*unfinished[0])} has no finished model; the run folder is incomplete")
    signature = None if workers.inline else data_signature(data_dir)
    digest = code_digest(config["competition"])
    tasks = [PredictTask(run_dir=str(folder.path.resolve()), data_dir=str(Path(data_dir).resolve()), member=name,
                         key=key, record=records[name, key], threads=workers.threads, data_signature=signature,
                         cache_dir=str(current().cache_dir), code_digest=digest)
             for name in config["members"] for key in keys]
    if workers.inline:
        inputs = {}
        done = [predict_fold(task, dataset, inputs) for task in tasks]
    else:
        by_task = {}
        predictions = run_all(predict_with_task, tasks, workers,
                              name=lambda task: f"{task.member} {'refit' if task.key == 'full' else f'fold {task.key}'}")
        with closing(predictions):
            for task, prediction in predictions:
                by_task[task.member, task.key] = prediction
        done = [by_task[task.member, task.key] for task in tasks]
    predictions = {}
    for task, prediction in zip(tasks, done):  # averaged in fold order, whichever finished first
        if task.member not in predictions:
            predictions[task.member] = np.zeros_like(prediction, dtype=np.float64)
        predictions[task.member] += prediction / len(keys)
    return predictions


def predict_with_task(task):
    return task, predict_fold(task)


def test_predictions(folder, data_dir, workers=Workers(), log=print):
    """(test dataset, the run's test predictions in model space) from the saved models of `folder`."""
    config = folder.config
    competition = competitions.get(*folder.require_config("competition"))
    if config.get("kind") == "blend":
        folder.require_config("sources")
        sources = [RunFolder.open(folder.path.parent / source["path"]) for source in config["sources"]]
        weights = folder.metrics["blend_weights"]
        parts = []
        for source, recorded, weight in zip(sources, config["sources"], weights.values()):
            source.require_complete("predict from", to_predict=True)
            if sha256(source.path / "status.json") != recorded["status_sha256"]:
                raise UserError(f"{source.path} changed after it was blended into {folder.path}; blend again")
            log(f"predicting with {source.path} (weight {weight:.3f})")
            dataset, test = test_predictions(source, data_dir, workers, log)
            parts.append(test)
        return dataset, np.tensordot(np.asarray(list(weights.values())), np.stack(parts), axes=1)
    folder.require_config("params", "folds", "seed", "refit", "members", "train_schema", "data_dir")
    if not (data_dir or config["data_dir"]):
        raise UserError(f"{folder.path} does not name its data folder (a packaged run): give --data-dir with the "
                        "competition's test files")
    data_dir = Path(data_dir or config["data_dir"])
    params = competition.recorded_params(config["params"])
    dataset = test_inputs(competition, config, data_dir, competition.load(data_dir, params, train=False))
    predictions = member_test_predictions(folder, competition, dataset, data_dir, workers)
    metrics = folder.metrics
    weights = metrics.get("blend_weights")
    if weights is None:
        return dataset, next(iter(predictions.values()))
    if metrics.get("ensemble") == "stack":  # the run's second level over its members, in the same order
        from pipelines.core.persist import load_object
        from pipelines.engine.ensemble import stacked_test

        n_classes = len(config.get("classes") or ()) if competition.metric.classification else 0
        return dataset, stacked_test(load_object(folder.path / "stacker.skops"),
                                     [predictions[name] for name in weights], competition.metric.classification,
                                     n_classes)
    stacked = np.stack([predictions[name] for name in weights])
    return dataset, np.tensordot(np.asarray(list(weights.values())), stacked, axes=1)


def predict(run_dir, data_dir=None, submission_path=None, workers=Workers(), log=print):
    """Write the submission of a finished run for the test files in data_dir; returns its path."""
    folder = RunFolder.open(run_dir)
    folder.require_complete("predict from", to_predict=True)
    competition = competitions.get(*folder.require_config("competition"))
    changed = code_changes(folder.config.get("code", {}), code_version(competition.name))
    if changed:
        print(f"warning: the code differs from the run's ({', '.join(changed[:4])}{', ...' if len(changed) > 4 else ''});"
              " predictions may differ from the run's", file=sys.stderr)
    dataset, test = test_predictions(folder, data_dir, workers, log)
    path = Path(submission_path) if submission_path else default_path(competition.name)
    return write_competition_submission(competition, dataset.test_ids, test, folder.config.get("classes"),
                                        dataset.sample, path, log, decision=folder.metrics.get("decision"))
