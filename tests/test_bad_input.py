"""Bad input through every command: one line naming the problem, exit code 2, no traceback, no new file."""
import json
import shutil

import pytest

from pipelines import blend, download, predict, run, runs, submit, tune
from pipelines.files import file_record


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


def test_bad_input_through_every_command(finished_run, tmp_path, monkeypatch, capsys):
    data, folder = finished_run
    monkeypatch.chdir(tmp_path)
    cases = case_table(data, folder, tmp_path)
    before = files_under(tmp_path)
    for command, argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            command.main(argv)
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        where = f"{command.__name__} {' '.join(argv)}"
        assert exit_info.value.code == 2, where
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], (where, err)
        assert "Traceback" not in captured.err + captured.out, where
    assert files_under(tmp_path) == before  # nothing written, not even a run folder
