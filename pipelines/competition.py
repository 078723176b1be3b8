"""Public: what competition files import from here lives in pipelines/engine/competition.py; this path stays."""
from pipelines.engine.competition import *  # noqa: F401,F403
