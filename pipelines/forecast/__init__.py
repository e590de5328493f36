"""pipelines/forecast."""
