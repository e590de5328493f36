"""UCI / PRSA air-quality CSV files (e.g. the Beijing multi-site data set, UCI 501).

Layout: ``No,year,month,day,hour,<pollutants and weather>,station`` with ``NA`` for missing values;
one file per station. Columns are mapped to variables in the network YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.config import NetworkSpec, SourceSpec, resolve_files
from pipelines.errors import SourceError
from pipelines.sources.base import RawBatch
from pipelines.sources.tabular import TableLayout, batch_from_tables
from pipelines.sources.text import read_delimited

__all__ = ["read", "validate_options"]


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
    files = resolve_files(source.files, network.path)
    if not files:
        raise SourceError(", ".join(source.files), "no file matches the pattern(s)")
    return batch_from_tables(
        files, source, _layout(source), lambda p: read_delimited(p, source.encoding, ",")
    )


def validate_options(source: SourceSpec, path: Path, node: Any) -> None:
    """Nothing beyond the common options is required."""
