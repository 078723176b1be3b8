"""LightningModules: a model and its optimisation."""
