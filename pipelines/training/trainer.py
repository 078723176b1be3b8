"""The Trainer every pipeline uses (quiet unless on a terminal, on this process's device), its
loggers and the callbacks the engine adds: epoch times, epoch progress lines, pruning."""
import logging
import time
import warnings
from contextlib import contextmanager

import pytorch_lightning as pl
import torch

from pipelines.core.devices import trainer_devices
from pipelines.core.progress import Throttle, interactive, say


class EpochSeconds(pl.Callback):
    """Logs each training epoch's wall time as `epoch_seconds` through the Trainer's loggers."""

    def on_train_epoch_start(self, trainer, module):
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        module.log("epoch_seconds", time.perf_counter() - self.started, on_step=False, on_epoch=True)


class EpochLog(pl.Callback):
    """A line per epoch (`label`, losses, seconds) where no progress bar shows, at most one every
    `every` seconds, so a long fold tells how it goes and a fast one prints nothing."""

    def __init__(self, label, every=10.0):
        self.label = label
        self.every = every

    def on_train_start(self, trainer, module):
        self.throttle = Throttle(self.every)

    def on_train_epoch_end(self, trainer, module):
        if trainer.sanity_checking or not self.throttle():
            return
        metrics = {key: float(value) for key, value in trainer.callback_metrics.items()
                   if key in ("train_loss", "valid_loss", "valid_acc", "epoch_seconds")}
        shown = ", ".join(f"{key} {value:.4g}" for key, value in metrics.items())
        say(f"{self.label} epoch {trainer.current_epoch + 1}/{trainer.max_epochs}: {shown}")


class EpochPruning(pl.Callback):
    """Reports `monitor` after each validation epoch, in the study's direction, and stops a trial the
    pruner rejects. A loss reported to a study that maximises (accuracy, AUC) is negated, so that
    the pruner stops the trials whose loss is high, not low.

    optuna-integration's callback targets `lightning.pytorch`; this one is for `pytorch_lightning`.
    """

    def __init__(self, trial, monitor, sign=1.0):
        self.trial = trial
        self.monitor = monitor
        self.sign = sign

    def on_validation_epoch_end(self, trainer, module):
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        epoch = trainer.current_epoch
        self.trial.report(self.sign * float(trainer.callback_metrics[self.monitor]), step=epoch)
        if self.trial.should_prune():
            import optuna

            raise optuna.TrialPruned(f"pruned at epoch {epoch} of fold 0")


class FiniteLoss(pl.Callback):
    """Stops a fit whose training loss is no longer a number (it diverged) with one error naming the
    model (`label`) and the setting to change (`hint`); checked once an epoch, not at every step (a
    GPU would wait for each)."""

    def __init__(self, label, hint):
        self.label, self.hint = label, hint

    def on_train_epoch_end(self, trainer, module):
        loss = trainer.callback_metrics.get("train_loss")
        if loss is not None and not torch.isfinite(loss).all():
            from pipelines.core.errors import ModelFailed

            raise ModelFailed(f"{self.label}: the training loss became {float(loss)} in epoch {trainer.current_epoch + 1}: "
                              f"the model diverged; {self.hint}")


@contextmanager
def torch_threads(threads):
    """torch's intra-op threads set to `threads` (None: unchanged) for the duration."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def make_loggers(folder, extra=None):
    """A CSVLogger writing `folder`/csv/metrics.csv, plus TensorBoard event files when asked."""
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    loggers = [CSVLogger(folder, name="csv", version="")]
    if extra == "tensorboard":
        loggers.append(TensorBoardLogger(folder, name="tensorboard", version="", default_hp_metric=False))
    return loggers


def quiet_lightning():
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*number of training batches.*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=r".*`isinstance\(treespec, LeafSpec\)` is deprecated.*")
    warnings.filterwarnings("ignore", message=r".*Experiment logs directory .* exists and is not empty.*")
    warnings.filterwarnings("ignore", message=r".*Total length of `list` across ranks is zero.*")  # refit: no validation


TRITON_CAPABILITY = (7, 0)  # Triton's oldest GPU: a P100 (6.0) fails at the first forward


def compiler_missing(device_type):
    """Why torch.compile cannot run on `device_type` here (None when it can): Inductor needs Triton
    on a GPU of compute capability 7.0 or more, and a C++ compiler on a CPU."""
    import importlib.util
    import shutil

    if device_type == "cuda" and importlib.util.find_spec("triton") is None:
        return "Triton is not installed"
    capability = torch.cuda.get_device_capability() if device_type == "cuda" else None
    if capability is not None and capability < TRITON_CAPABILITY:
        return (f"this GPU's compute capability {capability[0]}.{capability[1]} is below the "
                f"{TRITON_CAPABILITY[0]}.{TRITON_CAPABILITY[1]} Triton needs (a P100)")
    if device_type == "cpu" and not (shutil.which("c++") or shutil.which("g++")):
        return "no C++ compiler was found"
    return None


def mixed_precision():
    """For networks that gain from it: bf16 where the GPU has it natively, fp16 on older GPUs (T4,
    P100), full precision on a CPU."""
    if not torch.cuda.is_available():
        return "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported(including_emulation=False) else "16-mixed"


def make_trainer(max_epochs, callbacks=(), precision=None, progress=None, loggers=(), **kwargs):
    """precision: "32-true", or None for mixed_precision(). On a GPU, cuDNN picks the fastest
    convolution algorithms for the (static) shapes and fp32 matmuls may use TF32 (Muon's
    Newton-Schulz iterations, heads): speed over bit-for-bit reruns, as GPU runs are not
    deterministic anyway."""
    quiet_lightning()
    gpu = torch.cuda.is_available()
    if gpu:
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
    return pl.Trainer(
        max_epochs=max_epochs,
        **trainer_devices(),
        precision=precision or mixed_precision(),
        deterministic=not gpu,
        callbacks=list(callbacks),
        enable_progress_bar=interactive() if progress is None else progress,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=list(loggers) or False,
        num_sanity_val_steps=0,
        **kwargs,
    )
