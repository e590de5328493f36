"""Where the configuration, bundled data, store and outputs live, and the code version.

Every location can be overridden by an environment variable so that a deployment can keep its
configuration and data outside the source tree:

- ``QINGYUAN_HOME``: project root (default: the checkout ``pipelines`` was installed from)
- ``QINGYUAN_CONFIG``: configuration directory (default: ``$QINGYUAN_HOME/configs``)
- ``QINGYUAN_STORE``: station store root (default: ``$QINGYUAN_HOME/store``)
- ``QINGYUAN_OUTPUTS``: outputs directory (default: ``$QINGYUAN_HOME/outputs``)

The application package (``qingyuan.paths``) re-exports these, so that nothing below it has to
import the application.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

__all__ = ["code_version", "config_dir", "outputs_dir", "project_root", "store_dir"]

_CHECKOUT = Path(__file__).resolve().parents[2]  # <root>/pipelines/config/locations.py


def project_root() -> Path:
    """Return the project root directory (``$QINGYUAN_HOME``, else the checkout)."""
    env = os.environ.get("QINGYUAN_HOME")
    if env:
        return Path(env).resolve()
    return _CHECKOUT


def config_dir() -> Path:
    """Return the configuration directory (``$QINGYUAN_CONFIG``, else ``<root>/configs``)."""
    env = os.environ.get("QINGYUAN_CONFIG")
    return Path(env).resolve() if env else project_root() / "configs"


def store_dir() -> Path:
    """Return the root of the station store (``$QINGYUAN_STORE``, else ``<root>/store``)."""
    env = os.environ.get("QINGYUAN_STORE")
    return Path(env).resolve() if env else project_root() / "store"


def outputs_dir() -> Path:
    """Return the run outputs directory (``$QINGYUAN_OUTPUTS``, else ``<root>/outputs``)."""
    env = os.environ.get("QINGYUAN_OUTPUTS")
    return Path(env).resolve() if env else project_root() / "outputs"


def code_version() -> str:
    """Version of the installed ``qingyuan`` distribution, for provenance attributes.

    Returns ``"unknown"`` when the distribution is not installed (a bare source tree).
    """
    try:
        return importlib.metadata.version("qingyuan")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
