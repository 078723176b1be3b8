"""Tests of the code in pipelines/training/."""
