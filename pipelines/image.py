"""Public: what competition files import from here lives in pipelines/recipes/image.py; this path stays."""
from pipelines.recipes.image import *  # noqa: F401,F403
