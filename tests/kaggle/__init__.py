"""Tests of the code in pipelines/kaggle/."""
