"""Public: what competition files import from here lives in pipelines/recipes/members.py; this path stays."""
from pipelines.recipes.members import *  # noqa: F401,F403
