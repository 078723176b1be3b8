"""Engine: command-line entry points, data location, cross-validation, Lightning glue."""
