"""models/pmf."""
