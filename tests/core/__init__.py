"""Tests of the code in pipelines/core/."""
