"""Generic column-mapped CSV or Excel files: any layout described entirely in the network YAML.

Options (all in the source block of the network YAML):

- ``time_column`` or ``time_columns`` (a list joined with a space, or year/month/day/hour parts
  with ``time_parts: true``), ``time_format`` (strftime; default ISO 8601, offsets honoured);
- one of ``station_column``, ``station`` (fixed) or ``station_from_filename`` (regex with a
  ``station`` group);
- ``delimiter`` (default ``,``), ``strip_chars``, ``thousands``, ``decimal``;
- ``sheet`` for ``.xlsx`` files (default: the first sheet);
- ``columns``: source column -> ``{variable, units, value_map?, flag_column?}``;
- wide tables (one column per station): ``station_columns`` (column -> station id, or a list of
  columns named by their station ids) and ``value_column`` (default ``value``): every station
  column becomes one row per time of that station, whose value is read as the ``columns``
  entry ``value_column``; the other mapped columns (e.g. the city's weather) go with every
  station. Row accounting counts station-times (a line of S stations is S rows).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipelines.config import NetworkSpec, SourceSpec
from pipelines.errors import ConfigError, QuarantineRecord, SourceError
from pipelines.sources.base import RawBatch
from pipelines.sources.tabular import TableLayout, read_source_files
from pipelines.sources.text import read_delimited

__all__ = ["OPTIONS", "melt_wide", "read", "read_excel_rows", "validate_options"]

#: Options of a source block beyond the common ones (``files``, ``encoding``, ``missing_values``,
#: ``columns``); any other key is refused at load with the nearest name.
OPTIONS: frozenset[str] = frozenset(
    {
        "decimal",
        "delimiter",
        "ignore_columns",
        "sheet",
        "station",
        "station_column",
        "station_from_filename",
        "strip_chars",
        "thousands",
        "time_column",
        "time_columns",
        "time_format",
        "time_parts",
        "station_columns",
        "value_column",
    }
)

#: The station column of a melted wide table (not a name a file would use).
_WIDE_STATION = "\x00station"


def _wide(source: SourceSpec) -> dict[str, str] | None:
    cols = source.option("station_columns")
    if cols is None:
        return None
    return (
        {str(c): str(c) for c in cols}
        if isinstance(cols, list)
        else {str(k): str(v) for k, v in cols.items()}
    )


def melt_wide(
    header: list[str],
    rows: list[tuple[int, list[str]]],
    stations: dict[str, str],
    value_column: str,
    *,
    strip_chars: str = "",
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Turn a wide table (one column per station) into long rows: other columns, station, value.

    Station columns absent from the header are skipped (a file may hold some stations only).
    """
    names = [h.strip().strip(strip_chars) for h in header]
    at = [(names.index(c), sid) for c, sid in stations.items() if c in names]
    keep = [i for i, n in enumerate(names) if n not in stations]
    long_header = [names[i] for i in keep] + [_WIDE_STATION, value_column]
    long_rows = [
        (n, [cells[i] for i in keep] + [sid, cells[j]]) for n, cells in rows for j, sid in at
    ]
    return long_header, long_rows


def _layout(source: SourceSpec) -> TableLayout:
    cols = source.option("time_columns") or [source.option("time_column")]
    return TableLayout(
        time_columns=list(cols),
        time_parts=bool(source.option("time_parts", False)),
        time_format=source.option("time_format"),
        station_column=_WIDE_STATION if _wide(source) else source.option("station_column"),
        station=source.option("station"),
        station_from_filename=source.option("station_from_filename"),
        strip_chars=source.option("strip_chars", ""),
        thousands=source.option("thousands"),
        decimal=source.option("decimal", "."),
        ignore_columns=list(source.option("ignore_columns", [])),
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


def read_excel_rows(
    path: Path, sheet: str | None = None
) -> tuple[list[str], list[tuple[int, list[str]]], list[QuarantineRecord], int]:
    """Rows of an ``.xlsx`` sheet as strings with their spreadsheet row numbers.

    Raises
    ------
    SourceError
        If the workbook cannot be opened, the sheet is missing or the sheet is empty.
    """
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise SourceError(str(path), f"cannot open workbook: {exc}") from exc
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
    except (KeyError, IndexError) as exc:  # IndexError: a (damaged) workbook of no sheets
        raise SourceError(str(path), f"no sheet {sheet!r}; sheets: {wb.sheetnames}") from exc
    rows, quarantine, n_in = [], [], 0
    try:  # read-only sheets are parsed while iterating: damaged XML fails here
        it = ws.iter_rows(values_only=True)
        header_row = next(it, None)
        if header_row is None:
            raise SourceError(str(path), "file is empty")
        header = [_cell(h) for h in header_row]
        for n, row in enumerate(it, start=2):
            cells = [_cell(c) for c in row]
            if not any(c.strip() for c in cells):
                continue
            n_in += 1
            if len(cells) != len(header):
                quarantine.append(
                    QuarantineRecord(
                        str(path), n, "", f"expected {len(header)} cells, got {len(cells)}"
                    )
                )
                continue
            rows.append((n, cells))
    except SourceError:
        raise
    except Exception as exc:  # openpyxl, zipfile and the XML parser raise many types
        raise SourceError(str(path), f"cannot read sheet {ws.title!r}: {exc}") from exc
    finally:
        wb.close()
    return header, rows, quarantine, n_in


def read(source: SourceSpec, network: NetworkSpec) -> RawBatch:
    """Read every file of the source into a :class:`RawBatch`."""
    delimiter = source.option("delimiter", ",")
    sheet = source.option("sheet")

    wide = _wide(source)
    value_column = str(source.option("value_column", "value"))

    def read_file(p: Path):
        if p.suffix.lower() in (".xlsx", ".xlsm"):
            header, rows, bad, n = read_excel_rows(p, sheet)
        else:
            header, rows, bad, n = read_delimited(p, source.encoding, delimiter)
        if wide is None:
            return header, rows, bad, n
        long_header, long_rows = melt_wide(
            header, rows, wide, value_column, strip_chars=source.option("strip_chars", "")
        )
        # accounting in station-times: each good line is one row per station column present
        return long_header, long_rows, bad, len(long_rows) + len(bad)

    return read_source_files(source, network, _layout(source), read_file)


def validate_options(source: SourceSpec, path: Path, node: Any) -> None:
    """Require a time column and a way to find the station."""
    line = getattr(node, "line", None)
    if not (source.option("time_column") or source.option("time_columns")):
        raise ConfigError(
            str(path), line, "sources.time_column", "required by the column_table adapter"
        )
    wide = source.option("station_columns")
    if wide is not None:
        if any(source.option(k) for k in ("station_column", "station", "station_from_filename")):
            raise ConfigError(
                str(path),
                line,
                "sources.station_columns",
                "a wide table names its stations by column: drop station_column / station / "
                "station_from_filename",
            )
        if not wide or not isinstance(wide, list | dict):
            raise ConfigError(
                str(path),
                line,
                "sources.station_columns",
                "a mapping column -> station id, or a list",
            )
        value_column = str(source.option("value_column", "value"))
        if value_column not in source.columns:
            raise ConfigError(
                str(path),
                line,
                f"sources.columns.{value_column}",
                f"a wide table needs a columns entry {value_column!r} (variable and units of the "
                "station columns)",
            )
        return
    if not any(source.option(k) for k in ("station_column", "station", "station_from_filename")):
        raise ConfigError(
            str(path),
            line,
            "sources.station_column",
            "one of station_column, station or station_from_filename is required",
        )
