"""Where the project's configuration, bundled data, store and outputs live.

Every location can be overridden by an environment variable so that a deployment can keep its
configuration and data outside the source tree:

- ``QINGYUAN_HOME``: project root (default: the checkout this package was installed from)
- ``QINGYUAN_CONFIG``: configuration directory (default: ``$QINGYUAN_HOME/configs``)
- ``QINGYUAN_STORE``: station store root (default: ``$QINGYUAN_HOME/store``)
- ``QINGYUAN_OUTPUTS``: outputs directory (default: ``$QINGYUAN_HOME/outputs``)
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["config_dir", "outputs_dir", "project_root", "store_dir"]


def project_root() -> Path:
    """Return the project root directory."""
    env = os.environ.get("QINGYUAN_HOME")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parent.parent


def config_dir() -> Path:
    """Return the configuration directory."""
    env = os.environ.get("QINGYUAN_CONFIG")
    return Path(env).resolve() if env else project_root() / "configs"


def store_dir() -> Path:
    """Return the root of the station store."""
    env = os.environ.get("QINGYUAN_STORE")
    return Path(env).resolve() if env else project_root() / "store"


def outputs_dir() -> Path:
    """Return the directory where run outputs are written."""
    env = os.environ.get("QINGYUAN_OUTPUTS")
    return Path(env).resolve() if env else project_root() / "outputs"
