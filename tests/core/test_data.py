import pandas as pd
import pytest

import competitions
from pipelines.core.data import locate
from pipelines.core.errors import UserError

HOUSE = competitions.get("house_prices")


def test_load_house_prices(house_dir):
    data = HOUSE.load(house_dir)
    assert list(data.X.columns) == ["MSSubClass", "LotArea", "Neighborhood", "GarageType", "GrLivArea", "PoolQC"]
    assert len(data.y) == 150 and len(data.X_test) == 60
    assert data.y.max() < 20  # log1p prices
    assert data.info["na_means_none"] == ["GarageType", "PoolQC"]


def test_unknown_competition():
    with pytest.raises(UserError, match="unknown competition 'house'; choose one of: .*house_prices"):
        competitions.get("house")


def test_missing_data_dir(tmp_path):
    with pytest.raises(UserError, match="not found: pass --data-dir"):
        locate(tmp_path / "nowhere", HOUSE)


def test_missing_file(house_dir):
    (house_dir / "test.csv").unlink()
    with pytest.raises(UserError, match="has no test.csv"):
        locate(house_dir, HOUSE)


def rewrite(path, change):
    frame = pd.read_csv(path)
    change(frame).to_csv(path, index=False)


@pytest.mark.parametrize("file, change, message", [
    ("train.csv", lambda f: f.drop(columns="SalePrice"), "has no column 'SalePrice'"),
    ("train.csv", lambda f: f.assign(Id=1), "repeats the id 1"),
    ("train.csv", lambda f: f.assign(SalePrice="cheap"), "target 'SalePrice' is not a number in row 2"),
    ("train.csv", lambda f: f.assign(SalePrice=None), "target 'SalePrice' is missing in row 2"),
    ("test.csv", lambda f: f.drop(columns="GrLivArea"), "lacks column 'GrLivArea'"),
    ("test.csv", lambda f: f.assign(Extra=1), "has column 'Extra'"),
    ("test.csv", lambda f: f.assign(SalePrice=1.0), "has the target column"),
    ("sample_submission.csv", lambda f: f.assign(Id=f.Id + 1000), "different ids"),
    ("train.csv", lambda f: f.assign(SalePrice=-5), "has negative values; rmsle needs values >= 0"),
])
def test_bad_files(house_dir, file, change, message):
    rewrite(house_dir / file, change)
    with pytest.raises(UserError, match=message):
        HOUSE.load(house_dir)


def test_unreadable_csv(house_dir):
    (house_dir / "train.csv").write_bytes(b"")
    with pytest.raises(UserError, match="cannot read .*train.csv as CSV"):
        HOUSE.load(house_dir)
