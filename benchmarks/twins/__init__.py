"""benchmarks/twins."""
