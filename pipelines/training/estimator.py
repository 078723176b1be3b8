"""Models behind one contract, so the cross-validation engine treats Lightning models and
scikit-learn-style models alike: fit(X, y, validation, callbacks, loggers), predict(X),
save(folder), load(folder). LightningEstimator imports torch and Lightning only when it fits or
loads, so members that never use them never pay for the import."""
import json

import numpy as np
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from pipelines.core.context import current
from pipelines.core.files import write_json
from pipelines.core.logs import logged_epochs
from pipelines.core.persist import load_object, save_object
from pipelines.training import gbdt


class LightningEstimator:
    """Builds `module_class.build(X, y, total_steps, **module_params)` at each fit and trains it
    with a Trainer; `history_` holds the per-epoch metrics its CSV logger wrote. `threads` caps
    torch's CPU threads (small tabular models: see SklearnEstimator on why one is robust).
    `precision`: the module class's own (`training_precision = "32-true"` for tabular models and heads), else
    mixed where the hardware has it (pipelines.training.trainer.mixed_precision), for training and prediction.
    `sized(rows)` chooses settings by the number of training rows (a member's defaults for a few
    thousand images are not those for fifty thousand); `settings_` records what the fit used.
    The engine gives it loggers and callbacks (it is `lightning`), which other models never see."""

    checkpoint = "model.ckpt"
    lightning = True

    def __init__(self, module_class, module_params, batch_size=256, max_epochs=80,
                 datamodule_class=None, datamodule_params=None, threads=None, precision=None, sized=None):
        self.module_class = module_class
        self.module_params = module_params
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.datamodule_class = datamodule_class
        self.datamodule_params = datamodule_params or {}
        self.threads = threads
        self.precision = precision or getattr(module_class, "training_precision", None)
        self.sized = sized  # rows -> {"batch_size", "max_epochs", "module_params"}: settings by the fold's size

    def _datamodule_class(self):
        from pipelines.training.datamodules import ArrayDataModule

        return self.datamodule_class or ArrayDataModule

    def fit(self, X, y, validation=None, callbacks=(), loggers=()):
        from pipelines.training.trainer import EpochSeconds, make_trainer, torch_threads

        X_valid, y_valid = validation if validation is not None else (None, None)
        settings = {"batch_size": self.batch_size, "max_epochs": self.max_epochs, "module_params": {}}
        settings.update(self.sized(len(X)) if self.sized else {})
        self.settings_ = {"batch_size": settings["batch_size"], "max_epochs": settings["max_epochs"],
                          **settings["module_params"]}
        # a fold smaller than a batch trains on what there is (whole batches only would train no step)
        batch_size = min(settings["batch_size"], len(X))
        data = self._datamodule_class()(X, y, X_valid, y_valid, batch_size=batch_size, **self.datamodule_params)
        total_steps = settings["max_epochs"] * len(data.train_dataloader())
        with torch_threads(self.threads or current().threads):
            self.module_ = self.module_class.build(X, y, total_steps=total_steps,
                                                   **{**self.module_params, **settings["module_params"]})
            self.trainer_ = make_trainer(settings["max_epochs"], callbacks=[EpochSeconds(), *callbacks],
                                         loggers=loggers, precision=self.precision)
            self.trainer_.fit(self.module_, datamodule=data)
        csv = [logger for logger in loggers if type(logger).__name__ == "CSVLogger"]
        self.history_ = logged_epochs(f"{csv[0].log_dir}/metrics.csv") if csv else []
        return self

    def predict(self, X):
        import torch

        from pipelines.training.trainer import make_trainer, torch_threads

        trainer = make_trainer(1, progress=False, precision=self.precision)
        options = {"batch_size": self.datamodule_params.get("eval_batch_size"),
                   "pad": self.datamodule_params.get("static_batches")}  # a compiled network: one shape
        loader = self._datamodule_class().predict_loader(X, **{k: v for k, v in options.items() if v})
        with torch_threads(self.threads or current().threads):
            batches = trainer.predict(self.module_, loader)
        return torch.cat(batches)[:len(X)].float().cpu().numpy().astype(np.float64)

    def save(self, folder):
        from pipelines.core.persist import save_checkpoint

        save_checkpoint(self.trainer_, folder / self.checkpoint)
        self.trainer_ = None  # it holds the fold's data loaders

    def load(self, folder):
        from pipelines.core.persist import load_checkpoint

        self.module_ = load_checkpoint(self.module_class, folder / self.checkpoint)
        return self


class SklearnEstimator:
    """A scikit-learn-style regressor or classifier (scikit-learn, LightGBM, XGBoost, CatBoost)
    behind the same fit/predict as LightningEstimator; the validation rows, callbacks and loggers
    are not used.

    Classifiers (n_classes > 0) are fitted on the classes their fold has, renumbered 0..k-1
    (XGBoost insists), and predict probabilities over all n_classes in the engine's order.
    Fit and predict run under `threads` OpenMP/BLAS threads: many small parallel regions (as in
    HistGradientBoosting) slow down severalfold when another process holds a core, and these
    tables are too small to gain from more."""

    file = "model.skops"

    def __init__(self, estimator, n_classes=0, threads=1, fit_params=None, early_stop=None, log_target=False):
        self.estimator = estimator
        self.n_classes = n_classes
        self.threads = threads
        self.fit_params = fit_params
        self.early_stop = early_stop
        self.log_target = log_target  # a regressor learning log1p(y) (when y >= 0), predicting back through expm1
        self.time_budget = None  # seconds a GBDT may boost for (a run's --time-limit sets it)

    def fit(self, X, y, validation=None, callbacks=(), loggers=()):
        """`early_stop` (pipelines.training.gbdt.EarlyStop, for GBDT models): the rounds are chosen on an inner
        split of these training rows and kept in `rounds_` (the run records them, and in `kept_`
        whether the model retrained on every row or the stopped one was kept); `time_budget`: boosting also
        stops when that many seconds have passed."""
        estimator = clone(self.estimator)
        self.classes_ = np.unique(y).astype(int) if self.n_classes else None
        target = np.searchsorted(self.classes_, y) if self.n_classes else y
        self.logged_ = bool(self.log_target and not self.n_classes and np.min(y) >= 0)
        target = np.log1p(target) if self.logged_ else target
        with threadpool_limits(self.threads):
            if gbdt.library(estimator) and (self.early_stop is not None or self.time_budget):
                self.estimator_, self.rounds_, self.kept_ = gbdt.fit_stopped(
                    estimator, X, target, self.early_stop, bool(self.n_classes), self.time_budget)
            else:
                self.estimator_ = estimator.fit(X, target, **(self.fit_params or {}))
        return self

    def predict(self, X):
        with threadpool_limits(self.threads):
            if not self.n_classes:
                predictions = np.asarray(self.estimator_.predict(X), dtype=np.float64)
                return np.expm1(predictions) if getattr(self, "logged_", False) else predictions
            probabilities = np.asarray(self.estimator_.predict_proba(X), dtype=np.float64)
        full = np.zeros((len(probabilities), self.n_classes))
        full[:, self.classes_] = probabilities
        return full

    def save(self, folder):
        """LightGBM, XGBoost and CatBoost models in their own formats (pipelines/training/gbdt.py), the rest as skops."""
        if gbdt.library(self.estimator_):
            gbdt.save(self.estimator_, folder)
            write_json(folder / "model.json", {"classes": None if self.classes_ is None else self.classes_.tolist(),
                                               "logged": self.logged_})
        else:
            save_object({"estimator": self.estimator_, "classes": self.classes_, "logged": self.logged_},
                        folder / self.file)

    def load(self, folder):
        if gbdt.library(self.estimator):
            self.estimator_ = gbdt.load(self.estimator, folder)
            state = json.loads((folder / "model.json").read_text())
            self.classes_ = None if state["classes"] is None else np.asarray(state["classes"], dtype=int)
        else:
            state = load_object(folder / self.file)
            self.estimator_, self.classes_ = state["estimator"], state["classes"]
        self.logged_ = state.get("logged", False)
        return self


class PerTarget:
    """One estimator per target column, for several numbers or several binary labels a row: each fitted
    on its column, the predictions (n, T) the numbers, or (`positive`) each label's positive probability.
    Each model is saved in a folder of its own (target-0, target-1, ...); a time budget is shared
    evenly between them."""

    def __init__(self, estimators, positive=False):
        self.estimators, self.positive = list(estimators), positive
        self.lightning = any(getattr(estimator, "lightning", False) for estimator in self.estimators)

    @property
    def time_budget(self):
        return getattr(self.estimators[0], "time_budget", None)

    @time_budget.setter
    def time_budget(self, seconds):
        for estimator in self.estimators:
            if hasattr(estimator, "time_budget"):
                estimator.time_budget = None if seconds is None else seconds / len(self.estimators)

    def fit(self, X, y, validation=None, callbacks=(), loggers=()):
        extra = {"callbacks": callbacks, "loggers": loggers} if self.lightning else {}
        for column, estimator in enumerate(self.estimators):
            held = None if validation is None else (validation[0], np.asarray(validation[1])[:, column])
            estimator.fit(X, np.asarray(y)[:, column], validation=held, **extra)
        self.history_ = getattr(self.estimators[0], "history_", [])
        return self

    def predict(self, X):
        columns = [np.asarray(estimator.predict(X)) for estimator in self.estimators]
        return np.column_stack([column[:, 1] if self.positive else column for column in columns])

    def save(self, folder):
        for column, estimator in enumerate(self.estimators):
            (folder / f"target-{column}").mkdir(parents=True, exist_ok=True)
            estimator.save(folder / f"target-{column}")

    def load(self, folder):
        for column, estimator in enumerate(self.estimators):
            estimator.load(folder / f"target-{column}")
        return self
