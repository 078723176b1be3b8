"""The commands users run (`python -m pipelines.run|predict|tune|blend|runs|package|download|submit`)
and the public modules competition files import (tabular, image, competition, params, estimator,
members, metrics, splits, data, errors: each a path that stays, re-exporting its subpackage's code).

Everything else lives in a subpackage named for its part, each importing only those below it:
core < competitions (the registry) < training < features < kaggle < record < submissions < engine
< recipes (features, submissions and competitions are top-level packages of their own). Each subpackage's docstring ends
with what it may import; tests/test_layout.py holds them to it.
"""
