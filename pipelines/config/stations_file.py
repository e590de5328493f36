"""Stations listed in a CSV or XLSX file beside the network YAML (``stations_file:``).

A bureau's station list is a spreadsheet (code, name, coordinates, class) with its own column
names; writing 176 stations inline in the YAML needs a script. ``stations_file`` reads them,
with a mapping from station fields to the file's columns; every row is validated and a bad one
is reported with the file, its line and the column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipelines.errors import ConfigError, SourceError

__all__ = ["StationsFileSpec", "read_stations_file"]


class StationsFileSpec(BaseModel):
    """Where the stations are and which column holds which station field.

    ``columns`` maps a station field (``id``, ``name``, ``lat``, ``lon``, ``altitude``,
    ``station_class``, ``code`` ...) to a column of the file; a column named like a field is
    taken without a mapping. ``path`` is relative to the network file.
    """

    model_config = ConfigDict(extra="forbid")
    path: str
    encoding: str = "utf-8"
    delimiter: str = ","
    sheet: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)


def read_stations_file(
    spec: StationsFileSpec, network_path: Path, node: Any, station_model: type[BaseModel]
) -> list[dict[str, Any]]:
    """Station mappings of the file, each validated with ``station_model``.

    Parameters
    ----------
    spec : StationsFileSpec
        The ``stations_file`` block.
    network_path : pathlib.Path
        The network YAML (``path`` is relative to its folder).
    node : mapping
        The parsed ``stations_file`` block (for the lines of its keys).
    station_model : type
        The station schema (:class:`~pipelines.config.networks.StationSpec`).

    Raises
    ------
    ConfigError
        The YAML's line for a missing file or column; the file's line and column for a bad row.
    """
    from pipelines.sources.column_table import read_excel_rows
    from pipelines.sources.text import read_delimited

    lines = getattr(node, "lines", {})
    path = Path(spec.path)
    if not path.is_absolute():
        path = Path(network_path).parent / path
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            header, rows, bad, _ = read_excel_rows(path, spec.sheet)
        else:
            header, rows, bad, _ = read_delimited(path, spec.encoding, spec.delimiter)
    except SourceError as exc:
        raise ConfigError(
            str(network_path), lines.get("path"), "stations_file.path", exc.reason
        ) from exc
    if bad:
        raise ConfigError(str(path), bad[0].line, bad[0].field, bad[0].reason)
    header = [h.strip() for h in header]
    fields = set(station_model.model_fields)
    for field, col in spec.columns.items():
        if field not in fields:
            raise ConfigError(
                str(network_path),
                getattr(node.get("columns"), "lines", {}).get(field),
                f"stations_file.columns.{field}",
                f"not a station field (known: {', '.join(sorted(fields))})",
            )
        if col not in header:
            raise ConfigError(
                str(network_path),
                getattr(node.get("columns"), "lines", {}).get(field),
                f"stations_file.columns.{field}",
                f"no column {col!r} in {path.name} (columns: {', '.join(header)})",
            )
    mapping = {f: c for f, c in spec.columns.items()}
    mapping |= {h: h for h in header if h in fields and h not in mapping}
    index = {c: header.index(c) for c in set(mapping.values())}
    out = []
    for n, cells in rows:
        row = {f: cells[index[c]].strip() for f, c in mapping.items() if cells[index[c]].strip()}
        try:
            station_model.model_validate(row)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else ""
            raise ConfigError(
                str(path), n, mapping.get(field, field), f"station {field}: {err['msg']}"
            ) from exc
        out.append(row)
    if not out:
        raise ConfigError(str(path), 1, "", "no station rows")
    return out
