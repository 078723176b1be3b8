"""Bank churn with a member of its own, a random forest, blended with LightGBM."""
from sklearn.ensemble import RandomForestClassifier

from pipelines.competition import Member
from pipelines.estimator import SklearnEstimator
from pipelines.members import THREADS
from pipelines.params import Param
from pipelines.tabular import linear_inputs, tabular_competition

FEATURES = ()  # your feature steps, e.g. (BalancePerProduct(),): members of your own need them too

forest = Member(
    linear_inputs(steps=FEATURES),  # your steps, then imputed, scaled, one-hot inputs
    lambda p: SklearnEstimator(RandomForestClassifier(n_estimators=p["trees"], min_samples_leaf=p["leaf"],
                                                      random_state=p["seed"]), p["n_classes"], p["threads"]),
    {"trees": Param(300, low=1), "leaf": Param(3, low=1, search=(1, 30), log=True), "threads": THREADS},
)

COMPETITION = tabular_competition(name="bank_churn_forest", slug="playground-series-s4e1", id_column="id",
                                  target="Exited", metric="roc_auc", submission="probability",
                                  features=FEATURES, members={"lgbm": "lgbm", "forest": forest})
