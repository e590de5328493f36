"""Forecasters (``models.forecast``), PMF source apportionment (``models.pmf``), MLflow glue.

Forecasters registered in MLflow before the restructure of issue #11 were pickled under their old
module names (``models.lgbm``, ``models.pyfunc``, ...). Those names stay importable as aliases of
the new modules, so that an existing champion still loads.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

_LEGACY = {
    f"models.{name}": f"models.forecast.{name}"
    for name in (
        "backtest",
        "base",
        "baselines",
        "calibration",
        "daily",
        "drivers",
        "generic",
        "lgbm",
        "metrics",
        "pyfunc",
        "stgnn",
    )
}


class _LegacyAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import ``models.<old>`` as the module now at ``models.forecast.<old>``."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: D102
        if fullname in _LEGACY:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):  # noqa: D102
        module = importlib.import_module(_LEGACY[spec.name])
        sys.modules[spec.name] = module
        return module

    def exec_module(self, module):  # noqa: D102
        return None


if not any(isinstance(f, _LegacyAlias) for f in sys.meta_path):
    sys.meta_path.append(_LegacyAlias())
