"""features/tracing."""
