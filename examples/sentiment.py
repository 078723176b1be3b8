"""Tweets: negative, neutral or positive, scored by log loss (a probability column per class)."""
from pipelines.tabular import tabular_competition

COMPETITION = tabular_competition(
    name="sentiment",                # python -m pipelines.run sentiment
    slug="tweet-sentiment",          # train.csv: id, text, sentiment; test.csv: id, text
    id_column="id",
    target="sentiment",
    metric="log_loss",
    submission="probabilities",      # the sample's columns: id, negative, neutral, positive
)
