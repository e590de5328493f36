"""Options shared by several commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

__all__ = [
    "as_str",
    "city_option",
    "cluster_option",
    "network_option",
    "outputs_option",
    "store_option",
]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def store_option(help: str = "Store root (default ./store).") -> Decorator:
    """Declare ``--store DIR``, the station store root (parameter ``store``)."""
    return click.option("--store", type=click.Path(path_type=Path), default=None, help=help)


def outputs_option(help: str = "Outputs dir (default ./outputs).") -> Decorator:
    """Declare ``--outputs DIR``, where outputs are written (parameter ``outputs``)."""
    return click.option("--outputs", type=click.Path(path_type=Path), default=None, help=help)


def network_option(
    default: str | None = None,
    help: str = "Network name (configs/networks/NAME.yml) or a YAML path.",
) -> Decorator:
    """Declare ``--network NAME``: required without a ``default``, else defaulting to it."""
    if default is None:
        return click.option("--network", required=True, help=help)
    return click.option("--network", default=default, show_default=True, help=help)


def cluster_option() -> Decorator:
    """Declare ``--cluster ADDR``: where the heavy steps run (parameter ``cluster``).

    ``single``, ``local`` (a Dask ``LocalCluster``) or ``tcp://host:8786``; default by network
    size (``engine.min_stations`` of ``configs/schedules.yml``) and ``$QINGYUAN_DASK_SCHEDULER``.
    """
    return click.option(
        "--cluster",
        default=None,
        callback=_check_cluster,
        help="single | local | tcp://host:8786 (default: by network size, configs/schedules.yml "
        "engine; $QINGYUAN_DASK_SCHEDULER).",
    )


def _check_cluster(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a ``--cluster`` that is neither a mode nor a ``scheme://host:port`` address."""
    if value is None or value in ("single", "local"):
        return value
    scheme, sep, rest = value.partition("://")
    host, colon, port = rest.rpartition(":")
    if not (sep and scheme and host and colon and port.isdigit()):
        raise click.BadParameter(
            f"{value!r}: expected single, local or an address such as tcp://host:8786"
        )
    return value


def city_option(default: str = "beijing") -> Decorator:
    """Declare ``--city NAME``, a warning file ``configs/warnings/<city>.yml``."""
    return click.option(
        "--city", default=default, show_default=True, help="configs/warnings/<city>.yml"
    )


def as_str(value: Path | None) -> str | None:
    """Return a path option as the ``str | None`` the flows take."""
    return str(value) if value else None
