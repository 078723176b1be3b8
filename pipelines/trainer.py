"""The Trainer every pipeline uses: quiet unless on a terminal, GPU when present."""
import logging
import sys
import time
import warnings

import pytorch_lightning as pl
import torch


class History(pl.Callback):
    """Per-epoch train and valid loss and seconds, for learning curves and timing."""

    def __init__(self):
        self.epochs = []
        self._started = None

    def on_train_epoch_start(self, trainer, module):
        self._started = time.perf_counter()

    def on_validation_epoch_end(self, trainer, module):
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        self.epochs.append({"epoch": trainer.current_epoch, **metrics})
        if self._started is not None:
            self.epochs[-1]["seconds"] = time.perf_counter() - self._started

    def on_train_epoch_end(self, trainer, module):
        if self.epochs and self.epochs[-1]["epoch"] == trainer.current_epoch:
            self.epochs[-1].update({k: float(v) for k, v in trainer.callback_metrics.items()})


def quiet_lightning():
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*number of training batches.*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=r".*`isinstance\(treespec, LeafSpec\)` is deprecated.*")


def make_trainer(max_epochs, callbacks=(), precision=None, progress=None, **kwargs):
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
        logger=False,
        num_sanity_val_steps=0,
        **kwargs,
    )
