"""Public: what competition files import from here lives in pipelines/engine/splits.py; this path stays."""
from pipelines.engine.splits import *  # noqa: F401,F403
