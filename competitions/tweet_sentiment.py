"""Tweet sentiment: each tweet negative, neutral or positive, scored by multi-class log loss.

train.csv holds id, text, sentiment; the submission a probability column per class. The text is
found by itself: the text members read it, the table's members have nothing else to read.
"""
from pipelines.tabular import tabular_competition

COMPETITION = tabular_competition(name="tweet_sentiment", slug="tweet-sentiment", id_column="id",
                                  target="sentiment", metric="log_loss", submission="probabilities")
