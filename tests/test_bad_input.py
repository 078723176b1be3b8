"""Bad input through every command: one line naming the problem, exit code 2, no traceback, no new file."""
import json
import shutil

import pytest

from pipelines import blend, download, predict, run, runs, submit, tune
from pipelines.core.files import file_record


def files_under(root):
    return {path for path in root.rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A small finished House Prices run to predict and blend from (a copy per test)."""
    import os

    from tests.synthetic import make_house_prices

    root = tmp_path_factory.mktemp("finished")
    data = make_house_prices(root / "house")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        run.main(["house_prices", "--data-dir", str(data), "--folds", "2", "--set", "models=lasso",
                  "--submission", "s.csv"])
    finally:
        os.chdir(cwd)
    [folder] = (root / "runs" / "house_prices").iterdir()
    return data, folder


def case_table(data, folder, tmp):
    """(command, argv) pairs of bad input and the message each must give."""
    (tmp / "a_file").write_text("not a folder")
    (tmp / "a_folder").mkdir()
    damaged = tmp / "damaged"
    shutil.copytree(folder, damaged)
    (damaged / "members/lasso/fold-1/record.json").write_text("{not json")
    older = tmp / "older"
    shutil.copytree(folder, older)
    config = json.loads((older / "config.json").read_text())
    del config["train_schema"]
    (older / "config.json").write_text(json.dumps(config))
    status = json.loads((older / "status.json").read_text())
    status["files"]["config.json"] = file_record(older / "config.json")  # as an older version wrote it
    (older / "status.json").write_text(json.dumps(status))
    house = ["house_prices", "--data-dir", str(data)]
    return [
        (run, [*house, "--params", str(tmp / "a_folder")], "is a folder; give a JSON file"),
        (run, [*house, "--submission", str(tmp / "a_file" / "s.csv")], "is a file, not a folder"),
        (run, [*house, "--submission", str(tmp / "a_folder")], "is a folder; give a file path"),
        (run, [*house, "--seed", "-1"], "--seed -1: give a whole number from 0"),
        (run, [*house, "--set", "lasso.alpah=1"], "did you mean lasso.alpha"),
        (run, [*house, "--workers", "none"], "--workers none: give a number"),
        (run, ["titanic"], "unknown competition 'titanic'"),
        (tune, [*house, "--trials", "2", "--params", str(tmp / "a_folder")], "is a folder; give a JSON file"),
        (tune, [*house, "--trials", "2", "--seed", "-5"], "--seed -5: give a whole number"),
        (tune, [*house, "--trials", "0"], "--trials 0"),
        (predict, [str(folder), "--submission", str(tmp / "a_folder")], "is a folder; give a file path"),
        (predict, [str(damaged), "--submission", "p.csv"], "record.json is damaged"),
        (predict, [str(older), "--submission", "p.csv"], "has no 'train_schema': the run was written by an older"),
        (predict, [str(tmp / "nothing")], "not found"),
        (blend, [str(folder), str(folder), "--submission", str(tmp / "a_folder")], "is a folder; give a file path"),
        (blend, [str(folder)], "give two or more run folders"),
        (runs, ["titanic"], "unknown competition 'titanic'"),
        (download, ["titanic"], "unknown competition 'titanic'"),
        (submit, ["house_prices", str(tmp / "missing.csv"), "--dry-run", "--data-dir", str(data)], "missing.csv"),
        (submit, ["titanic", "x.csv", "-m", "hi"], "unknown competition 'titanic'"),
    ]


OWN = {  # competition files a new user might write, for the cases below
    "codes": 'from pipelines.tabular import tabular_competition\n'
             'COMPETITION = tabular_competition(name="codes", slug="codes", id_column="id", target="sentiment",\n'
             '                                  metric="log_loss", submission="probabilities")\n',
    "photos": 'from pipelines.image import image_competition\n'
              'COMPETITION = image_competition(name="photos", slug="photos", id_column="id", target="label",\n'
              '                                metric="accuracy", size=16)\n',
    "oom": '''import torch
from sklearn.linear_model import Ridge

from pipelines.competition import Member
from pipelines.estimator import SklearnEstimator
from pipelines.params import Param
from pipelines.tabular import linear_inputs, tabular_competition


class OnAFullGPU(SklearnEstimator):
    def fit(self, X, y, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


big = Member(linear_inputs(()), lambda p: OnAFullGPU(Ridge()), {"batch_size": Param(4096, low=1)})
COMPETITION = tabular_competition(name="oom", slug="oom", id_column="Id", target="SalePrice", metric="rmse",
                                  members={"big": big})
''',
}


def own_case_table(data, own, tmp):
    """Bad input that needs a competition of the user's own: a text-only table, a model whose loss
    becomes NaN, one that runs out of GPU memory, a locked SQLite study."""
    import sqlite3

    import pandas as pd

    from tests.synthetic import make_pets

    for name, code in OWN.items():
        (own / name).with_suffix(".py").write_text(code)
    codes = tmp / "codes"  # its one feature column names each row: nothing to learn from
    codes.mkdir()
    refs = [f"R-{7919 * i % 100003:06d}" for i in range(60)]
    pd.DataFrame({"id": range(40), "ref": refs[:40], "sentiment": ["good", "bad"] * 20}).to_csv(
        codes / "train.csv", index=False)
    pd.DataFrame({"id": range(40, 60), "ref": refs[40:]}).to_csv(codes / "test.csv", index=False)
    pd.DataFrame({"id": range(40, 60), "good": 0.5, "bad": 0.5}).to_csv(codes / "sample_submission.csv", index=False)
    photos = make_pets(tmp / "photos")
    study = tmp / "locked.db"
    holder = sqlite3.connect(study)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of writing the study
    return [
        (run, ["codes", "--data-dir", str(codes)], "every feature column is dropped (ref: an identifier"),
        (run, ["photos", "--data-dir", str(photos), "--folds", "2", "--set", "cnn.lr=1e30", "--set", "cnn.widths=8,8,8",
               "--set", "cnn.max_epochs=3"], "the training loss became nan in epoch"),
        (run, ["oom", "--data-dir", str(data), "--folds", "2"],
         "big fold 0 ran out of GPU memory; train it in smaller batches (--set big.batch_size=...)"),
        (tune, ["house_prices", "--data-dir", str(data), "--trials", "1", "--storage", f"sqlite:///{study}"],
         "is locked by another process writing to it: SQLite serves one writer at a time"),
    ], holder


def refused(command, argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        command.main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    where = f"{command.__name__} {' '.join(argv)}"
    assert exit_info.value.code == 2, where
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], (where, err)
    assert "Traceback" not in captured.err + captured.out, where


def test_bad_input_through_every_command(finished_run, own_competitions, tmp_path, monkeypatch, capsys):
    data, folder = finished_run
    monkeypatch.chdir(tmp_path)
    cases = case_table(data, folder, tmp_path)
    own, holder = own_case_table(data, own_competitions, tmp_path)
    before = files_under(tmp_path)
    for command, argv, message in cases:
        refused(command, argv, message, capsys)
    assert files_under(tmp_path) == before  # nothing written, not even a run folder
    for command, argv, message in own:  # a model that fails while training: its run folder records the failure
        refused(command, argv, message, capsys)
    holder.close()
    written = {path for path in files_under(tmp_path) - before if path.parts[len(tmp_path.parts)] not in ("runs", "cache")}
    assert written == set()  # and no submission
