"""Source adapters, one module per input format, looked up by name from the network YAML."""

from __future__ import annotations

from types import ModuleType

from pipelines.sources import cnemc, column_table, hj212_log, http_json, ndfa_sonde, prsa_csv

__all__ = ["ADAPTERS", "register_adapter"]

#: Adapter name (``sources[].adapter`` in a network YAML) -> module with ``read`` and
#: ``validate_options``.
ADAPTERS: dict[str, ModuleType] = {
    "cnemc": cnemc,
    "column_table": column_table,
    "hj212_log": hj212_log,
    "http_json": http_json,
    "ndfa_sonde": ndfa_sonde,
    "prsa_csv": prsa_csv,
}


def register_adapter(name: str, module: ModuleType) -> None:
    """Add an adapter module (with ``read`` and ``validate_options``) under ``name``."""
    if not (hasattr(module, "read") and hasattr(module, "validate_options")):
        raise TypeError("an adapter module needs read() and validate_options()")
    ADAPTERS[name] = module
