"""features/warnings."""
