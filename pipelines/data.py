"""Locating a competition's files and reading them with clear errors."""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UserError


@dataclass
class Dataset:
    """Model inputs and targets; X and X_test are DataFrames or arrays indexed by row."""

    X: object
    y: np.ndarray
    X_test: object
    test_ids: np.ndarray
    sample: pd.DataFrame
    train_ids: np.ndarray
    info: dict = field(default_factory=dict)


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


def read_csv(path, required_columns=()):
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {path} as CSV ({error}); replace it with the file from Kaggle") from None
    missing = [c for c in required_columns if c not in frame.columns]
    if missing:
        raise UserError(
            f"{path} has no column {missing[0]!r} (columns: {', '.join(map(str, frame.columns[:8]))}...); "
            "check that --data-dir points at this competition's files"
        )
    return frame


def require_unique(frame, column, path):
    duplicated = frame[column][frame[column].duplicated()]
    if len(duplicated):
        raise UserError(f"{path}: column {column!r} repeats the id {duplicated.iloc[0]}; ids must be unique")


def load_tabular(data_dir, id_column, target_column, train="train.csv", test="test.csv",
                 sample="sample_submission.csv"):
    """Kaggle's tabular layout: train has id, features and target; test the same without target."""
    data_dir = Path(data_dir)
    train_frame = read_csv(data_dir / train, [id_column, target_column])
    test_frame = read_csv(data_dir / test, [id_column])
    sample_frame = read_csv(data_dir / sample, [id_column, target_column])
    if target_column in test_frame.columns:
        raise UserError(f"{data_dir / test} has the target column {target_column!r}; it belongs in {train} only")
    features = [c for c in train_frame.columns if c not in (id_column, target_column)]
    missing = [c for c in features if c not in test_frame.columns]
    extra = [c for c in test_frame.columns if c != id_column and c not in features]
    if missing or extra:
        what = f"lacks column {missing[0]!r}" if missing else f"has column {extra[0]!r} that {train} lacks"
        raise UserError(f"{data_dir / test} {what}; train and test must have the same feature columns")
    for frame, name in ((train_frame, train), (test_frame, test), (sample_frame, sample)):
        require_unique(frame, id_column, data_dir / name)
    target = pd.to_numeric(train_frame[target_column], errors="coerce")
    if target.isna().any():
        row = int(np.flatnonzero(target.isna().to_numpy())[0])
        raise UserError(f"{data_dir / train}: target {target_column!r} is missing or not a number in row {row + 2}")
    if set(sample_frame[id_column]) != set(test_frame[id_column]):
        raise UserError(f"{data_dir / sample} and {data_dir / test} list different ids; use the files from one download")
    return Dataset(
        X=train_frame[features],
        y=target.to_numpy(dtype=float),
        X_test=test_frame[features],
        test_ids=test_frame[id_column].to_numpy(),
        sample=sample_frame,
        train_ids=train_frame[id_column].to_numpy(),
    )


def load_labelled_images(data_dir, cache_name, labels_file, label_column, classes, sample_file,
                         id_column="id", size=None):
    """Kaggle's image layout: a labels CSV (id, label), train/ and test/ images (folders or
    archives) named by id, and a sample submission listing the test ids."""
    from features.images import ImageSource, cached_images

    data_dir = Path(data_dir)
    labels_path = data_dir / labels_file
    labels = read_csv(labels_path, [id_column, label_column])
    require_unique(labels, id_column, labels_path)
    known = labels[label_column].isin(list(classes)).to_numpy()
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        raise UserError(f"{labels_path} row {row + 2}: label {labels[label_column].iloc[row]!r} is not one of the "
                        f"{len(classes)} classes ({', '.join(list(classes)[:4])}, ...); fix or remove that row")
    sample = read_csv(data_dir / sample_file, [id_column])
    train_ids = labels[id_column].astype(str).to_list()
    test_ids = sample[id_column].astype(str).to_list()
    train_source, test_source = ImageSource(data_dir, "train"), ImageSource(data_dir, "test")
    train_source.require(train_ids, labels_path)
    test_source.require(test_ids, data_dir / sample_file)
    index = {name: i for i, name in enumerate(classes)}
    return Dataset(
        X=cached_images(train_source, train_ids, cache_name, size),
        y=labels[label_column].map(index).to_numpy(dtype=np.int64),
        X_test=cached_images(test_source, test_ids, cache_name, size),
        test_ids=sample[id_column].to_numpy(),
        sample=sample,
        train_ids=labels[id_column].to_numpy(),
        info={"classes": list(classes)},
    )
