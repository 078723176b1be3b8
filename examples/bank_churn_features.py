"""Bank churn with a feature step of its own."""
import numpy as np

from features.tabular import FrameStep
from pipelines.tabular import tabular_competition


class BalancePerProduct(FrameStep):
    """Balance divided by the number of products (1 when there are none)."""

    def add(self, frame):
        frame["BalancePerProduct"] = frame["Balance"] / np.maximum(frame["NumOfProducts"], 1)


COMPETITION = tabular_competition(name="bank_churn_features", slug="playground-series-s4e1", id_column="id",
                                  target="Exited", metric="roc_auc", submission="probability",
                                  features=[BalancePerProduct()])
