"""Writing a validated submission atomically."""
from datetime import datetime, timezone
from pathlib import Path

from pipelines.core.errors import UserError
from pipelines.core.files import atomic_path
from submissions.validate import validate

SUBMISSIONS_DIR = Path("submissions")


def default_path(name, now=None):
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return SUBMISSIONS_DIR / f"{name}-{stamp}.csv"


def check_output_path(path, option="--submission"):
    """Before any work: `path` can become a file (not a folder, no file where a folder must be)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file path such as {path / 'submission.csv'}")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise UserError(f"{option} {path}: {parent} is a file, not a folder; choose another path")
    return path


def align_to_sample(frame, sample):
    """Rows in the sample submission's id order, and columns in its order when they are the same set
    (columns named by class take the sample's names where each is "<one prefix><class>": Status_C, ...)."""
    id_column = sample.columns[0]
    frame = frame.set_index(id_column).loc[sample[id_column].to_numpy()].reset_index()
    frame = frame.rename(columns=prefixed_names(list(frame.columns[1:]), [str(c) for c in sample.columns[1:]]))
    return frame[list(sample.columns)] if set(frame.columns) == set(sample.columns) else frame


def prefixed_names(columns, sample_columns):
    """{column: its sample name} where the sample names every column as one prefix plus its name."""
    if sorted(map(str, columns)) == sorted(sample_columns) or len(columns) != len(sample_columns) or not columns:
        return {}
    first = str(columns[0])
    prefixes = {name[:-len(first)] for name in sample_columns if name.endswith(first) and len(name) > len(first)}
    for prefix in sorted(prefixes):
        if sorted(prefix + str(c) for c in columns) == sorted(sample_columns):
            return {c: prefix + str(c) for c in columns}
    return {}


def write_submission(frame, sample, path, check_values=None, classes=None):
    """Validate, then write to a temporary file renamed into place: no half-written CSV."""
    validate(frame, sample, check_values, classes=classes)
    path = Path(path)
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False)
    return path
