"""Metric logs of Lightning fits, read back without importing Lightning."""
import importlib.util

import pandas as pd

from pipelines.core.errors import UserError

LOGGERS = ("csv", "tensorboard")  # csv is always written: learning curves and epoch times are read from it


def check_logger(name):
    if name not in LOGGERS:
        raise UserError(f"--logger {name}: choose one of {', '.join(LOGGERS)}")
    if name == "tensorboard" and not any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX")):
        raise UserError("--logger tensorboard needs the tensorboard package: pip install -e '.[tensorboard]'")


def logged_epochs(csv_path):
    """Per-epoch rows (epoch, train_loss, valid_loss, epoch_seconds, ...) of a CSVLogger's metrics.csv."""
    try:
        frame = pd.read_csv(csv_path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return []
    epochs = frame.drop(columns=["step"], errors="ignore").groupby("epoch", sort=True).first()
    return [{"epoch": int(epoch), **{k: float(v) for k, v in row.items() if pd.notna(v)}}
            for epoch, row in epochs.iterrows()]
