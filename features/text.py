"""Free text as model inputs: a table's text columns (those the loader found, features.tabular.
column_roles, or those a competition declares) joined per row, then the tf-idf of word 1-2-grams
and character 2-5-grams (scikit-learn's TfidfVectorizer, fitted on each fold's training rows): the
fast, strong baseline of Kaggle's text notebooks, for a linear model."""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

SEPARATOR = " | "  # between a row's text columns: their n-grams never run from one column into the next


class JoinedText(TransformerMixin, BaseEstimator):
    """The text columns `columns` of a frame joined per row into one string (missing text as empty)."""

    def __init__(self, columns=()):
        self.columns = columns

    def fit(self, X, y=None):
        self.columns_ = [column for column in self.columns if column in X.columns]
        return self

    def transform(self, X):
        parts = [X[column].fillna("").astype(str) for column in self.columns_]
        joined = parts[0] if len(parts) == 1 else parts[0].str.cat(parts[1:], sep=SEPARATOR)
        return joined.to_numpy(dtype=object)


class LeanTfidf(TfidfVectorizer):
    """TfidfVectorizer without `stop_words_`, the terms it cut: every rare n-gram of the fold, which
    only serves introspection and would make each fold's saved features many times larger. Its
    vocabulary is saved as two arrays (terms, columns), not a dict of 100,000 entries: skops writes a
    dict entry by entry, which took over five minutes for one fold of 16,000 tweets."""

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the base may hand over the live __dict__
        vocabulary = state.pop("vocabulary_", None)
        if vocabulary is not None:
            state["vocabulary_terms_"] = np.array(list(vocabulary), dtype=str)
            state["vocabulary_columns_"] = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
        return state

    def __setstate__(self, state):
        state = dict(state)
        terms, columns = state.pop("vocabulary_terms_", None), state.pop("vocabulary_columns_", None)
        if terms is not None:
            state["vocabulary_"] = dict(zip(terms.tolist(), columns.tolist()))
        super().__setstate__(state)

    def fit_transform(self, raw_documents, y=None):
        matrix = super().fit_transform(raw_documents, y)
        self.__dict__.pop("stop_words_", None)
        return matrix

    def fit(self, raw_documents, y=None):
        self.fit_transform(raw_documents)
        return self


def tfidf_features(words, characters, min_df):
    """Word 1-2-grams (at most `words` of them) beside character 2-5-grams within word boundaries (at
    most `characters`), each sublinear tf-idf over terms in at least `min_df` texts, as one sparse
    float32 matrix."""
    common = {"sublinear_tf": True, "min_df": min_df, "dtype": np.float32, "strip_accents": "unicode"}
    return FeatureUnion([
        ("words", LeanTfidf(ngram_range=(1, 2), max_features=words, token_pattern=r"(?u)\b\w+\b", **common)),
        ("characters", LeanTfidf(analyzer="char_wb", ngram_range=(2, 5), max_features=characters, **common)),
    ])


class TextSummary(TransformerMixin, BaseEstimator):
    """Numbers a GBDT can split on, added beside a frame's columns: each text column's length in
    characters and in words, and the first `components` directions of the joined texts' tf-idf
    (TruncatedSVD, fitted on the fold's training rows; 0: lengths only). The text columns stay for the
    steps after it (which drop them)."""

    def __init__(self, columns=(), components=16, seed=0):
        self.columns = columns
        self.components = components
        self.seed = seed

    def fit(self, X, y=None):
        from sklearn.decomposition import TruncatedSVD
        from sklearn.pipeline import make_pipeline

        self.columns_ = [column for column in self.columns if column in X.columns]
        self.directions_ = None
        if self.components and self.columns_:
            texts = JoinedText(self.columns_).fit(X).transform(X)
            self.directions_ = make_pipeline(tfidf_features(20_000, 30_000, 2),
                                             TruncatedSVD(self.components, random_state=self.seed)).fit(texts)
        return self

    def transform(self, X):
        import pandas as pd

        added = {}
        for column in self.columns_:
            text = X[column].fillna("").astype(str)
            added[f"{column}_chars"] = text.str.len().astype(np.float32)
            added[f"{column}_words"] = text.str.split().str.len().astype(np.float32)
        if self.directions_ is not None:
            values = self.directions_.transform(JoinedText(self.columns_).fit(X).transform(X))
            added.update({f"text_svd_{k}": values[:, k].astype(np.float32) for k in range(values.shape[1])})
        return pd.concat([X, pd.DataFrame(added, index=X.index)], axis=1)
