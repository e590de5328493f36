"""Revisions of the application database, oldest first (``0001_initial``: the first schema)."""
