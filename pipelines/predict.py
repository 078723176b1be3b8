"""python -m pipelines.predict RUN_DIR: a submission from a finished run's saved models, without training.

The competition's test files in --data-dir (default: the run's data folder) may be a new test
set with other ids, as in code competitions; the training files are not needed. On the run's
own data the submission is the run's, byte for byte. The last line printed is its path.
"""
import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import competitions
from submissions.write import align_to_sample, default_path, write_submission

from .data import match_schema
from .errors import UserError, cli_main
from .files import sha256
from .folds import load_dataset
from .run import check_threads
from .runfolder import RunFolder
from .workers import Workers, plan, run_all, workers_argument


def fold_keys(config):
    return ["full"] if config["refit"] else list(range(config["folds"]))


@dataclass(frozen=True)
class PredictTask:
    """One saved (member, fold) model to predict the test files of `data_dir` with, by value."""

    run_dir: str
    data_dir: str
    member: str
    key: object            # a fold index, or "full" for the refit
    threads: int = 1


def test_inputs(competition, config, data_dir, dataset=None):
    """The test files of `data_dir` in the form the run trained on (loaded once per process)."""
    dataset = dataset or load_dataset(competition, data_dir, config["params"], train=False)
    dataset.X_test = match_schema(config["train_schema"], dataset.X_test, f"the test data in {data_dir}")
    return dataset


def predict_fold(task, dataset=None, inputs=None):
    """Test predictions of one saved (member, fold) model. `inputs` (fitted features file -> the test
    set it transforms to) lets members that shared a fold's features share one transform."""
    folder = RunFolder(task.run_dir)
    config = folder.config
    competition = competitions.get(config["competition"])
    dataset = test_inputs(competition, config, task.data_dir, dataset)
    record = folder.finished_fold(task.member, task.key)
    inputs = {} if inputs is None else inputs
    shared = record["features"]["path"]
    if shared not in inputs:
        inputs[shared] = folder.load_features(record).transform(dataset.X_test)
    n_classes = len(config.get("classes") or ()) if competition.metric.classification else 0
    seed = config["seed"] + (config["folds"] if task.key == "full" else task.key)
    view = competition.member_params(task.member, config["params"], seed, n_classes, task.threads)
    members = competition.member_list(config["members"])
    with threadpool_limits(task.threads):
        return folder.load_model(task.member, task.key, members[task.member].model(view)).predict(inputs[shared])


def member_test_predictions(folder, competition, dataset, data_dir, workers):
    """{member: test predictions} averaged over the run's fold models (or its refit models), each
    model predicting in this process or on the workers."""
    config = folder.config
    keys = fold_keys(config)
    unfinished = [(name, key) for name in config["members"] for key in keys if folder.finished_fold(name, key) is None]
    if unfinished:
        raise UserError(f"{folder.fold_path(*unfinished[0])} has no finished model; the run folder is incomplete")
    tasks = [PredictTask(str(folder.path.resolve()), str(Path(data_dir).resolve()), name, key, workers.threads)
             for name in config["members"] for key in keys]
    if workers.inline:
        inputs = {}
        done = [predict_fold(task, dataset, inputs) for task in tasks]
    else:
        by_task = {}
        for task, prediction in run_all(predict_with_task, tasks, workers,
                                        name=lambda task: f"{task.member} {'refit' if task.key == 'full' else f'fold {task.key}'}"):
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
    competition = competitions.get(config["competition"])
    if config.get("kind") == "blend":
        sources = [RunFolder.open(folder.path.parent / source["path"]) for source in config["sources"]]
        weights = folder.metrics["blend_weights"]
        parts = []
        for source, recorded, weight in zip(sources, config["sources"], weights.values()):
            source.require_complete("predict from")
            if sha256(source.path / "status.json") != recorded["status_sha256"]:
                raise UserError(f"{source.path} changed after it was blended into {folder.path}; blend again")
            log(f"predicting with {source.path} (weight {weight:.3f})")
            dataset, test = test_predictions(source, data_dir or source.config["data_dir"], workers, log)
            parts.append(test)
        return dataset, np.tensordot(np.asarray(list(weights.values())), np.stack(parts), axes=1)
    data_dir = Path(data_dir or config["data_dir"])
    dataset = test_inputs(competition, config, data_dir, competition.load(data_dir, config["params"], train=False))
    predictions = member_test_predictions(folder, competition, dataset, data_dir, workers)
    weights = folder.metrics.get("blend_weights")
    if weights is None:
        return dataset, next(iter(predictions.values()))
    stacked = np.stack([predictions[name] for name in weights])
    return dataset, np.tensordot(np.asarray(list(weights.values())), stacked, axes=1)


def predict(run_dir, data_dir=None, submission_path=None, workers=Workers(), log=print):
    """Write the submission of a finished run for the test files in data_dir; returns its path."""
    folder = RunFolder.open(run_dir)
    folder.require_complete("predict from")
    competition = competitions.get(folder.config["competition"])
    dataset, test = test_predictions(folder, data_dir, workers, log)
    frame = competition.submission(dataset.test_ids, test, folder.config.get("classes"))
    path = Path(submission_path) if submission_path else default_path(competition.name)
    return write_submission(align_to_sample(frame, dataset.sample), dataset.sample, path,
                            competition.check_submission, folder.config.get("classes"))


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m pipelines.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a finished run's folder, e.g. runs/house_prices/20261123T101500123456Z")
    parser.add_argument("--data-dir", help="folder with the competition's test files (default: the run's data folder)")
    parser.add_argument("--submission", help="output CSV (default submissions/NAME-<UTC time>.csv)")
    parser.add_argument("--workers", metavar="N", default="1",
                        help="models predicting at a time, each in a worker process (default 1: in this process, "
                             "quickest for tables; auto: as many as the cores allow, for large image test sets)")
    parser.add_argument("--threads", type=int, metavar="N", help="threads of each model (default: the cores "
                        "shared among the workers)")
    parser.add_argument("--cluster", metavar="tcp://HOST:PORT",
                        help="predict on the workers of this Dask scheduler (they must see the run and data folders)")
    return parser


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    requested = workers_argument(args.workers)
    check_threads(args.threads)
    folder = RunFolder.open(args.run_dir)
    blended = folder.config.get("kind") == "blend"  # its runs' models: never clamp the workers for those
    models = 10**6 if blended else len(fold_keys(folder.config)) * len(folder.config.get("members", []))
    workers = plan(requested, max(1, models), args.cluster, args.threads)
    print(predict(args.run_dir, args.data_dir, args.submission, workers))


if __name__ == "__main__":
    main()
