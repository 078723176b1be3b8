"""The Trainer every pipeline uses (quiet unless on a terminal, GPU when present) and its loggers."""
import importlib.util
import logging
import sys
import time
import warnings

import pandas as pd
import pytorch_lightning as pl
import torch

from .errors import UserError

LOGGERS = ("csv", "tensorboard")  # csv is always written: learning curves and epoch times are read from it


class EpochSeconds(pl.Callback):
    """Logs each training epoch's wall time as `epoch_seconds` through the Trainer's loggers."""

    def on_train_epoch_start(self, trainer, module):
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        module.log("epoch_seconds", time.perf_counter() - self.started, on_step=False, on_epoch=True)


def check_logger(name):
    if name not in LOGGERS:
        raise UserError(f"--logger {name}: choose one of {', '.join(LOGGERS)}")
    if name == "tensorboard" and not any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX")):
        raise UserError("--logger tensorboard needs the tensorboard package: pip install -e '.[tensorboard]'")


def make_loggers(folder, extra=None):
    """A CSVLogger writing `folder`/csv/metrics.csv, plus TensorBoard event files when asked."""
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    loggers = [CSVLogger(folder, name="csv", version="")]
    if extra == "tensorboard":
        loggers.append(TensorBoardLogger(folder, name="tensorboard", version="", default_hp_metric=False))
    return loggers


def logged_epochs(csv_path):
    """Per-epoch rows (epoch, train_loss, valid_loss, epoch_seconds, ...) of a CSVLogger's metrics.csv."""
    try:
        frame = pd.read_csv(csv_path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return []
    epochs = frame.drop(columns=["step"], errors="ignore").groupby("epoch", sort=True).first()
    return [{"epoch": int(epoch), **{k: float(v) for k, v in row.items() if pd.notna(v)}}
            for epoch, row in epochs.iterrows()]


def quiet_lightning():
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*number of training batches.*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=r".*`isinstance\(treespec, LeafSpec\)` is deprecated.*")
    warnings.filterwarnings("ignore", message=r".*Experiment logs directory .* exists and is not empty.*")
    warnings.filterwarnings("ignore", message=r".*Total length of `list` across ranks is zero.*")  # refit: no validation


def make_trainer(max_epochs, callbacks=(), precision=None, progress=None, loggers=(), **kwargs):
    quiet_lightning()
    gpu = torch.cuda.is_available()
    return pl.Trainer(
        max_epochs=max_epochs,
        accelerator="auto",
        devices=1,
        precision=precision or ("bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"),
        deterministic=not gpu,
        callbacks=list(callbacks),
        enable_progress_bar=sys.stderr.isatty() if progress is None else progress,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=list(loggers) or False,
        num_sanity_val_steps=0,
        **kwargs,
    )
