"""Recipes a competition file declares in a few lines (tabular, image) and the members they choose
from, each declaring its parameters, ranges and search space in one place.

May import: pipelines.core, pipelines.training, features, pipelines.engine, submissions.
"""
