"""House Prices feature engineering: named DataFrame -> DataFrame steps, fitted per fold.

Each step adds or rewrites columns and leaves the rest alone, so they chain in a Pipeline
ahead of the generic tabular preprocessor. Columns a step needs but does not find are skipped,
so the steps also run on partial frames (tests, other housing data).
"""
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import make_pipeline

from features.tabular import FrameStep

QUALITY = {"Ex": 5, "Gd": 4, "TA": 3, "Fa": 2, "Po": 1}  # missing (no basement, no pool...) -> 0
ORDINAL_SCALES = {
    **{column: QUALITY for column in ("ExterQual", "ExterCond", "BsmtQual", "BsmtCond", "HeatingQC", "KitchenQual",
                                      "FireplaceQu", "GarageQual", "GarageCond", "PoolQC")},
    "BsmtExposure": {"Gd": 4, "Av": 3, "Mn": 2, "No": 1},
    "BsmtFinType1": {"GLQ": 6, "ALQ": 5, "BLQ": 4, "Rec": 3, "LwQ": 2, "Unf": 1},
    "BsmtFinType2": {"GLQ": 6, "ALQ": 5, "BLQ": 4, "Rec": 3, "LwQ": 2, "Unf": 1},
    "Functional": {"Typ": 7, "Min1": 6, "Min2": 5, "Mod": 4, "Maj1": 3, "Maj2": 2, "Sev": 1, "Sal": 0},
    "GarageFinish": {"Fin": 3, "RFn": 2, "Unf": 1},
    "LandSlope": {"Gtl": 2, "Mod": 1, "Sev": 0},
    "LotShape": {"Reg": 3, "IR1": 2, "IR2": 1, "IR3": 0},
    "PavedDrive": {"Y": 2, "P": 1, "N": 0},
    "CentralAir": {"Y": 1, "N": 0},
}
PORCHES = ("OpenPorchSF", "EnclosedPorch", "3SsnPorch", "ScreenPorch", "WoodDeckSF")


def _has(frame, *columns):
    return all(column in frame.columns for column in columns)


def _number(frame, column):
    return pd.to_numeric(frame[column], errors="coerce").fillna(0.0)


class OrdinalScales(FrameStep):
    """Quality and condition grades as numbers (Ex 5 ... Po 1, none 0) instead of one-hot."""

    def __init__(self, scales=None):
        self.scales = scales

    def add(self, frame):
        for column, scale in (self.scales or ORDINAL_SCALES).items():
            if column in frame.columns:
                frame[column] = frame[column].map(scale).astype(float).fillna(0.0)


class TotalAreas(FrameStep):
    """Total square footage (basement + floors), total bathrooms, total porch area."""

    def add(self, frame):
        if _has(frame, "TotalBsmtSF", "1stFlrSF", "2ndFlrSF"):
            frame["TotalSF"] = sum(_number(frame, c) for c in ("TotalBsmtSF", "1stFlrSF", "2ndFlrSF"))
        if _has(frame, "FullBath", "HalfBath", "BsmtFullBath", "BsmtHalfBath"):
            frame["TotalBath"] = (_number(frame, "FullBath") + 0.5 * _number(frame, "HalfBath")
                                  + _number(frame, "BsmtFullBath") + 0.5 * _number(frame, "BsmtHalfBath"))
        porches = [c for c in PORCHES if c in frame.columns]
        if porches:
            frame["TotalPorchSF"] = sum(_number(frame, c) for c in porches)


class Ages(FrameStep):
    """Age at sale, years since remodelling, whether it was remodelled, garage age."""

    def add(self, frame):
        if not _has(frame, "YrSold", "YearBuilt"):
            return
        sold = _number(frame, "YrSold")
        frame["Age"] = (sold - _number(frame, "YearBuilt")).clip(lower=0)
        if "YearRemodAdd" in frame.columns:
            frame["RemodAge"] = (sold - _number(frame, "YearRemodAdd")).clip(lower=0)
            frame["Remodeled"] = (frame["YearRemodAdd"] != frame["YearBuilt"]).astype(float)
        if "GarageYrBlt" in frame.columns:  # no garage: as old as the house
            garage = pd.to_numeric(frame["GarageYrBlt"], errors="coerce").fillna(frame["YearBuilt"])
            frame["GarageAge"] = (sold - garage).clip(lower=0)


class NeighbourhoodLotFrontage(TransformerMixin, BaseEstimator):
    """Missing LotFrontage <- the median of its neighbourhood in the training fold (overall median
    for a neighbourhood the fold never saw)."""

    def fit(self, X, y=None):
        if not _has(X, "LotFrontage", "Neighborhood"):
            self.medians_, self.overall_ = None, None
            return self
        frontage = pd.to_numeric(X["LotFrontage"], errors="coerce")
        self.medians_ = frontage.groupby(X["Neighborhood"]).median().dropna().to_dict()
        self.overall_ = float(frontage.median())
        return self

    def transform(self, X):
        frame = X.copy()
        if self.medians_ is None:
            return frame
        frontage = pd.to_numeric(frame["LotFrontage"], errors="coerce")
        fill = frame["Neighborhood"].map(self.medians_).astype(float).fillna(self.overall_)
        frame["LotFrontage"] = frontage.fillna(fill)
        return frame


def house_features():
    """The engineered steps in order (LotFrontage first: it reads the raw Neighborhood)."""
    return make_pipeline(NeighbourhoodLotFrontage(), OrdinalScales(), TotalAreas(), Ages())


def large_cheap_houses(X, y, area=4000, price=300_000):
    """The known training outliers: over `area` sq ft of living area sold for under `price`.
    `y` is log1p(SalePrice). Dropped from training folds only, never from validation."""
    if "GrLivArea" not in X.columns:
        return np.zeros(len(X), dtype=bool)
    return (pd.to_numeric(X["GrLivArea"], errors="coerce") > area).to_numpy() & (np.asarray(y) < np.log1p(price))
