"""The cross-validation engine: the Competition contract, parameters, metrics, splits, a fold as a
task, the workers that run tasks (here, local processes, Dask), blending, Optuna studies, a run's
outputs. It finds competitions by name (the `competitions` registry) and never names one.

May import: pipelines.core, pipelines.training, pipelines.record, submissions, competitions.
"""
