"""Kaggle's playground formats, each a competition file of a few lines on generated data in its real
layout: MAP@3 with three labels a row, MAPE, R2, MCC and F1 with fitted thresholds, class
probabilities in columns named target_class; the metrics against scikit-learn and reference
formulas; fitted decision rules against the argmax on held-out rows."""
import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from pipelines.engine.decisions import CutPoints, Threshold
from pipelines.engine.metrics import METRICS, metric
from pipelines.predict import main as predict_main
from pipelines.run import main as run_main
from tests.record.test_runs import fails, run_dirs
from tests.synthetic import make_playground, make_several_targets

FERTILIZERS = ["10-26-26", "14-35-14", "17-17-17", "20-20", "28-28", "DAP", "Urea"]
FILE = ('from pipelines.tabular import tabular_competition\n'
        'COMPETITION = tabular_competition(\n'
        '    name="{name}", slug="{name}", id_column="id", target="{target}",\n'
        '    {declared}members=("lgbm", "linear"{more}), params={{"lgbm.rounds": 100, "lgbm.learning_rate": 0.1}})\n')


def declare(folder, name, target, declared, more=""):
    (folder / f"{name}.py").write_text(FILE.format(name=name, target=target, declared=declared, more=more))


def play(folder, data, name, *extra):
    run_main([name, "--data-dir", str(data), "--folds", "3", "--submission", "s.csv", *extra])
    [run] = run_dirs(folder, name)
    sample = pd.read_csv(data / "sample_submission.csv")
    submission = pd.read_csv(folder / "s.csv")
    assert list(submission.columns) == list(sample.columns) and list(submission.id) == list(sample.id)
    return json.loads((run / "metrics.json").read_text()), submission, run


def test_map_at_3_writes_the_three_likeliest_labels(tmp_path, own_competitions, in_tmp, capsys):
    data = make_playground(tmp_path / "fertilizer", "Fertilizer Name", FERTILIZERS, form="top3")
    declare(own_competitions, "fertilizer", "Fertilizer Name", 'metric="map@3", submission="top3",\n    ')
    scores, submission, _ = play(in_tmp, data, "fertilizer")
    rows = submission["Fertilizer Name"].str.split()
    assert rows.map(len).eq(3).all() and rows.map(lambda labels: len(set(labels)) == 3).all()
    assert set(rows.explode()) <= set(FERTILIZERS)
    assert scores["mean"] > 0.45  # a random order scores (1 + 1/2 + 1/3) / 7 = 0.26


@pytest.mark.parametrize("name, metric_name", [("sticker", "mape"), ("flood", "r2")])
def test_relative_errors_and_explained_variance(name, metric_name, tmp_path, own_competitions, in_tmp, capsys):
    data = make_playground(tmp_path / name, "num_sold", form="number")
    declare(own_competitions, name, "num_sold", f'metric="{metric_name}",\n    ')
    scores, submission, _ = play(in_tmp, data, name)
    sold = pd.read_csv(data / "train.csv").num_sold
    if metric_name == "mape":  # half the error of the median guess (0.50 here), the best constant for MAPE
        assert scores["mean"] < 0.5 * sk.mean_absolute_percentage_error(sold, np.full(len(sold), sold.median()))
    else:
        assert scores["mean"] > 0.5  # the mean guess scores 0
    assert (submission.num_sold > 0).all()


def test_mape_refuses_targets_of_zero(tmp_path, own_competitions, in_tmp, capsys):
    data = make_playground(tmp_path / "sticker", "num_sold", form="number")
    train = pd.read_csv(data / "train.csv")
    train.loc[3, "num_sold"] = 0
    train.to_csv(data / "train.csv", index=False)
    declare(own_competitions, "sticker", "num_sold", 'metric="mape",\n    ')
    fails(run_main, ["sticker", "--data-dir", str(data)], capsys, "mape divides by the target, and 1 of its values")
    assert not (in_tmp / "runs").exists()


@pytest.mark.parametrize("name, metric_name, labels, rare, text", [("mushrooms", "mcc", ["e", "p"], 0.08, False),
                                                                   ("disaster", "f1", [0, 1], 0.15, True)])
def test_a_threshold_fitted_on_out_of_fold_rows_decides_the_labels(name, metric_name, labels, rare, text, tmp_path,
                                                                     own_competitions, in_tmp, capsys):
    # a rare positive class and a weak signal: the argmax names too few positives
    data = make_playground(tmp_path / name, "class", labels, weights=[1 - rare, rare], text=text, noise=1.5,
                           n_train=1200)
    declare(own_competitions, name, "class", f'metric="{metric_name}",\n    ', more=', "tfidf"' if text else "")
    scores, submission, run = play(in_tmp, data, name)
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("decision: ")]
    assert line.startswith("decision: the second class where its probability is at least ")
    assert line.endswith("with the argmax; the rule decides")
    threshold = scores["decision"]["threshold"]
    assert 0 < threshold < 0.5 and scores["mean"] > 0.3  # a guess scores about 0 (MCC) or the rare share (F1)
    oof = pd.read_csv(run / "oof.csv")  # the submission's labels follow the fitted threshold, not the argmax
    test = np.load(run / "predictions" / "test.npy")
    assert list(submission["class"].astype(str)) == [str(labels[int(p >= threshold)]) for p in test[:, 1]]
    assert len(oof) == 1200
    predict_main([str(run), "--submission", "again.csv"])  # predicting again applies the run's rule
    assert (in_tmp / "again.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()


def test_probability_columns_named_target_and_class(tmp_path, own_competitions, in_tmp, capsys):
    data = make_playground(tmp_path / "cirrhosis", "Status", ["C", "CL", "D"], weights=[0.6, 0.1, 0.3],
                           form="prefixed")
    declare(own_competitions, "cirrhosis", "Status", 'metric="log_loss", submission="probabilities",\n    ')
    scores, submission, _ = play(in_tmp, data, "cirrhosis")
    assert list(submission.columns) == ["id", "Status_C", "Status_CL", "Status_D"]
    np.testing.assert_allclose(submission.iloc[:, 1:].sum(axis=1), 1, atol=1e-6)
    assert scores["mean"] < 0.85  # the classes' frequencies alone score 0.90


@pytest.mark.parametrize("declared, argv, message", [
    ('metric="map@3", submission="top9",\n    ', [], "submission='top9' writes 9 labels a row, but 'class' in"),
    ('metric="f1",\n    ', [], "metric='f1' scores two classes; 'class' in"),
])
def test_formats_that_do_not_fit_the_classes_are_refused(declared, argv, message, tmp_path, own_competitions,
                                                         in_tmp, capsys):
    data = make_playground(tmp_path / "bad", "class", FERTILIZERS[:4])
    declare(own_competitions, "bad", "class", declared)
    fails(run_main, ["bad", "--data-dir", str(data), *argv], capsys, message)
    assert not (in_tmp / "runs").exists()


@pytest.mark.parametrize("declared, message", [
    ('metric="rmse", submission="top3",\n    ', "submission='top3' is for classes; metric='rmse' scores numbers"),
    ('metric="mcc", submission="probability",\n    ', "submission='probability' does not go with metric='mcc'"),
    ('metric="map@0",\n    ', "unknown metric 'map@0'"),
])
def test_declarations_whose_metric_and_form_disagree_are_refused(declared, message, tmp_path, own_competitions,
                                                                in_tmp, capsys):
    declare(own_competitions, "bad", "class", declared)
    fails(run_main, ["bad", "--data-dir", str(make_playground(tmp_path / "bad", "class", [0, 1]))], capsys, message)
    assert not (in_tmp / "runs").exists()


def test_new_metrics_are_scikit_learns_or_kaggles_formula():
    y = np.array([0, 1, 1, 0, 1, 1])
    p = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.4, 0.6], [0.1, 0.9], [0.45, 0.55]])
    argmax = p.argmax(axis=1)
    assert METRICS["f1"].score(y, p) == sk.f1_score(y, argmax)
    assert METRICS["mcc"].score(y, p) == sk.matthews_corrcoef(y, argmax)
    assert METRICS["balanced_accuracy"].score(y, p) == sk.balanced_accuracy_score(y, argmax)
    truth, guess = np.array([120.0, 80.0, 10.0]), np.array([100.0, 100.0, 12.0])
    assert METRICS["mape"].score(np.log(truth), np.log(guess)) == pytest.approx(
        np.mean(np.abs(truth - guess) / truth))
    assert METRICS["r2"].score(truth, guess) == sk.r2_score(truth, guess)
    assert METRICS["r2"].greater_is_better and not METRICS["mape"].greater_is_better
    labels = np.array([2, 0, 1, 3])  # ranks 1, 2, 3 and absent: (1 + 1/2 + 1/3 + 0) / 4
    probabilities = np.array([[0.1, 0.2, 0.6, 0.1], [0.3, 0.4, 0.2, 0.1], [0.5, 0.1, 0.3, 0.1], [0.4, 0.3, 0.2, 0.1]])
    assert metric("map@3").score(labels, probabilities) == pytest.approx((1 + 1 / 2 + 1 / 3) / 4)
    assert metric("map@1").score(labels, probabilities) == sk.accuracy_score(labels, probabilities.argmax(axis=1))


def test_fitted_decisions_beat_the_argmax_on_held_out_rows():
    rng = np.random.default_rng(4)
    # F1 of a rare class: calibrated probabilities whose argmax is too shy to name it
    n = 6000
    signal = rng.normal(size=n)
    positive = 1 / (1 + np.exp(-(1.5 * signal - 2.5)))
    y = (rng.uniform(size=n) < positive).astype(int)
    p = np.column_stack([1 - positive, positive])
    fit, held = slice(0, n // 2), slice(n // 2, n)
    rule = Threshold().fit(y[fit], p[fit], METRICS["f1"].label_score)
    assert rule["threshold"] < 0.5
    fitted = sk.f1_score(y[held], Threshold().apply(rule, p[held]))
    assert fitted > sk.f1_score(y[held], p[held].argmax(axis=1)) + 0.05
    # QWK on five ordered classes, the middle ones common (essay scores): calibrated probabilities, whose
    # argmax seldom names the rare outer classes
    prior = np.array([0.05, 0.2, 0.5, 0.2, 0.05])
    truth = rng.choice(5, n, p=prior)
    centre = truth + rng.normal(0, 1.0, n)
    soft = prior[None, :] * np.exp(-0.5 * (np.arange(5)[None, :] - centre[:, None]) ** 2)
    soft /= soft.sum(axis=1, keepdims=True)
    rule = CutPoints().fit(truth[fit], soft[fit], METRICS["qwk"].label_score)
    fitted = sk.cohen_kappa_score(truth[held], CutPoints().apply(rule, soft[held]), weights="quadratic")
    argmax = sk.cohen_kappa_score(truth[held], soft[held].argmax(axis=1), weights="quadratic")
    assert fitted > argmax + 0.03, (fitted, argmax)


def original_data(data, rows=600, seed=1, **changes):
    """The playground's original data set: rows drawn by the same rule, without the id column."""
    source = make_playground(data.parent / "original-source", "num_sold", form="number", n_train=rows, seed=seed)
    frame = pd.read_csv(source / "train.csv").drop(columns="id")
    for column, values in changes.items():
        frame[column] = values
    frame.to_csv(data / "original.csv", index=False)
    return frame


def test_original_rows_train_every_fold_and_are_never_scored(tmp_path, own_competitions, in_tmp, capsys):
    data = make_playground(tmp_path / "flood", "num_sold", form="number", n_train=80)
    original_data(data)
    declare(own_competitions, "alone", "num_sold", 'metric="rmse",\n    ')
    declare(own_competitions, "flood", "num_sold", 'metric="rmse", extra_train="original.csv", '
                                                   'extra_flag="original",\n    ')
    alone, _, _ = play(in_tmp, data, "alone")
    scores, _, run = play(in_tmp, data, "flood")
    out = capsys.readouterr().out
    assert "flood: 80 train rows and 600 extra (every fold trains on them, none is validated), 100 test rows" in out
    assert "columns: 4 numbers (Temparature, Moisture, Nitrogen, original), 1 categories (Soil Type)" in out
    folds = np.load(run / "predictions" / "folds.npy")
    assert (folds[:80] >= 0).all() and (folds[80:] == -1).all()  # the CV scores the competition's rows only
    assert scores["mean"] < 0.8 * alone["mean"]  # 600 more rows of the same rule teach more than 80


@pytest.mark.parametrize("change, message", [
    ({"Colour": "red"}, "original.csv has column 'Colour' that train.csv lacks; extra training rows need"),
    ({"id": np.arange(600) + 7000}, "original.csv repeats the id 7000 of train.csv; give its rows other ids"),
    (None, "extra_train: {data}/original.csv not found; put the file there"),
])
def test_bad_original_rows_are_refused(change, message, tmp_path, own_competitions, in_tmp, capsys):
    data = make_playground(tmp_path / "flood", "num_sold", form="number", n_train=80)
    if change is not None:
        original_data(data, **change)
    declare(own_competitions, "flood", "num_sold", 'metric="rmse", extra_train="original.csv",\n    ')
    fails(run_main, ["flood", "--data-dir", str(data)], capsys, message.format(data=data))
    assert not (in_tmp / "runs").exists()


FAULTS = ("Pastry", "Z_Scratch", "Other_Faults")


@pytest.mark.parametrize("metric_name, binary", [("mean_auc", True), ("mcrmse", False)])
def test_several_targets_get_a_model_each_and_a_column_each(metric_name, binary, tmp_path, own_competitions,
                                                             in_tmp, capsys):
    data = make_several_targets(tmp_path / "steel", FAULTS, binary=binary)
    declare(own_competitions, "steel", "", f'metric="{metric_name}",\n    ')
    source = (own_competitions / "steel.py").read_text().replace('target=""', f"target={FAULTS!r}")
    (own_competitions / "steel.py").write_text(source)
    scores, submission, run = play(in_tmp, data, "steel")
    assert list((run / "members" / "lgbm" / "fold-0").glob("target-*")) and len(
        list((run / "members" / "lgbm" / "fold-0").glob("target-*"))) == 3
    train = pd.read_csv(data / "train.csv")
    if binary:
        assert scores["mean"] > 0.8  # guessing scores 0.5
        assert submission[list(FAULTS)].stack().between(0, 1).all()
    else:  # each column's standard deviation is what the mean guess scores
        assert scores["mean"] < 0.7 * train[list(FAULTS)].std().mean()
    assert "stack" not in capsys.readouterr().out  # a second level over several targets is not built
    predict_main([str(run), "--submission", "again.csv"])  # each target's models load again
    assert (in_tmp / "again.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()


@pytest.mark.parametrize("target, metric_name, change, message", [
    (FAULTS, "mean_auc", "Z_Scratch", "target 'Z_Scratch' has 4 values (1, 2, 3, 4); mean_auc scores columns of two"),
    (FAULTS, "mean_auc", "drop", "train.csv has no column 'Other_Faults'"),
    (FAULTS, "rmse", None, "names several columns; metric='rmse' scores one: choose mcrmse"),
    ("Pastry", "mean_auc", None, "metric='mean_auc' scores several target columns; name them"),
])
def test_targets_that_do_not_fit_are_refused(target, metric_name, change, message, tmp_path, own_competitions,
                                             in_tmp, capsys):
    data = make_several_targets(tmp_path / "steel", FAULTS)
    train = pd.read_csv(data / "train.csv")
    if change == "drop":
        train = train.drop(columns="Other_Faults")
    elif change:
        train[change] = np.arange(len(train)) % 4 + 1
    train.to_csv(data / "train.csv", index=False)
    declare(own_competitions, "steel", "", f'metric="{metric_name}",\n    ')
    source = (own_competitions / "steel.py").read_text().replace('target=""', f"target={target!r}")
    (own_competitions / "steel.py").write_text(source)
    fails(run_main, ["steel", "--data-dir", str(data)], capsys, message)
    assert not (in_tmp / "runs").exists()


def test_column_wise_metrics_are_the_mean_of_each_columns():
    rng = np.random.default_rng(0)
    labels, probabilities = rng.integers(0, 2, (50, 3)), rng.uniform(size=(50, 3))
    assert METRICS["mean_auc"].score(labels, probabilities) == pytest.approx(
        np.mean([sk.roc_auc_score(labels[:, t], probabilities[:, t]) for t in range(3)]))
    assert METRICS["mean_auc"].blend_loss(labels, probabilities) == pytest.approx(
        np.mean([sk.log_loss(labels[:, t], probabilities[:, t]) for t in range(3)]))
    truth, guess = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    assert METRICS["mcrmse"].score(truth, guess) == pytest.approx(
        np.mean([sk.root_mean_squared_error(truth[:, t], guess[:, t]) for t in range(2)]))


def test_predicting_a_run_whose_member_the_code_no_longer_declares_is_one_clear_error(
        tmp_path, own_competitions, in_tmp, capsys):
    import sys

    data = make_playground(tmp_path / "flood", "num_sold", form="number", n_train=80)
    declare(own_competitions, "flood", "num_sold", 'metric="rmse",\n    ')
    _, _, run = play(in_tmp, data, "flood")
    source = (own_competitions / "flood.py").read_text().replace('members=("lgbm", "linear")', 'members=("lgbm",)')
    (own_competitions / "flood.py").write_text(source)
    sys.modules.pop("competitions.flood")
    with pytest.raises(SystemExit) as exit_info:
        predict_main([str(run), "--submission", "again.csv"])
    assert exit_info.value.code == 2
    warning, error = capsys.readouterr().err.strip().splitlines()  # the code changed, and what that breaks
    assert warning.startswith("warning: the code differs from the run's")
    assert error.startswith("error: the run's member 'linear' is not a member of flood in this code (it has lgbm)")
    assert not (in_tmp / "again.csv").exists()
