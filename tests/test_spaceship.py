import numpy as np
import pandas as pd

import competitions
from features.spaceship import CabinParts, Spending, TravelGroups, travel_group
from pipelines.predict import main as predict_main
from pipelines.run import main as run_main
from tests.synthetic import make_spaceship

SPACESHIP = competitions.get("spaceship_titanic")


def test_travel_groups_from_the_passenger_id():
    frame = pd.DataFrame({"PassengerId": ["0001_01", "0002_01", "0002_02", "0002_03"], "Age": [1, 2, 3, 4]})
    out = TravelGroups().fit_transform(frame)
    assert "PassengerId" not in out.columns and out.Age.tolist() == [1, 2, 3, 4]
    assert out.GroupSize.tolist() == [1, 3, 3, 3] and out.Alone.tolist() == [1, 0, 0, 0]
    assert out.PlaceInGroup.tolist() == [1, 1, 2, 3]
    assert travel_group(["0013_01", "0020_04"]).tolist() == ["0013", "0020"]


def test_cabin_parts():
    out = CabinParts().fit_transform(pd.DataFrame({"Cabin": ["B/0/P", None, "F/1450/S"]}))
    assert out.Deck.tolist()[::2] == ["B", "F"] and out.Side.tolist()[::2] == ["P", "S"]
    assert out.CabinNumber.tolist()[::2] == [0, 1450] and out.CabinBand.tolist()[::2] == ["0.0", "4.0"]
    assert out.iloc[1].isna().all() and "Cabin" not in out.columns


def test_spending_fills_what_cryo_sleep_implies():
    frame = pd.DataFrame({"CryoSleep": [True, None, None, False], "RoomService": [np.nan, 0.0, 50.0, np.nan],
                          "Spa": [0.0, 0.0, 10.0, 5.0]})
    out = Spending().fit_transform(frame)
    assert out.RoomService.tolist()[:3] == [0.0, 0.0, 50.0] and np.isnan(out.RoomService[3])  # awake: unknown
    assert out.TotalSpent.tolist() == [0.0, 0.0, 60.0, 5.0] and out.SpentNothing.tolist() == [1, 1, 0, 0]
    assert out.CryoSleep.tolist() == ["True", "True", "False", "False"]  # spent nothing <=> asleep


def test_spaceship_end_to_end_with_true_false_submission(tmp_path, in_tmp, capsys):
    data = make_spaceship(tmp_path / "spaceship-titanic")
    fast = [f"{name}={value}" for name, value in (("lgbm.rounds", 100), ("lgbm.learning_rate", 0.1),
                                                  ("catboost.rounds", 100), ("catboost.learning_rate", 0.1),
                                                  ("xgb.rounds", 100), ("xgb.learning_rate", 0.1))]
    run_main(["spaceship_titanic", "--data-dir", str(data), "--folds", "3", "--submission", "s.csv",
              *[arg for value in fast for arg in ("--set", value)]])
    out = capsys.readouterr().out
    accuracy = float(next(line for line in out.splitlines() if line.startswith("CV accuracy")).split()[2])
    assert accuracy > 0.75  # the rule behind the generated label is learnable
    assert not (in_tmp / "catboost_info").exists()  # CatBoost writes no training files of its own
    submission = pd.read_csv(in_tmp / "s.csv", dtype=str)
    assert list(submission.columns) == ["PassengerId", "Transported"]
    assert set(submission.Transported) <= {"True", "False"}
    assert submission.PassengerId.tolist() == pd.read_csv(data / "sample_submission.csv", dtype=str).PassengerId.tolist()

    # folds keep travel groups whole
    dataset = SPACESHIP.load(data)
    from pipelines.engine.splits import competition_splits

    groups = travel_group(dataset.train_ids)
    for train_rows, valid_rows in competition_splits(SPACESHIP, dataset, 3, seed=0):
        assert not set(groups[train_rows]) & set(groups[valid_rows])

    run_dir = next((in_tmp / "runs" / "spaceship_titanic").iterdir())
    predict_main([str(run_dir), "--submission", "p.csv"])
    assert (in_tmp / "p.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()
