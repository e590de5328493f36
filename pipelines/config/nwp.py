"""``configs/nwp.yml``: NWP parameters (GRIB shortName, CF standard_name) -> registry variables.

The mapping is data, not code: each parameter names its registry variable, the units it is
delivered in and whether it is accumulated from the run start. Validated on load (unknown
variable or units that cannot reach the registry's -> :class:`~pipelines.errors.ConfigError`
naming file, line and field).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from features.nwp import convert_nwp_units
from features.units import UnitError
from pipelines.config.locations import config_dir
from pipelines.config.registry import load_variables
from pipelines.config.yaml_io import load_validated
from pipelines.errors import ConfigError

__all__ = [
    "NwpMapping",
    "NwpParameter",
    "load_nwp_mapping",
    "nwp_mapping_file",
    "validate_nwp_file",
]


class NwpParameter(BaseModel):
    """One NWP parameter and the registry variable it becomes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    variable: str
    units: str
    accumulated: bool = False


class NwpMapping(BaseModel):
    """``configs/nwp.yml``."""

    model_config = ConfigDict(extra="forbid")
    grib: dict[str, NwpParameter] = Field(default_factory=dict)
    netcdf: dict[str, NwpParameter] = Field(default_factory=dict)


def nwp_mapping_file() -> Path:
    """Path of ``configs/nwp.yml`` in the configuration directory."""
    return config_dir() / "nwp.yml"


def _check(mapping: NwpMapping, data: dict, path: Path) -> None:
    registry = load_variables()["variables"]
    for section in ("grib", "netcdf"):
        for key, param in getattr(mapping, section).items():
            line = data[section].lines.get(key) if section in data else None
            field = f"{section}.{key}"
            if param.variable not in registry:
                raise ConfigError(
                    str(path),
                    line,
                    field + ".variable",
                    f"unknown variable {param.variable!r} (see configs/variables.yml)",
                )
            try:
                convert_nwp_units(np.array([1.0]), param.units, registry[param.variable]["units"])
            except UnitError as exc:
                raise ConfigError(str(path), line, field + ".units", str(exc)) from exc


@lru_cache(maxsize=4)
def _load(path: str) -> NwpMapping:
    mapping, data = load_validated(NwpMapping, Path(path))
    _check(mapping, data, Path(path))
    return mapping


def load_nwp_mapping(path: Path | str | None = None) -> NwpMapping:
    """Load and validate the NWP parameter mapping.

    Parameters
    ----------
    path : pathlib.Path or str, optional
        The file (default: ``configs/nwp.yml`` of the configuration directory).

    Raises
    ------
    ConfigError
        Naming file, line and field of the first problem.
    """
    return _load(str(Path(path) if path else nwp_mapping_file()))


def validate_nwp_file(path: Path) -> str:
    """Validate ``nwp.yml`` for ``qingyuan validate``; return a one-line summary."""
    mapping, data = load_validated(NwpMapping, Path(path))
    _check(mapping, data, Path(path))
    return f"NWP mapping: {len(mapping.grib)} GRIB shortNames, {len(mapping.netcdf)} CF names"
