"""Tests of the code in pipelines/record/."""
