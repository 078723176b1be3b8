"""Tests of the code in pipelines/recipes/."""
