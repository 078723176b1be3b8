"""Tabular MLPs: a linear path plus a dropout-regularised hidden layer, trained with AdamW and a
one-cycle schedule. The linear path alone is ridge-like (weight decay); the hidden layer learns
the interactions a linear model misses. MLPRegressor predicts one number, MLPClassifier class
probabilities."""
import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from pipelines.training.models.classification import ClassificationSteps, LossSteps


class TabularMLP(pl.LightningModule):
    """linear(x) + mlp(x), `outputs` wide; subclasses add the loss and what predict returns.
    Full precision on every device: small, and a regression output in bf16 would round log prices."""

    training_precision = "32-true"

    def __init__(self, n_features, outputs, hidden, dropout, lr, weight_decay, total_steps):
        super().__init__()
        self.linear = nn.Linear(n_features, outputs)
        self.mlp = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(n_features, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, outputs),
        )

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, self.hparams.lr, total_steps=self.hparams.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class MLPRegressor(LossSteps, TabularMLP):
    """Targets are centred by `target_mean`, so the bias starts at the answer; with
    `scale_target` they are also divided by their standard deviation (targets of any scale)."""

    def __init__(self, n_features, hidden=256, dropout=0.3, lr=5e-3, weight_decay=1.0, target_mean=0.0,
                 target_std=1.0, total_steps=None):
        super().__init__(n_features, 1, hidden, dropout, lr, weight_decay, total_steps)
        self.save_hyperparameters()
        self.register_buffer("target_mean", torch.tensor(float(target_mean)))

    @classmethod
    def build(cls, X, y, total_steps, scale_target=False, **params):
        scale = {"target_std": float(np.std(y)) or 1.0} if scale_target else {}
        return cls(n_features=X.shape[1], target_mean=float(np.mean(y)), total_steps=total_steps, **scale, **params)

    def forward(self, x):
        return (self.linear(x) + self.mlp(x)).squeeze(-1) * self.hparams.target_std + self.target_mean

    def _loss(self, batch):
        x, y = batch
        scale = self.hparams.target_std
        return nn.functional.mse_loss(self(x) / scale, y / scale)

    def predict_step(self, batch, batch_idx):
        return self(batch[0])


class MLPClassifier(ClassificationSteps, TabularMLP):
    """Class logits over `n_classes`; predicts probabilities."""

    def __init__(self, n_features, n_classes, hidden=256, dropout=0.3, lr=5e-3, weight_decay=1.0,
                 label_smoothing=0.0, total_steps=None):
        super().__init__(n_features, n_classes, hidden, dropout, lr, weight_decay, total_steps)
        self.save_hyperparameters()

    @classmethod
    def build(cls, X, y, total_steps, **params):
        return cls(n_features=X.shape[1], total_steps=total_steps, **params)

    def forward(self, x):
        return self.linear(x) + self.mlp(x)

    def predict_step(self, batch, batch_idx):
        return torch.softmax(self(batch[0]).float(), dim=1)
