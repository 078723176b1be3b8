"""The training and validation steps every classifier here shares: cross-entropy (with the
module's `label_smoothing`) to train, unsmoothed loss and accuracy to validate."""
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
