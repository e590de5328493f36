"""pipelines/tracing."""
