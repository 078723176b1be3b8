"""Binary Classification with a Bank Churn Dataset: the probability that a customer left."""
from pipelines.tabular import tabular_competition

COMPETITION = tabular_competition(
    name="bank_churn",               # the file's name: python -m pipelines.run bank_churn
    slug="playground-series-s4e1",   # the competition's name in its kaggle.com address
    id_column="id",
    target="Exited",
    metric="roc_auc",                # accuracy, f1, map@3, rmse, mape, ... (README: Metrics)
    submission="probability",        # label, probability (of the positive class), probabilities, top3
)
