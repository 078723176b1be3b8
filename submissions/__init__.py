"""Building, validating and writing submission files, and submitting them to Kaggle with a ledger of
what was sent (generated CSVs land here, git-ignored).

May import: pipelines.core, pipelines.kaggle, pipelines.record.
"""
