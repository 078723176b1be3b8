"""Public: what competition files import from here lives in pipelines/core/data.py; this path stays."""
from pipelines.core.data import *  # noqa: F401,F403
