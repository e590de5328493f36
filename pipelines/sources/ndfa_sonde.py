"""Continuous water-quality sonde CSV files as exported by California DWR / USGS for NDFA.

One file per station (station taken from the file name), ``Date`` as ``M/D/YYYY H:MM``; USGS
exports are Latin-1 with non-breaking spaces after every value and thousands separators, which
the network YAML declares with ``encoding``, ``strip_chars`` and ``thousands``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.config import NetworkSpec, SourceSpec
from pipelines.sources.base import RawBatch, require_options
from pipelines.sources.tabular import TableLayout, read_source_files

__all__ = ["OPTIONS", "read", "validate_options"]

#: Options of a source block beyond the common ones (``files``, ``encoding``, ``missing_values``,
#: ``columns``); any other key is refused at load with the nearest name.
OPTIONS: frozenset[str] = frozenset(
    {
        "delimiter",
        "ignore_columns",
        "station",
        "station_column",
        "station_from_filename",
        "strip_chars",
        "thousands",
        "time_column",
        "time_format",
    }
)


def _layout(source: SourceSpec) -> TableLayout:
    return TableLayout(
        time_columns=[source.option("time_column", "Date")],
        time_format=source.option("time_format", "%m/%d/%Y %H:%M"),
        station_column=source.option("station_column"),
        station=source.option("station"),
        station_from_filename=source.option("station_from_filename"),
        strip_chars=source.option("strip_chars", ""),
        thousands=source.option("thousands"),
        ignore_columns=list(source.option("ignore_columns", [])),
    )


def read(source: SourceSpec, network: NetworkSpec) -> RawBatch:
    """Read every file of the source into a :class:`RawBatch`."""
    return read_source_files(source, network, _layout(source))


def validate_options(source: SourceSpec, path: Path, node: Any) -> None:
    """Require the station to come from the file name, a column or a fixed value."""
    if not any(source.option(k) for k in ("station_from_filename", "station_column", "station")):
        require_options(source, path, node, ["station_from_filename"], "sources")
