"""Public: what competition files import from here lives in pipelines/recipes/tabular.py; this path stays."""
from pipelines.recipes.tabular import *  # noqa: F401,F403
