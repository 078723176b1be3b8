"""A LightningModule behind scikit-learn's fit/predict, so the cross-validation engine
treats Lightning models and scikit-learn models alike."""
import numpy as np
import torch
from sklearn.base import clone

from .datamodules import ArrayDataModule
from .trainer import History, make_trainer


class LightningEstimator:
    """Builds `module_class.build(X, y, total_steps, **module_params)` at each fit and
    trains it with a Trainer; `history_` keeps the per-epoch losses."""

    def __init__(self, module_class, module_params, batch_size=256, max_epochs=80,
                 datamodule_class=ArrayDataModule, datamodule_params=None):
        self.module_class = module_class
        self.module_params = module_params
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.datamodule_class = datamodule_class
        self.datamodule_params = datamodule_params or {}

    def fit(self, X, y, validation=None, callbacks=()):
        X_valid, y_valid = validation if validation is not None else (None, None)
        data = self.datamodule_class(X, y, X_valid, y_valid, batch_size=self.batch_size, **self.datamodule_params)
        total_steps = self.max_epochs * len(data.train_dataloader())
        self.module_ = self.module_class.build(X, y, total_steps=total_steps, **self.module_params)
        self.history_ = History()
        trainer = make_trainer(self.max_epochs, callbacks=[self.history_, *callbacks])
        trainer.fit(self.module_, datamodule=data)
        return self

    def predict(self, X):
        trainer = make_trainer(1, progress=False)
        batches = trainer.predict(self.module_, self.datamodule_class.predict_loader(X))
        return torch.cat(batches).float().cpu().numpy().astype(np.float64)


class SklearnEstimator:
    """A scikit-learn regressor or classifier behind the same fit/predict as LightningEstimator
    (the validation rows and callbacks are not used: these models have no epochs)."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y, validation=None, callbacks=()):
        self.estimator_ = clone(self.estimator).fit(X, y)
        return self

    def predict(self, X):
        if hasattr(self.estimator_, "predict_proba"):
            return self.estimator_.predict_proba(X)
        return np.asarray(self.estimator_.predict(X), dtype=np.float64)
