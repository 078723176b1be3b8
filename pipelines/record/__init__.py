"""The run record: a run folder (config, status, fold models and predictions, the code it ran with),
and what a later command needs from it to predict, resume or refuse.

May import: pipelines.core.
"""
