"""MLP regressor: a linear path plus a dropout-regularised hidden layer, trained with AdamW."""
import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn


class MLPRegressor(pl.LightningModule):
    """y = linear(x) + mlp(x) + bias.

    The linear path alone is ridge-like regression (weight decay); the hidden
    layer learns the interactions a linear model misses. Targets are centred
    by `target_mean`, so the bias starts at the answer.
    """

    def __init__(self, n_features, hidden=256, dropout=0.3, lr=5e-3, weight_decay=1.0,
                 target_mean=0.0, total_steps=None):
        super().__init__()
        self.save_hyperparameters()
        self.linear = nn.Linear(n_features, 1)
        self.mlp = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(n_features, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )
        self.register_buffer("target_mean", torch.tensor(float(target_mean)))

    @classmethod
    def build(cls, X, y, total_steps, **params):
        return cls(n_features=X.shape[1], target_mean=float(np.mean(y)), total_steps=total_steps, **params)

    def forward(self, x):
        return (self.linear(x) + self.mlp(x)).squeeze(-1) + self.target_mean

    def _loss(self, batch):
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("valid_loss", self._loss(batch), on_step=False, on_epoch=True)

    def predict_step(self, batch, batch_idx):
        return self(batch[0])

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, self.hparams.lr, total_steps=self.hparams.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
