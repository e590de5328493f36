"""pipelines/warnings."""
