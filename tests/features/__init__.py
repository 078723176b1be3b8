"""Tests of the code in features/."""
