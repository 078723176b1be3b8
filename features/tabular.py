"""Tabular preprocessing: scikit-learn transformers fitted inside each fold."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import issparse
from scipy.stats import skew
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


class FrameStep(TransformerMixin, BaseEstimator):
    """A stateless DataFrame step: subclasses define `add(frame)`, which edits a copy (and may
    return a new frame instead, e.g. with columns dropped)."""

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self):
        return True  # nothing to learn

    def transform(self, X):
        frame = X.copy()
        changed = self.add(frame)
        return frame if changed is None else changed


def na_means_none_columns(description_path):
    """Columns whose documented values include NA ("no garage", "no pool", ...).

    Kaggle's data_description.txt lists each column as `Name: text` followed by
    indented `value<TAB>meaning` lines.
    """
    columns, current = [], None
    for line in Path(description_path).read_text(errors="replace").splitlines():
        header = re.match(r"^(\w+):", line)
        if header:
            current = header.group(1)
        elif current and re.match(r"^\s+NA\s", line) and current not in columns:
            columns.append(current)
    return columns


class Log1pSkewed(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """log1p on the non-negative columns whose skewness exceeds `threshold` in fit."""

    def __init__(self, threshold=0.75):
        self.threshold = threshold

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        self.n_features_in_ = X.shape[1]
        self.skewed_ = (np.abs(skew(X, axis=0)) > self.threshold) & (X.min(axis=0) >= 0)
        return self

    def transform(self, X):
        X = np.array(X, dtype=float)
        X[:, self.skewed_] = np.log1p(np.clip(X[:, self.skewed_], 0, None))
        return X


class ColumnKind:
    """Selects the columns of one kind when the ColumnTransformer is fitted, so the
    preprocessor works on whatever columns earlier (feature engineering) steps produce."""

    def __init__(self, kind, categorical=(), na_means_none=()):
        self.kind, self.categorical, self.na_means_none = kind, tuple(categorical), tuple(na_means_none)

    def __call__(self, X):
        numeric = [c for c in X.select_dtypes(include="number").columns if c not in self.categorical]
        if self.kind == "numeric":
            return numeric
        categories = [c for c in X.columns if c not in numeric]
        return [c for c in categories if (c in self.na_means_none) == (self.kind == "none")]


def tabular_preprocessor(categorical=(), na_means_none=(), skew_threshold=0.75, scaler=StandardScaler,
                         max_dense_cells=20_000_000):
    """Numeric: median impute, log1p where skewed, scale (`scaler`: StandardScaler, RobustScaler...).

    Categorical: one-hot that ignores categories unseen in the training fold;
    missing values become a "None" category where NA means none, the mode elsewhere.
    The output is a dense array, or a sparse matrix where the training rows' would hold more than
    `max_dense_cells` cells (SparseWhenLarge: a million rows with 300 one-hot columns is 2.4 GB dense).
    """
    as_text = _AsText()
    return make_pipeline(ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), Log1pSkewed(skew_threshold), scaler()),
             ColumnKind("numeric", categorical, na_means_none)),
            ("none", make_pipeline(as_text, SimpleImputer(strategy="constant", fill_value="None"),
                                   OneHotEncoder(handle_unknown="ignore")), ColumnKind("none", categorical, na_means_none)),
            ("categorical", make_pipeline(as_text, SimpleImputer(strategy="most_frequent"),
                                          OneHotEncoder(handle_unknown="ignore")),
             ColumnKind("other", categorical, na_means_none)),
        ],
        sparse_threshold=1.0,  # sparse whenever a one-hot part is; SparseWhenLarge densifies small tables
    ), SparseWhenLarge(max_dense_cells))


class SparseWhenLarge(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """A sparse matrix kept sparse when the training rows' would hold more than `max_dense_cells` cells
    dense (decided at fit, so every transform of the fold gives one kind); otherwise a dense array."""

    def __init__(self, max_dense_cells=20_000_000):
        self.max_dense_cells = max_dense_cells

    def fit(self, X, y=None):
        self.sparse_ = bool(issparse(X) and X.shape[0] * X.shape[1] > self.max_dense_cells)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        if issparse(X) and not self.sparse_:
            return X.toarray()
        return X.tocsr() if issparse(X) else X


class _AsText(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Categories as strings (numeric codes such as MSSubClass included), NaN kept as missing."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        missing = X.isna().to_numpy()
        text = np.array(X.astype(str), dtype=object)
        text[missing] = np.nan  # None and pd.NA too, so the imputers see one kind of missing
        return text


def _text_columns(X):
    return [c for c in X.columns if c not in X.select_dtypes(include=["number", "bool"]).columns]


NEARLY_UNIQUE = 0.9  # distinct values per row above which a text column names rows rather than grouping them
MIN_UNIQUE = 20      # ... when it has more distinct values than this (small tables keep their categories)
TEXT_LENGTH, TEXT_WORDS = 25, 4  # median characters and words of a free-text column (reviews, descriptions)


def column_roles(train, test, text=()):
    """How the tabular members use each feature column, decided on the training and test rows' values
    (never the target): {"number": [...], "category": [...], "text": [...], "dropped": {column: why}}.

    A number column is a number. A text column is a category, unless it is free text (mostly unique,
    with a median of TEXT_LENGTH characters and TEXT_WORDS words: tabular members cannot read it) or an
    identifier (nearly unique per row and mostly not shared with the test rows: one-hot it adds a
    column per row, as a category it only memorises). A category with many levels that recur, or that
    the test rows share, is kept: it may decide the target. Columns named in `text` are text."""
    roles = {"number": [], "category": [], "text": [], "dropped": {}}
    for column in train.columns:
        values = train[column].dropna()
        if values.empty:
            roles["dropped"][column] = "empty"
            continue
        if column not in _text_columns(train) and column not in text:
            roles["number"].append(column)
            continue
        strings = values.astype(str)
        distinct = strings.nunique()
        if column in text or (distinct / len(strings) >= 0.5 and strings.str.len().median() >= TEXT_LENGTH
                              and strings.str.split().str.len().median() >= TEXT_WORDS):
            roles["text"].append(column)
            roles["dropped"][column] = "free text: the text members read it, the table's members do not"
            continue
        unseen = 1.0
        if column in test.columns and test[column].notna().any():
            unseen = 1 - test[column].dropna().astype(str).isin(set(strings)).mean()
        if distinct > max(MIN_UNIQUE, NEARLY_UNIQUE * len(strings)) and unseen > 0.5:
            roles["dropped"][column] = (f"an identifier ({distinct} distinct values in {len(strings)} rows, "
                                        f"{unseen:.0%} of the test rows' unseen)")
            continue
        roles["category"].append(column)
    return roles


class DropIdentifiers(TransformerMixin, BaseEstimator):
    """Drops the columns `roles` (column_roles, decided when the data loaded) drops, and the text
    columns that feature steps made which are nearly unique in the training fold (per row names,
    ticket numbers): one-hot encoded they add a column per row, as categories they only memorise."""

    def __init__(self, roles=None, max_unique_ratio=NEARLY_UNIQUE, min_unique=MIN_UNIQUE):
        self.roles = roles
        self.max_unique_ratio = max_unique_ratio
        self.min_unique = min_unique

    def fit(self, X, y=None):
        roles = self.roles or {"number": [], "category": [], "dropped": {}}
        known = {*roles["number"], *roles["category"], *roles["dropped"]}
        self.dropped_ = [c for c in X.columns if c in roles["dropped"]]
        self.dropped_ += [c for c in _text_columns(X) if c not in known and X[c].nunique() > max(
            self.min_unique, self.max_unique_ratio * X[c].notna().sum())]
        return self

    def transform(self, X):
        return X.drop(columns=self.dropped_)


class NativeCategories(TransformerMixin, BaseEstimator):
    """Text (and mixed) columns as pandas categoricals with the training fold's categories, for
    GBDTs that split on categories natively (LightGBM, XGBoost, CatBoost); a category the fold
    never saw becomes missing. Numeric and boolean columns become floats; missing values stay
    missing (the GBDTs route them)."""

    def fit(self, X, y=None):
        self.categories_ = {c: sorted(X[c].dropna().astype(str).unique().tolist()) for c in _text_columns(X)}
        return self

    def transform(self, X):
        columns = {}
        for column in X.columns:
            if column in self.categories_:
                known = self.categories_[column]
                text = X[column].astype(str).where(X[column].notna())
                columns[column] = pd.Categorical(text.where(text.isin(known)), categories=known)
            else:
                columns[column] = pd.to_numeric(X[column], errors="coerce").astype(float)
        return pd.DataFrame(columns, index=X.index)
