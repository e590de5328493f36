"""Default locations of the flows (store, outputs, project root, configuration).

Flows served by Prefect get only the parameters of ``configs/schedules.yml``; a location they
are not given falls back to these defaults (environment variables ``QINGYUAN_*``).
"""

from __future__ import annotations

from pathlib import Path

from pipelines.config.locations import config_dir, outputs_dir, project_root, store_dir

__all__ = ["config_dir", "default_outputs", "default_store", "project_root"]


def default_store(given: str | Path | None = None) -> str:
    """Return the station store root: ``given``, else the default [path as str]."""
    return str(given) if given else str(store_dir())


def default_outputs(given: str | Path | None = None) -> str:
    """Return the outputs directory: ``given``, else the default [path as str]."""
    return str(given) if given else str(outputs_dir())
