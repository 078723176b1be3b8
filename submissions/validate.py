"""Checks a submission against the competition's sample submission before it is written."""
import numpy as np
import pandas as pd

from pipelines.core.errors import UserError


def validate(frame, sample, check_values=None, source="submission", classes=None):
    """Same columns in the same order as `sample`, the same ids in the same order,
    no missing values, then the competition's own value check (given the class values, if any)."""
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
        check_values(frame, source, classes)
    return frame


def _numbers(frame):
    return frame.iloc[:, 1:].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)


def check_finite(frame, source, classes=None, minimum=None, above=None):
    """Every value a finite number (at least `minimum`, or more than `above`)."""
    values = _numbers(frame)
    bad = ~np.isfinite(values).all(axis=1)
    if minimum is not None:
        bad |= (values < minimum).any(axis=1)
    if above is not None:
        bad |= (values <= above).any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        bound = f" >= {minimum}" if minimum is not None else f" > {above}" if above is not None else ""
        raise UserError(f"{source} row {row + 2} has a value that is not a finite number{bound}: {values[row]}")


def check_finite_positive(frame, source, classes=None):
    check_finite(frame, source, above=0)


def check_labels(frame, source, classes):
    """Every predicted label is one of `classes` (compared as text, as a CSV holds them)."""
    if classes is None:
        return
    allowed = {str(c) for c in classes}
    labels = frame.iloc[:, 1]
    bad = ~labels.astype(str).isin(allowed).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        shown = ", ".join(map(str, list(classes)[:12])) + (", ..." if len(classes) > 12 else "")
        label = labels.iloc[row]
        label = repr(label) if isinstance(label, str) else str(label)
        raise UserError(f"{source} row {row + 2} has label {label}, not one of {shown}")


def check_top_labels(frame, source, classes, k):
    """Each row holds `k` different labels of `classes`, space-separated (MAP@k's answer)."""
    allowed = {str(c) for c in classes}
    for row, value in enumerate(frame.iloc[:, 1].astype(str)):
        labels = value.split()
        if len(labels) != k or len(set(labels)) != k or not set(labels) <= allowed:
            raise UserError(f"{source} row {row + 2} has {value!r}; expected {k} different labels of "
                            f"{', '.join(sorted(allowed)[:8])}{', ...' if len(allowed) > 8 else ''}, space-separated")


def check_labels_in(classes):
    """A value check against a fixed class list."""
    return lambda frame, source, _=None: check_labels(frame, source, classes)


def check_probabilities(frame, source, classes=None, sums_to_one=True):
    """Probabilities: finite, in [0, 1], and (one column per class) summing to 1 in each row."""
    values = _numbers(frame)
    bad = ~np.isfinite(values).all(axis=1) | (values < 0).any(axis=1) | (values > 1).any(axis=1)
    if sums_to_one:
        bad |= np.abs(values.sum(axis=1) - 1) > 1e-6
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        rule = "finite, in [0, 1] and sum to 1" if sums_to_one else "finite and in [0, 1]"
        raise UserError(f"{source} row {row + 2}: probabilities must be {rule}")
