"""Public: what competition files import from here lives in pipelines/engine/metrics.py; this path stays."""
from pipelines.engine.metrics import *  # noqa: F401,F403
