"""Public: what competition files import from here lives in pipelines/training/estimator.py; this path stays."""
from pipelines.training.estimator import *  # noqa: F401,F403
