"""Spaceship Titanic feature engineering: named DataFrame steps, each adding columns from raw ones.

PassengerId is "gggg_pp" (travel group, place in it), Cabin "deck/number/side", and five amenity
columns hold what a passenger spent. Passengers in cryo sleep spend nothing, which fills in many
missing values of both. Steps skip columns they do not find.
"""
import numpy as np
import pandas as pd

from features.tabular import FrameStep

AMENITIES = ("RoomService", "FoodCourt", "ShoppingMall", "Spa", "VRDeck")


def travel_group(ids):
    """The travel group of each PassengerId ("0013_01" -> "0013"): the groups K-fold keeps whole."""
    return pd.Series(np.asarray(ids)).astype(str).str.split("_").str[0].to_numpy()


class TravelGroups(FrameStep):
    """Group size and place in the group from PassengerId, which is then dropped. The size counts
    the group's passengers in the frame at hand: whole groups stay together in every fold and in
    the test set, so it is their true size."""

    def add(self, frame):
        if "PassengerId" not in frame.columns:
            return
        group = pd.Series(travel_group(frame["PassengerId"]), index=frame.index)
        frame["GroupSize"] = group.map(group.value_counts()).astype(float)
        frame["Alone"] = (frame["GroupSize"] == 1).astype(float)
        frame["PlaceInGroup"] = pd.to_numeric(frame["PassengerId"].astype(str).str.split("_").str[1], errors="coerce")
        return frame.drop(columns="PassengerId")


class CabinParts(FrameStep):
    """Deck, number and side from Cabin ("B/0/P"); the number also in bands of 300 cabins."""

    def add(self, frame):
        if "Cabin" not in frame.columns:
            return
        parts = frame["Cabin"].astype(str).where(frame["Cabin"].notna()).str.split("/", expand=True)
        parts = parts.reindex(columns=range(3))
        frame["Deck"], frame["Side"] = parts[0], parts[2]
        frame["CabinNumber"] = pd.to_numeric(parts[1], errors="coerce")
        frame["CabinBand"] = (frame["CabinNumber"] // 300).astype(str).where(frame["CabinNumber"].notna())
        return frame.drop(columns="Cabin")


class Spending(FrameStep):
    """Missing amounts of passengers in cryo sleep are 0; missing CryoSleep is True exactly when the
    passenger spent nothing; total and log total spent, whether anything was spent."""

    def add(self, frame):
        amenities = [c for c in AMENITIES if c in frame.columns]
        if not amenities:
            return
        asleep = frame["CryoSleep"].astype(str).eq("True") if "CryoSleep" in frame.columns else None
        for column in amenities:
            values = pd.to_numeric(frame[column], errors="coerce")
            frame[column] = values.where(~(values.isna() & asleep), 0.0) if asleep is not None else values
        total = frame[amenities].sum(axis=1, min_count=1)
        frame["TotalSpent"] = total
        frame["LogTotalSpent"] = np.log1p(total)
        frame["SpentNothing"] = (total.fillna(0) == 0).astype(float)
        if asleep is not None:
            sleep = frame["CryoSleep"].astype(str).where(frame["CryoSleep"].notna())
            frame["CryoSleep"] = sleep.fillna(total.fillna(0).eq(0).map({True: "True", False: "False"}))

