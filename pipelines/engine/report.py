"""A finished run's outputs in its folder: metrics, predictions for blending, learning curves."""
import math

import numpy as np
import pandas as pd

from pipelines.core.files import atomic_path, write_json


def metrics_summary(result, seconds=None):
    return {
        "metric": result.metric_name,
        "folds": [{"fold": f.index, "score": f.score, "seconds": round(f.seconds, 2)} for f in result.folds
                  if f.index >= 0],
        "mean": result.mean,
        "std": result.std,
        **({"seconds": round(seconds, 2)} if seconds is not None else {}),
    }


def oof_frame(ids, y, result, id_column, classes=None, members=None):
    """Out-of-fold predictions in model space beside the target, one column per class for classifiers
    (and, for a blend of regressors, one column per member)."""
    rows = result.validated
    predictions = result.oof[rows]
    if np.ndim(y) == 2:  # several targets: each beside its prediction
        frame = pd.DataFrame({id_column: ids[rows]})
        for column in range(y.shape[1]):
            frame[f"target_{column}"], frame[f"prediction_{column}"] = y[rows, column], predictions[:, column]
        return frame
    frame = pd.DataFrame({id_column: ids[rows], "target": y[rows]})
    if predictions.ndim == 1:
        frame["prediction"] = predictions
        for name, member in (members or {}).items():
            frame[f"prediction_{name}"] = member.oof[rows]
    else:
        names = classes or range(predictions.shape[1])
        frame = frame.join(pd.DataFrame(predictions, columns=[f"p_{n}" for n in names], index=frame.index))
    return frame


def id_array(ids):
    """Ids as an array that saves without pickling: numbers keep their type, anything else is text."""
    ids = np.asarray(ids)
    return ids.astype(str) if ids.dtype == object else ids


def save_outputs(folder, competition, dataset, result, results, weights, folds, excluded, seconds, stacker=None):
    """metrics.json, predictions/*.npy (each member's and the run's out-of-fold and test predictions,
    row ids, targets, folds, excluded rows), oof.csv, learning curves, a copy of the sample submission,
    and the second level (stacker.skops) when a stack makes the submission."""
    summary = metrics_summary(result, seconds)
    if result.decision is not None:
        summary["decision"] = result.decision
    if weights is not None:
        summary["members"] = {name: metrics_summary(member) for name, member in results.items()}
        summary["blend_weights"] = weights
        summary["ensemble"] = "stack" if stacker is not None else "blend"
    if stacker is not None:
        from pipelines.core.persist import save_object

        save_object(stacker, folder.path / "stacker.skops")
    arrays = {"oof": result.oof, "test": result.test, "folds": folds, "excluded": excluded, "target": dataset.y,
              "train_ids": id_array(dataset.train_ids), "test_ids": id_array(dataset.test_ids)}
    for name, member in results.items():
        arrays[f"oof-{name}"], arrays[f"test-{name}"] = member.oof, member.test
    folder.save_predictions(arrays)
    id_column = dataset.sample.columns[0]
    classes = dataset.info.get("classes")
    with atomic_path(folder.path / "oof.csv") as temporary:
        oof_frame(dataset.train_ids, dataset.y, result, id_column, classes,
                  results if weights else None).to_csv(temporary, index=False)
    with atomic_path(folder.path / "sample_submission.csv") as temporary:
        dataset.sample.to_csv(temporary, index=False)
    for name, member in results.items():
        if any(fold.history for fold in member.folds):
            plot_learning_curves(folder.path / f"learning_curves_{name}.png", member.folds,
                                 f"{competition.name} {name}: learning curves")
    write_json(folder.path / "metrics.json", summary)


def plot_learning_curves(path, folds, title):
    """Train and valid loss per epoch (as the CSV logger recorded them), one colour per fold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for fold in folds:
        epochs = [e for e in fold.history if "train_loss" in e]
        if not epochs:
            continue
        x = [e["epoch"] + 1 for e in epochs]
        line, = axis.plot(x, [e["train_loss"] for e in epochs], linestyle="--", alpha=0.8)
        valid = [(e["epoch"] + 1, e["valid_loss"]) for e in epochs if "valid_loss" in e]
        label = "refit" if fold.index < 0 else f"fold {fold.index}"
        if valid:
            axis.plot(*zip(*valid), color=line.get_color(), label=label)
        else:
            line.set_label(f"{label} (train)")
    axis.set(xlabel="epoch", ylabel="loss (dashed: train, solid: valid)", title=title)
    if axis.lines:
        axis.set_yscale("log")
        axis.legend()
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


def column_lines(roles, limit=8):
    """The columns a run uses, as what, and those it drops with why: a few lines to print."""
    def names(columns):
        return ", ".join(map(str, columns[:limit])) + (f", ... ({len(columns)})" if len(columns) > limit else "")

    text = roles.get("text", [])
    lines = [f"columns: {len(roles['number'])} numbers ({names(roles['number'])}), {len(roles['category'])} "
             f"categories ({names(roles['category'])})"
             + (f", {len(text)} text ({names(text)})" if text else "")]
    lines += [f"column {column} dropped: {why}" for column, why in roles["dropped"].items() if column not in text]
    return lines


def say_clipped(metric, predictions, log=print):
    """One line when test predictions fall below the metric's floor (they are clipped to it)."""
    count = metric.clipped(predictions)
    if count:
        log(f"{count} test prediction{'s' if count > 1 else ''} below {metric.floor:g}, the least value "
            f"{metric.target_transform and 'the target' or metric.name} takes: clipped to {metric.floor:g}")


def write_competition_submission(competition, test_ids, predictions, classes, sample, path, log=print,
                                 decision=None):
    """The competition's submission of `predictions` (model space), in the sample's order, validated and
    written atomically to `path`; returns the path. With the run's `decision` rule, the labels it decides
    reach the submission as probabilities of 0 and 1."""
    from submissions.write import align_to_sample, write_submission

    say_clipped(competition.metric, predictions, log)
    if decision is not None:  # the decided labels as probabilities of 0 and 1, whose argmax a label form takes
        predictions = np.eye(np.shape(predictions)[1])[competition.metric.decision.apply(decision, predictions)]
    frame = competition.submission(test_ids, predictions, classes)
    return write_submission(align_to_sample(frame, sample), sample, path, competition.check_submission, classes)


def format_score(mean, std):
    return f"{mean:.5f} ± {std:.5f}" if math.isfinite(std) else f"{mean:.5f}"
