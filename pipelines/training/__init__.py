"""Training one model: the Lightning Trainer and its callbacks, data modules, batch augmentation,
the estimators members wrap their models in (Lightning, scikit-learn and GBDT), pruning, models/.

May import: pipelines.core.
"""
