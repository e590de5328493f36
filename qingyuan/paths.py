"""Where the project's configuration, bundled data, store and outputs live.

Every location can be overridden by an environment variable so that a deployment can keep its
configuration and data outside the source tree:

- ``QINGYUAN_HOME``: project root (default: the checkout this package was installed from)
- ``QINGYUAN_CONFIG``: configuration directory (default: ``$QINGYUAN_HOME/configs``)
- ``QINGYUAN_STORE``: station store root (default: ``$QINGYUAN_HOME/store``)
- ``QINGYUAN_OUTPUTS``: outputs directory (default: ``$QINGYUAN_HOME/outputs``)

The resolution lives in :mod:`pipelines.config.locations` (so that ``pipelines`` needs nothing
from the application package); this module is the application's name for it.
"""

from __future__ import annotations

from pipelines.config.locations import config_dir, outputs_dir, project_root, store_dir

__all__ = ["config_dir", "outputs_dir", "project_root", "store_dir"]
