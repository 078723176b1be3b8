"""Public: what competition files import from here lives in pipelines/engine/params.py; this path stays."""
from pipelines.engine.params import *  # noqa: F401,F403
