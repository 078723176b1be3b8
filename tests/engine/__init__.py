"""Tests of the code in pipelines/engine/."""
