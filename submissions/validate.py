"""Checks a submission against the competition's sample submission before it is written."""
import numpy as np
import pandas as pd

from pipelines.errors import UserError


def validate(frame, sample, check_values=None, source="submission"):
    """Same columns in the same order as `sample`, the same ids in the same order,
    no missing values, then the competition's own value check."""
    if list(frame.columns) != list(sample.columns):
        raise UserError(
            f"{source} has columns {', '.join(map(str, frame.columns[:5]))}...; "
            f"expected {', '.join(map(str, sample.columns[:5]))}... as in the sample submission"
        )
    id_column = sample.columns[0]
    if len(frame) != len(sample):
        raise UserError(f"{source} has {len(frame)} rows; the sample submission has {len(sample)}")
    ids, expected = frame[id_column].astype(str).to_numpy(), sample[id_column].astype(str).to_numpy()
    if not np.array_equal(ids, expected):
        row = int(np.flatnonzero(ids != expected)[0])
        raise UserError(f"{source} row {row + 2} has id {ids[row]}; the sample submission has {expected[row]} there")
    missing = frame.isna().any(axis=1).to_numpy()
    if missing.any():
        raise UserError(f"{source} row {int(np.flatnonzero(missing)[0]) + 2} has a missing value")
    if check_values:
        check_values(frame, source)
    return frame


def check_finite_positive(frame, source):
    values = frame.iloc[:, 1:].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values).all(axis=1) | (values <= 0).any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise UserError(f"{source} row {row + 2} has a value that is not a finite positive number: {values[row]}")


def check_labels_in(classes):
    """A value check: every predicted label is one of `classes`."""
    allowed = set(classes)

    def check(frame, source):
        labels = frame.iloc[:, 1]
        bad = ~labels.isin(allowed).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise UserError(f"{source} row {row + 2} has label {labels.iloc[row]!r}, not one of {', '.join(classes)}")

    return check
