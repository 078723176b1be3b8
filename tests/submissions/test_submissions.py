import numpy as np
import pandas as pd
import pytest

from pipelines.core.errors import UserError
from submissions.validate import check_finite_positive, validate
from submissions.write import write_submission

SAMPLE = pd.DataFrame({"Id": [3, 1, 2], "SalePrice": [1.0, 1.0, 1.0]})


def frame(ids=(3, 1, 2), prices=(10.0, 20.0, 30.0), columns=("Id", "SalePrice")):
    return pd.DataFrame(dict(zip(columns, [list(ids), list(prices)])))


def test_valid_submission_passes():
    validate(frame(), SAMPLE, check_finite_positive)


@pytest.mark.parametrize("bad, message", [
    (frame(columns=("Id", "Price")), "columns"),
    (frame(ids=(1, 2, 3)), "row 2 has id 1"),
    (frame(prices=(10.0, np.nan, 3.0)), "missing value"),
    (frame(prices=(10.0, -1.0, 3.0)), "not a finite number > 0"),
    (frame(prices=(10.0, np.inf, 3.0)), "not a finite number > 0"),
    (frame().iloc[:2], "has 2 rows"),
])
def test_invalid_submissions_are_refused(bad, message):
    with pytest.raises(UserError, match=message):
        validate(bad, SAMPLE, check_finite_positive)


def test_invalid_submission_writes_nothing(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(UserError):
        write_submission(frame(prices=(1.0, 0.0, 1.0)), SAMPLE, target, check_finite_positive)
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_atomically(tmp_path):
    target = tmp_path / "sub" / "out.csv"
    write_submission(frame(), SAMPLE, target, check_finite_positive)
    assert pd.read_csv(target).equals(frame())
    assert [p.name for p in target.parent.iterdir()] == ["out.csv"]
