"""Kaggle: its API client (imported lazily: it authenticates at import), a competition's files
downloaded and verified, the notebook image's packages, and the offline rehearsal of a package.

May import: pipelines.core, features.
"""
