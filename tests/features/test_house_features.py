import numpy as np
import pandas as pd
import pytest

from features.house import (
    Ages,
    NeighbourhoodLotFrontage,
    OrdinalScales,
    TotalAreas,
    house_features,
    large_cheap_houses,
)


@pytest.fixture
def houses():
    return pd.DataFrame({
        "Neighborhood": ["NAmes", "NAmes", "NAmes", "OldTown", "OldTown", "Edwards"],
        "LotFrontage": [60.0, 80.0, np.nan, 50.0, np.nan, np.nan],
        "ExterQual": ["Ex", "Gd", "TA", "Fa", "Po", "TA"],
        "BsmtQual": ["Gd", None, "TA", "TA", "Ex", None],  # None: no basement
        "TotalBsmtSF": [800, 0, 700, 600, 900, 0],
        "1stFlrSF": [1000, 900, 800, 700, 1100, 950],
        "2ndFlrSF": [500, 0, 0, 300, 0, 0],
        "FullBath": [2, 1, 1, 1, 2, 1], "HalfBath": [1, 0, 0, 1, 0, 0],
        "BsmtFullBath": [1, 0, 0, 0, 1, 0], "BsmtHalfBath": [0, 0, 1, 0, 0, 0],
        "OpenPorchSF": [10, 0, 0, 5, 0, 0], "WoodDeckSF": [100, 0, 20, 0, 0, 0],
        "YearBuilt": [2000, 1950, 1970, 1920, 2005, 1960],
        "YearRemodAdd": [2000, 1990, 1970, 2000, 2005, 1960],
        "GarageYrBlt": [2000.0, np.nan, 1970.0, 1930.0, 2005.0, np.nan],
        "YrSold": [2008, 2008, 2009, 2010, 2006, 2007],
    })


def test_ordinal_scales_turn_grades_into_numbers(houses):
    out = OrdinalScales().fit_transform(houses)
    assert out.ExterQual.tolist() == [5, 4, 3, 2, 1, 3]
    assert out.BsmtQual.tolist() == [4, 0, 3, 3, 5, 0]  # no basement -> 0
    assert houses.ExterQual.iloc[0] == "Ex"  # the input is not modified


def test_total_areas(houses):
    out = TotalAreas().fit_transform(houses)
    assert out.TotalSF.tolist() == [2300, 900, 1500, 1600, 2000, 950]
    assert out.TotalBath.tolist() == [3.5, 1.0, 1.5, 1.5, 3.0, 1.0]
    assert out.TotalPorchSF.tolist() == [110, 0, 20, 5, 0, 0]


def test_ages(houses):
    out = Ages().fit_transform(houses)
    assert out.Age.tolist() == [8, 58, 39, 90, 1, 47]
    assert out.RemodAge.tolist() == [8, 18, 39, 10, 1, 47]
    assert out.Remodeled.tolist() == [0, 1, 0, 1, 0, 0]
    assert out.GarageAge.tolist() == [8, 58, 39, 80, 1, 47]  # no garage: as old as the house


def test_lot_frontage_from_the_training_fold_neighbourhood(houses):
    step = NeighbourhoodLotFrontage().fit(houses.iloc[:4])  # Edwards and the 2nd OldTown are unseen in fit
    out = step.transform(houses)
    assert out.LotFrontage.tolist() == [60, 80, 70, 50, 50, 60]  # NAmes median 70, OldTown 50, overall 60
    assert step.medians_ == {"NAmes": 70.0, "OldTown": 50.0}


def test_steps_skip_columns_they_do_not_find():
    frame = pd.DataFrame({"GrLivArea": [1000, 2000], "Neighborhood": ["A", "B"]})
    out = house_features().fit_transform(frame)
    pd.testing.assert_frame_equal(out, frame)


def test_large_cheap_houses():
    X = pd.DataFrame({"GrLivArea": [4500, 4500, 3000, 5600]})
    y = np.log1p([160_000, 745_000, 100_000, 184_750])
    assert large_cheap_houses(X, y).tolist() == [True, False, False, True]
