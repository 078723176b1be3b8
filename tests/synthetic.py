"""Small competition folders in Kaggle's layout, generated for tests."""
from pathlib import Path

import numpy as np
import pandas as pd

HOUSE_DESCRIPTION = """MSSubClass: Identifies the type of dwelling involved in the sale.

        20\t1-STORY 1946 & NEWER ALL STYLES
        60\t2-STORY 1946 & NEWER

LotArea: Lot size in square feet

Neighborhood: Physical locations within Ames city limits

       NAmes\tNorth Ames
       OldTown\tOld Town

GarageType: Garage location

       Attchd\tAttached to home
       Detchd\tDetached from home
       NA\tNo Garage

GrLivArea: Above grade (ground) living area square feet

PoolQC: Pool quality

       Ex\tExcellent
       NA\tNo Pool
"""


def make_house_prices(folder, n_train=150, n_test=60, seed=0):
    """A House Prices look-alike: price depends on area, neighbourhood and garage."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = n_train + n_test
    frame = pd.DataFrame({
        "Id": np.arange(1, n + 1),
        "MSSubClass": rng.choice([20, 60], n),
        "LotArea": rng.lognormal(9, 0.5, n).round(),
        "Neighborhood": rng.choice(["NAmes", "OldTown", "Edwards"], n),
        "GarageType": rng.choice(["Attchd", "Detchd", None], n),
        "GrLivArea": rng.normal(1500, 400, n).clip(500).round(),
        "PoolQC": rng.choice(["Ex", None], n, p=[0.05, 0.95]),
    })
    frame.loc[rng.choice(n, 10, replace=False), "LotArea"] = np.nan
    log_price = (11 + 0.0004 * frame.GrLivArea + 0.1 * (frame.Neighborhood == "NAmes")
                 + 0.1 * frame.GarageType.notna() + rng.normal(0, 0.05, n))
    frame["SalePrice"] = np.exp(log_price).round()
    train, test = frame.iloc[:n_train], frame.iloc[n_train:].drop(columns="SalePrice")
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"Id": test.Id, "SalePrice": 180000.0}).to_csv(folder / "sample_submission.csv", index=False)
    (folder / "data_description.txt").write_text(HOUSE_DESCRIPTION)
    return folder
