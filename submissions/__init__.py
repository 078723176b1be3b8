"""Building, validating and writing submission files (generated CSVs land here, git-ignored)."""
