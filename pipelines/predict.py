"""python -m pipelines.predict RUN_DIR: a submission from a finished run's saved models, without training.

The competition's test files in --data-dir (default: the run's data folder) may be a new test
set with other ids, as in code competitions; the training files are not needed. On the run's
own data the submission is the run's, byte for byte. The last line printed is its path.
"""
import argparse
from pathlib import Path

import numpy as np

import competitions
from submissions.write import align_to_sample, default_path, write_submission

from .data import match_schema
from .errors import UserError, cli_main
from .files import sha256
from .runfolder import RunFolder


def fold_keys(config):
    return ["full"] if config["refit"] else list(range(config["folds"]))


def member_test_predictions(folder, competition, dataset):
    """{member: test predictions} averaged over the run's fold models (or its refit models).
    Members that shared a fold's fitted features share one load and one transform of the test set."""
    config = folder.config
    params = config["params"]
    members = competition.members or competition.selected_members(params)
    n_classes = len(config.get("classes") or ()) if competition.metric.classification else 0
    keys = fold_keys(config)
    seeds = {key: config["seed"] + (config["folds"] if key == "full" else key) for key in keys}
    records = {(name, key): folder.finished_fold(name, key) for name in folder.config["members"] for key in keys}
    unfinished = [pair for pair, record in records.items() if record is None]
    if unfinished:
        raise UserError(f"{folder.fold_path(*unfinished[0])} has no finished model; the run folder is incomplete")
    inputs = {}  # fitted features file -> the test set it transforms to
    predictions = {}
    for name in folder.config["members"]:
        test = None
        for key in keys:
            shared = records[name, key]["features"]["path"]
            if shared not in inputs:
                inputs[shared] = folder.load_features(records[name, key]).transform(dataset.X_test)
            view = competition.member_params(name, params, seeds[key], n_classes)
            prediction = folder.load_model(name, key, members[name].model(view)).predict(inputs[shared])
            test = np.zeros_like(prediction, dtype=np.float64) if test is None else test
            test += prediction / len(keys)
        predictions[name] = test
    return predictions


def test_predictions(folder, data_dir, log=print):
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
            dataset, test = test_predictions(source, data_dir or source.config["data_dir"], log)
            parts.append(test)
        return dataset, np.tensordot(np.asarray(list(weights.values())), np.stack(parts), axes=1)
    dataset = competition.load(Path(data_dir or config["data_dir"]), config["params"], train=False)
    dataset.X_test = match_schema(config["train_schema"], dataset.X_test, f"the test data in {data_dir}")
    predictions = member_test_predictions(folder, competition, dataset)
    weights = folder.metrics.get("blend_weights")
    if weights is None:
        return dataset, next(iter(predictions.values()))
    stacked = np.stack([predictions[name] for name in weights])
    return dataset, np.tensordot(np.asarray(list(weights.values())), stacked, axes=1)


def predict(run_dir, data_dir=None, submission_path=None, log=print):
    """Write the submission of a finished run for the test files in data_dir; returns its path."""
    folder = RunFolder.open(run_dir)
    folder.require_complete("predict from")
    competition = competitions.get(folder.config["competition"])
    dataset, test = test_predictions(folder, data_dir, log)
    frame = competition.submission(dataset.test_ids, test, folder.config.get("classes"))
    path = Path(submission_path) if submission_path else default_path(competition.name)
    return write_submission(align_to_sample(frame, dataset.sample), dataset.sample, path,
                            competition.check_submission, folder.config.get("classes"))


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m pipelines.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a finished run's folder, e.g. runs/house_prices/20261123T101500123456Z")
    parser.add_argument("--data-dir", help="folder with the competition's test files (default: the run's data folder)")
    parser.add_argument("--submission", help="output CSV (default submissions/NAME-<UTC time>.csv)")
    return parser


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    print(predict(args.run_dir, args.data_dir, args.submission))


if __name__ == "__main__":
    main()
