"""UCI / PRSA air-quality CSV files (e.g. the Beijing multi-site data set, UCI 501).

Layout: ``No,year,month,day,hour,<pollutants and weather>,station`` with ``NA`` for missing values;
one file per station. Columns are mapped to variables in the network YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.config import NetworkSpec, SourceSpec
from pipelines.sources.base import RawBatch
from pipelines.sources.tabular import TableLayout, read_source_files

__all__ = ["OPTIONS", "read", "validate_options"]

#: Options of a source block beyond the common ones (``files``, ``encoding``, ``missing_values``,
#: ``columns``); any other key is refused at load with the nearest name.
OPTIONS: frozenset[str] = frozenset({"delimiter", "station", "station_column", "time_columns"})


def _layout(source: SourceSpec) -> TableLayout:
    return TableLayout(
        time_columns=source.option("time_columns", ["year", "month", "day", "hour"]),
        time_parts=True,
        station_column=source.option("station_column", "station"),
        station=source.option("station"),
        ignore_columns=["No"],
    )


def read(source: SourceSpec, network: NetworkSpec) -> RawBatch:
    """Read every file of the source into a :class:`RawBatch`."""
    return read_source_files(source, network, _layout(source))


def validate_options(source: SourceSpec, path: Path, node: Any) -> None:
    """Nothing beyond the common options is required."""
