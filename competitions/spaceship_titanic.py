"""Spaceship Titanic: was each passenger transported to another dimension? Scored by accuracy.

A table with a True/False label: the default tabular recipe (LightGBM, CatBoost, XGBoost and a
logistic regression on the same folds, blended) after the features of features/spaceship.py.
Travel groups never span train and test, so the folds keep each group whole too.
"""
from features.spaceship import CabinParts, Spending, TravelGroups, travel_group
from pipelines.tabular import tabular_competition

COMPETITION = tabular_competition(
    name="spaceship_titanic",
    slug="spaceship-titanic",
    id_column="PassengerId",
    target="Transported",
    metric="accuracy",
    submission="label",
    keep_id=True,  # TravelGroups reads the group from it
    features=[TravelGroups(), CabinParts(), Spending()],
    groups=lambda data: travel_group(data.train_ids),
)
