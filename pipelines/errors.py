"""Public: what competition files import from here lives in pipelines/core/errors.py; this path stays."""
from pipelines.core.errors import *  # noqa: F401,F403
