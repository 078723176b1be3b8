"""Tests of the code in submissions/."""
