"""Alembic revisions of the warning lifecycle database."""
