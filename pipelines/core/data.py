"""Locating a competition's files and reading them with clear errors."""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.core.errors import UserError


@dataclass
class Dataset:
    """Model inputs and targets; X and X_test are DataFrames or arrays indexed by row.
    A test-only load (train=False) leaves X, y and train_ids None. `inputs` lists the files
    and folders the load read, for the run's fingerprints."""

    X: object
    y: np.ndarray
    X_test: object
    test_ids: np.ndarray
    sample: pd.DataFrame
    train_ids: np.ndarray
    info: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)


def schema(X):
    """What a model's input looks like: a frame's columns, or an array's shape per row."""
    return {"columns": [str(c) for c in X.columns]} if isinstance(X, pd.DataFrame) else {"shape": list(X.shape[1:])}


def match_schema(expected, X_test, where):
    """The test inputs in the form of the training inputs a run recorded (a frame's columns
    put in the training order); a missing or extra column is one clear error."""
    found = schema(X_test)
    if "columns" in expected and "columns" in found:
        missing = [c for c in expected["columns"] if c not in found["columns"]]
        extra = [c for c in found["columns"] if c not in expected["columns"]]
        if missing or extra:
            what = f"lacks column {missing[0]!r}" if missing else f"has column {extra[0]!r} that the training data lacked"
            raise UserError(f"{where} {what}; it must have the feature columns the run was trained on")
        return X_test[expected["columns"]]
    if found != expected:
        raise UserError(f"{where}: the test inputs have {found}, the run was trained on {expected}")
    return X_test


def take(X, rows):
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]


def data_folder(data_dir, competition):
    """--data-dir, or data/<kaggle slug> without it."""
    return Path(data_dir) if data_dir else Path("data") / competition.slug


def locate(data_dir, competition):
    """The competition's data folder, checked to exist and hold its expected files."""
    data_dir = data_folder(data_dir, competition)
    fix = (
        f"pass --data-dir with the folder of the Kaggle files for {competition.slug} "
        f"or download them with: python -m pipelines.download {competition.name} (needs Kaggle API credentials)"
    )
    if not data_dir.is_dir():
        raise UserError(f"data folder {data_dir} not found: {fix}")
    missing = [name for name in competition.files if not (data_dir / name).exists()]
    if missing:
        raise UserError(f"{data_dir} has no {', '.join(missing)}: {fix}")
    return data_dir


def read_csv(path, required_columns=(), text=()):
    """The CSV at `path` with its `required_columns` checked; `text` columns are read as strings
    (ids such as 00042 keep their leading zeros)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={column: str for column in text} or None)
    except FileNotFoundError:
        raise UserError(f"{path} not found; put the competition's files from Kaggle in {path.parent}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text ({first_bad_byte(path)}); save it as UTF-8, e.g. iconv -f latin1 -t "
                        f"utf-8 {path.name} > {path.stem}.utf8.csv, and put that in its place") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise UserError(f"cannot read {path} as CSV ({error}); replace it with the file from Kaggle") from None
    missing = [c for c in required_columns if c not in frame.columns]
    if missing:
        raise UserError(
            f"{path} has no column {missing[0]!r} (columns: {', '.join(map(str, frame.columns[:8]))}...); "
            "check that --data-dir points at this competition's files"
        )
    return frame


def first_bad_byte(path):
    """Where the file stops being UTF-8: "byte 0xe9 on line 12"."""
    raw = Path(path).read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        return f"byte 0x{raw[error.start]:02x} on line {line}"
    return "a byte that is not UTF-8"


def require_unique(frame, column, path):
    duplicated = frame[column][frame[column].duplicated()]
    if len(duplicated):
        raise UserError(f"{path}: column {column!r} repeats the id {duplicated.iloc[0]}; ids must be unique")


def load_tabular(data_dir, id_column, target_column, metric, train="train.csv", test="test.csv",
                 sample="sample_submission.csv", read_train=True, keep_id=False, extra_train=(), extra_flag=None):
    """Kaggle's tabular layout: train has id, features and target; test the same without target.
    Ids, and the class labels of a classification target, are read as text, as the files hold
    them. Targets come out in the metric's model space: class indices (info["classes"] keeps the
    class labels in class_order) or numbers on the metric's link scale. With read_train=False only the test file
    and the sample submission are read. keep_id leaves the id column among the features (for
    features derived from it, such as a group)."""
    data_dir = Path(data_dir)
    test_frame = read_csv(data_dir / test, [id_column], text=[id_column])  # 00042 stays 00042
    sample_frame = read_csv(data_dir / sample, [id_column], text=[id_column])
    targets = [target_column] if isinstance(target_column, str) else list(target_column)
    for column in targets:
        if column in test_frame.columns:
            raise UserError(f"{data_dir / test} has the target column {column!r}; it belongs in {train} only")
    require_unique(test_frame, id_column, data_dir / test)
    require_unique(sample_frame, id_column, data_dir / sample)
    if set(sample_frame[id_column]) != set(test_frame[id_column]):
        raise UserError(f"{data_dir / sample} and {data_dir / test} list different ids; use the files from one download")
    dropped = [] if keep_id else [id_column]
    dataset = Dataset(X=None, y=None, X_test=test_frame.drop(columns=dropped),
                      test_ids=test_frame[id_column].to_numpy(), sample=sample_frame, train_ids=None,
                      inputs=[data_dir / test, data_dir / sample])
    if not read_train:
        if extra_flag is not None:
            dataset.X_test = dataset.X_test.assign(**{extra_flag: 0})
        return dataset
    labels = targets if metric.classification or metric.task == "labels" else []  # a class 01 stays 01
    train_frame = read_csv(data_dir / train, [id_column, *targets], text=[id_column, *labels])
    features = [c for c in train_frame.columns if c not in (*dropped, *targets)]
    missing = [c for c in features if c not in test_frame.columns]
    extra = [c for c in test_frame.columns if c not in dropped and c not in features]
    if missing or extra:
        what = f"lacks column {missing[0]!r}" if missing else f"has column {extra[0]!r} that {train} lacks"
        raise UserError(f"{data_dir / test} {what}; train and test must have the same feature columns")
    require_unique(train_frame, id_column, data_dir / train)
    extras = [read_extra(data_dir / name, train_frame, id_column, targets, features, labels, data_dir / train)
              for name in extra_train]
    if extra_flag is not None:
        if extra_flag in train_frame.columns:
            raise UserError(f"extra_flag={extra_flag!r}: {data_dir / train} has such a column already; name another")
        train_frame, test_frame = train_frame.assign(**{extra_flag: 0}), test_frame.assign(**{extra_flag: 0})
        extras = [extra.assign(**{extra_flag: 1}) for extra in extras]
        features.append(extra_flag)
    if extras:
        dataset.info["extra_rows"] = sum(len(extra) for extra in extras)
        dataset.inputs += [data_dir / name for name in extra_train]
        train_frame = pd.concat([train_frame, *extras], ignore_index=True)
    if len(targets) == 1:
        dataset.y, classes = model_space_target(train_frame[target_column], metric, f"{data_dir / train}")
    else:
        dataset.y, classes = several_targets(train_frame[targets], metric, data_dir / train), None
        dataset.info["targets"] = targets
    if classes is not None:
        dataset.info["classes"] = classes
    dataset.X, dataset.X_test = train_frame[features], test_frame[features]
    dataset.train_ids = train_frame[id_column].to_numpy()
    dataset.inputs.insert(0, data_dir / train)
    return dataset


def read_extra(path, train, id_column, targets, features, labels, train_path):
    """Rows of an extra training file, checked against train's: the same feature columns and target (the
    id column optional: missing, its rows are named "<file stem>-<n>"), ids and classes train's do not
    collide with or lack."""
    if not path.is_file():
        raise UserError(f"extra_train: {path} not found; put the file there (the competition's original data set "
                        "is a Kaggle dataset of its own) or name where it is")
    frame = read_csv(path, [*targets, *features], text=[id_column, *labels])
    other = [c for c in frame.columns if c not in (id_column, *targets, *features)]
    if other:
        raise UserError(f"{path} has column {other[0]!r} that {train_path.name} lacks; extra training rows need "
                        f"{train_path.name}'s columns: drop or rename it")
    missing = frame[targets].isna().any(axis=1).to_numpy()
    if missing.any():
        raise UserError(f"{path}: a target is missing in row {int(np.flatnonzero(missing)[0]) + 2}; drop such rows")
    if id_column in frame.columns:
        require_unique(frame, id_column, path)
        shared = frame[id_column][frame[id_column].isin(set(train[id_column]))]
        if len(shared):
            raise UserError(f"{path} repeats the id {shared.iloc[0]} of {train_path.name}; give its rows other ids, "
                            f"or drop its {id_column!r} column")
    else:
        frame.insert(0, id_column, [f"{path.stem}-{n}" for n in range(len(frame))])
    for column in labels:
        unknown = sorted(set(frame[column].dropna().astype(str)) - set(train[column].astype(str)))
        if unknown:
            raise UserError(f"{path} has class {unknown[0]!r} of {column!r}, which {train_path.name} lacks; "
                            "drop those rows")
    return frame[[id_column, *features, *targets]]


def several_targets(frame, metric, where):
    """Targets of several columns (n, T) in model space: numbers, or for binary labels ("labels" metrics:
    mean AUC) 0 and 1, the class sorting last (1 of 0/1, True of False) being 1."""
    columns = []
    for column in frame.columns:
        if metric.task != "labels":
            columns.append(model_space_target(frame[column], metric, where)[0])
            continue
        values = frame[column]
        if values.isna().any():
            raise UserError(f"{where}: target {column!r} is missing in row {int(np.flatnonzero(values.isna())[0]) + 2}")
        classes = class_order(values.astype(str))
        if len(classes) != 2:
            raise UserError(f"{where}: target {column!r} has {len(classes)} values ({', '.join(classes[:4])}"
                            f"{', ...' if len(classes) > 4 else ''}); {metric.name} scores columns of two classes "
                            "each (0 and 1): choose mcrmse for numbers")
        columns.append((values.astype(str) == classes[1]).to_numpy(dtype=np.int64))
    return np.column_stack(columns)


def class_order(labels):
    """The distinct labels in class order: by value when every label is a number (1, 2, 10; ordinal
    metrics such as QWK count on it), else as text."""
    distinct = sorted({str(label) for label in labels})
    try:
        return sorted(distinct, key=lambda label: (float(label), label))
    except ValueError:
        return distinct


def model_space_target(values, metric, where):
    """(targets in model space, class labels or None): class indices into class_order(labels) for
    classification metrics (labels as text), else numbers through the metric's link (log1p for
    RMSLE)."""
    missing = values.isna().to_numpy()
    if missing.any():
        raise UserError(f"{where}: target {values.name!r} is missing in row {int(np.flatnonzero(missing)[0]) + 2}")
    if metric.classification:
        labels = values.astype(str)
        classes = class_order(labels)
        if len(classes) < 2:
            raise UserError(f"{where}: target {values.name!r} has one class only; a classifier needs two or more")
        return labels.map({label: k for k, label in enumerate(classes)}).to_numpy(dtype=np.int64), classes
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        row = int(np.flatnonzero(numbers.isna().to_numpy())[0])
        raise UserError(f"{where}: target {values.name!r} is not a number in row {row + 2} ({values.iloc[row]!r}); "
                        f"{metric.name} needs numbers (a classification metric such as accuracy takes classes)")
    numbers = numbers.to_numpy(dtype=float)
    if metric.floor is not None and (numbers < metric.floor).any():
        what = f"target_transform={metric.target_transform}" if metric.target_transform else metric.name
        raise UserError(f"{where}: target {values.name!r} has negative values; {what} needs values >= 0")
    if metric.to_model is np.log and (numbers <= 0).any():
        raise UserError(f"{where}: target {values.name!r} has values <= 0; target_transform=log needs positive "
                        "values (log1p takes zeros)")
    return metric.target_to_model(numbers), None
