"""Alembic migrations of the warning lifecycle database (:mod:`pipelines.warnings.db`)."""
