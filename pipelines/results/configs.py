"""Configuration the readers need, loaded through :mod:`pipelines.config` and memoised.

Networks, the variable registry, QC settings, AQI and water standards and the warning cities
are loaded with the project's own loaders; each load is kept in the results cache keyed on the
YAML files it came from, so that a changed configuration file is picked up on the next read.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from features.aqi import AqiStandard
from features.water_class import WaterStandard
from pipelines.config import (
    NetworkSpec,
    aqi_standards,
    list_networks,
    load_network,
    load_qc,
    load_variables,
    water_standard,
)
from pipelines.config.locations import config_dir
from pipelines.config.yaml_io import load_yaml
from pipelines.errors import ConfigError
from pipelines.results.cache import memo
from pipelines.results.workspace import unknown

__all__ = [
    "aqi_family",
    "network",
    "network_file",
    "network_names",
    "qc_settings",
    "registry",
    "warning_cities",
    "warning_files",
    "water_std",
]

_log = logging.getLogger(__name__)


def network_names() -> list[str]:
    """Names of the configured networks (``configs/networks/*.yml``)."""
    return list_networks()


def network_file(name: str) -> Path:
    """Return the YAML file of a network.

    Parameters
    ----------
    name : str
        Network name.

    Returns
    -------
    pathlib.Path
        ``<config dir>/networks/<name>.yml``.
    """
    return config_dir() / "networks" / f"{name}.yml"


def network(name: str) -> NetworkSpec:
    """Return a configured network (read-only: shared with the cache).

    Parameters
    ----------
    name : str
        Network name.

    Returns
    -------
    NetworkSpec
        The loaded network.

    Raises
    ------
    NotFound
        For a name that is not a configured network.
    """
    names = network_names()
    if name not in names:
        # the hint leaves out source networks: their names are enterprise data (access.yml)
        public = [n for n in names if _kind(n) != "source"]
        raise unknown("network", name, known=public)
    path = network_file(name)
    return memo(
        "network",
        name,
        files=[path, config_dir() / "variables.yml"],
        compute=lambda: load_network(name),
    ).data


def _kind(name: str) -> str:
    try:
        return str(load_yaml(network_file(name)).get("kind", ""))
    except Exception:  # noqa: BLE001 - an unreadable file is reported where it is loaded
        return ""


def registry() -> dict[str, Any]:
    """Return the variable registry (``configs/variables.yml``)."""
    return load_variables()


def qc_settings(net: NetworkSpec) -> dict[str, Any]:
    """Return the merged QC settings of a network (:func:`pipelines.config.load_qc`).

    Parameters
    ----------
    net : NetworkSpec
        The network.

    Returns
    -------
    dict
        ``configs/qc.yml`` with the network's ``qc:`` block merged (read-only: cached).
    """
    files = [config_dir() / "qc.yml", network_file(net.name)]
    return memo("qc", net.name, files=files, compute=lambda: load_qc(net)).data


def _standard_files() -> list[Path]:
    return sorted((config_dir() / "standards").glob("*.yml"))


def aqi_family(family: str = "hj633") -> list[AqiStandard]:
    """Return the editions of an AQI family, oldest first (:func:`pipelines.config.aqi_standards`).

    Parameters
    ----------
    family : str
        ``hj633`` or ``us-epa``.

    Returns
    -------
    list of AqiStandard
        The editions (read-only: cached).
    """
    return memo("aqi", family, files=_standard_files(), compute=lambda: aqi_standards(family)).data


def water_std(name: str = "gb3838-2002") -> WaterStandard:
    """Return the surface-water class standard (:func:`pipelines.config.water_standard`).

    Parameters
    ----------
    name : str
        The standard.

    Returns
    -------
    WaterStandard
        The class limits (read-only: cached).
    """
    return memo(
        "water_standard", name, files=_standard_files(), compute=lambda: water_standard(name)
    ).data


def warning_files() -> list[Path]:
    """Return the warning configuration files and the network files they refer to."""
    return sorted((config_dir() / "warnings").glob("*.yml")) + sorted(
        (config_dir() / "networks").glob("*.yml")
    )


def _load_cities() -> list[tuple[str, Any, Any]]:
    from pipelines.config.warnings import list_warning_configs, load_warning_config

    out = []
    for name in list_warning_configs():
        try:
            scheme, city = load_warning_config(name)
        except ConfigError as exc:  # one broken file must not hide the others
            _log.warning("warning configuration %s not loaded: %s", name, exc)
            continue
        if city is not None:
            out.append((city.name, scheme, city))
    return out


def warning_cities() -> list[tuple[str, Any, Any]]:
    """Return ``(name, scheme, city settings)`` of every configured warning city.

    Scheme files (without a network) are left out; a file that does not load is logged and
    skipped.
    """
    return memo("warning_cities", (), files=warning_files(), compute=_load_cities).data
