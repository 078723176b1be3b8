"""The training and validation steps the image and head models share: cross-entropy (with the
module's `label_smoothing`) to train, unsmoothed loss and accuracy to validate; or, for a
number per image, the mean squared error of the standardised target."""
import numpy as np
from torch import nn


class ClassificationSteps:
    """Mix into a LightningModule whose forward returns class logits."""

    def training_step(self, batch, batch_idx):
        x, labels = batch
        loss = nn.functional.cross_entropy(self(x), labels.long(), label_smoothing=self.hparams.label_smoothing)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, labels = batch
        logits, labels = self(x).float(), labels.long()
        self.log("valid_loss", nn.functional.cross_entropy(logits, labels), on_step=False, on_epoch=True)
        self.log("valid_acc", (logits.argmax(1) == labels).float().mean(), on_step=False, on_epoch=True)


class LossSteps:
    """Training and validation steps around the module's `_loss(batch)`, logged per epoch."""

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("valid_loss", self._loss(batch), on_step=False, on_epoch=True)


class RegressionSteps(LossSteps):
    """Mix into a LightningModule whose forward returns one output per row and whose hparams hold
    `target_mean` and `target_std` (of the fold's training targets): it learns the standardised
    target, so learning rates chosen for classes suit any scale; `unscale` maps outputs back."""

    @staticmethod
    def target_scale(y):
        y = np.asarray(y, dtype=np.float64)
        return {"target_mean": float(y.mean()), "target_std": float(y.std()) or 1.0}

    def _loss(self, batch):
        x, y = batch
        scaled = (y.float() - self.hparams.target_mean) / self.hparams.target_std
        return nn.functional.mse_loss(self(x).float().view(-1), scaled)

    def unscale(self, outputs):
        return outputs.double().view(-1) * self.hparams.target_std + self.hparams.target_mean
