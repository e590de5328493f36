"""Shared core of the table adapters: header checks, value cleaning, time and station columns.

The PRSA, NDFA and generic column-mapped adapters are presets of :func:`parse_table`; the only
difference between them is where the time and the station come from.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.wind import VALUE_MAPS
from pipelines.config import NetworkSpec, SourceSpec, resolve_files
from pipelines.errors import QuarantineRecord, SourceError
from pipelines.progress import track
from pipelines.sources.base import RawBatch
from pipelines.sources.text import read_delimited

__all__ = ["TableLayout", "batch_from_tables", "parse_table", "read_source_files"]


@dataclass
class TableLayout:
    """Where time and station come from in a table.

    Attributes
    ----------
    time_columns : list of str
        One column holding a timestamp, or ``[year, month, day, hour]`` style parts.
    time_parts : bool
        True when ``time_columns`` are year/month/day/hour[/minute] integers.
    time_format : str or None
        ``strftime`` format of a single time column; None parses ISO 8601 (with offset if given).
    station_column : str or None
        Column with the station id, code or name.
    station : str or None
        Fixed station for the whole file.
    station_from_filename : str or None
        Regex with a ``station`` group applied to the file name.
    strip_chars : str
        Characters stripped from every cell (e.g. non-breaking spaces).
    thousands : str or None
        Thousands separator to remove from numbers.
    ignore_columns : list of str
        Columns known to be irrelevant (not reported as unmapped).
    """

    time_columns: list[str]
    time_parts: bool = False
    time_format: str | None = None
    station_column: str | None = None
    station: str | None = None
    station_from_filename: str | None = None
    strip_chars: str = ""
    thousands: str | None = None
    decimal: str = "."
    ignore_columns: list[str] = field(default_factory=list)


def _clean(values: list[str], layout: TableLayout) -> np.ndarray:
    """Strip blanks (and ``strip_chars``), drop thousands separators, normalise the decimal mark."""
    chars = layout.strip_chars + " \t"
    out = [v.strip(chars) for v in values]
    if layout.thousands:
        out = [v.replace(layout.thousands, "") for v in out]
    if layout.decimal != ".":
        out = [v.replace(layout.decimal, ".") for v in out]
    return np.array(out, dtype=object)


def _to_float(text: np.ndarray, is_missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strings to floats; returns values (NaN where missing/bad) and the mask of bad cells.

    ``inf`` and numbers beyond the float range (``1e400``) are bad cells, not values.
    """
    arr = np.where(is_missing, "nan", text)
    try:
        vals, bad = arr.astype("float64"), np.zeros(len(arr), dtype=bool)
    except ValueError:
        vals = pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce").to_numpy(
            dtype="float64"
        )
        low = np.char.lower(arr.astype(str))
        bad = np.isnan(vals) & ~is_missing & (low != "nan")
        good = ~np.isnan(vals)
        with contextlib.suppress(ValueError):  # float() rounds right; to_numeric may not
            vals[good] = arr[good].astype("float64")
    infinite = np.isinf(vals)
    if infinite.any():
        vals, bad = np.where(infinite, np.nan, vals), bad | infinite
    return vals, bad


def _station_for_file(path: Path, layout: TableLayout) -> str | None:
    if layout.station:
        return layout.station
    if layout.station_from_filename:
        m = re.search(layout.station_from_filename, path.name)
        if not m:
            raise SourceError(
                str(path),
                f"file name does not match station_from_filename {layout.station_from_filename!r}",
            )
        return m.group("station")
    return None


#: An explicit UTC offset (``Z``, ``+08:00``, ``+0800``, ``+08``) after the time of an ISO 8601 text.
_OFFSET = re.compile(
    r"[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.I
)

#: A negative offset after a time (``01:00-05:00``), searched in the whole column at once.
_NEGATIVE_OFFSET = re.compile(r":\d\d(?::\d\d(?:[.,]\d+)?)?\s*-\d\d(?::?\d\d)?\s*$", re.M)


def _parse_iso(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """ISO 8601 times: naive (local) ones, or instants (UTC) when every row gives an offset.

    A file mixing the two keeps the larger group (ties: the instants); the rows of the other are
    returned in the mask (pandas would give the local times the offset of the others, or fail on
    differing offsets).
    """
    import warnings

    joined = "\n".join(text.astype(str))  # one scan of the column first: the rows are slow
    if any(c in joined for c in "+Zz") or _NEGATIVE_OFFSET.search(joined):
        aware = text.str.strip().str.contains(_OFFSET, na=False).to_numpy()
    else:
        aware = np.zeros(len(text), dtype=bool)
    with warnings.catch_warnings():  # mixed offsets: pandas warns before returning objects
        warnings.simplefilter("ignore", FutureWarning)
        local = pd.to_datetime(text.where(~aware), errors="coerce", format="ISO8601")
        if local.dtype != "datetime64[ns]":  # an offset the pattern missed: not a local time
            local = pd.Series(
                [t if isinstance(t, pd.Timestamp) and t.tzinfo is None else pd.NaT for t in local],
                index=text.index,
                dtype="datetime64[ns]",
            )
        if not aware.any():
            return local, np.zeros(len(text), dtype=bool)
        instant = pd.to_datetime(text.where(aware), errors="coerce", format="ISO8601", utc=True)
    n_local, n_instant = int(local.notna().sum()), int(instant.notna().sum())
    if n_local > n_instant:
        return local, aware & instant.notna().to_numpy()
    return instant, ~aware & local.notna().to_numpy()


def _parse_time(frame: pd.DataFrame, layout: TableLayout) -> tuple[pd.Series, np.ndarray]:
    """Return the times of the rows, and the mask of rows refused for mixing zones."""
    none = np.zeros(len(frame), dtype=bool)
    if layout.time_parts:
        parts = {
            k: pd.to_numeric(frame[c], errors="coerce")
            for k, c in zip(
                ["year", "month", "day", "hour", "minute"], layout.time_columns, strict=False
            )
        }
        return pd.to_datetime(pd.DataFrame(parts), errors="coerce"), none
    text = frame[layout.time_columns[0]]
    if len(layout.time_columns) > 1:
        text = text.str.cat([frame[c] for c in layout.time_columns[1:]], sep=" ")
    if layout.time_format:
        return pd.to_datetime(text, format=layout.time_format, errors="coerce"), none
    return _parse_iso(text)


def parse_table(
    header: list[str],
    rows: list[tuple[int, list[str]]],
    path: Path,
    source: SourceSpec,
    layout: TableLayout,
) -> tuple[pd.DataFrame, list[QuarantineRecord], list[str]]:
    """Turn raw string rows into typed values in source units.

    Returns
    -------
    frame : pandas.DataFrame
        ``station``, ``time``, variable columns, ``_file``, ``_line``.
    quarantine : list of QuarantineRecord
        Rows with an unparseable time, missing station or non-numeric value.
    notes : list of str
        Unmapped columns and other observations.

    Raises
    ------
    SourceError
        If the header lacks the time or station columns, or has none of the mapped columns.
    """
    file = str(path)
    names = [h.strip().strip(layout.strip_chars) for h in header]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise SourceError(file, f"duplicate column names {sorted(dupes)}", line=1, field="header")
    missing = [c for c in layout.time_columns if c not in names]
    if layout.station_column and layout.station_column not in names:
        missing.append(layout.station_column)
    if missing:
        raise SourceError(
            file,
            f"header lacks required column(s) {missing}; header is {names}",
            line=1,
            field="header",
        )
    mapped = [c for c in source.columns if c in names]
    if not mapped:
        raise SourceError(
            file,
            f"header has none of the configured columns {list(source.columns)}; header is {names}",
            line=1,
            field="header",
        )
    notes = []
    known = set(source.columns) | set(layout.time_columns) | set(layout.ignore_columns)
    known |= {layout.station_column} if layout.station_column else set()
    known |= {spec.flag_column for spec in source.columns.values() if spec.flag_column}
    unmapped = [n for n in names if n not in known and n.lower() != "no"]
    if unmapped:
        notes.append(f"{path.name}: columns not mapped to any variable: {unmapped}")

    columns = (
        dict(zip(names, zip(*[r for _, r in rows], strict=False), strict=False))
        if rows
        else {n: () for n in names}
    )
    lines = np.array([n for n, _ in rows], dtype=np.int64)
    bad_reason = np.full(len(rows), "", dtype=object)
    bad_field = np.full(len(rows), "", dtype=object)

    def mark(mask: np.ndarray, fld: str, reason: np.ndarray | str) -> None:
        new = mask & (bad_reason == "")
        bad_reason[new] = reason if isinstance(reason, str) else reason[new]
        bad_field[new] = fld

    out: dict[str, object] = {}
    time_text = pd.DataFrame({c: _clean(list(columns[c]), layout) for c in layout.time_columns})
    time, mixed = _parse_time(time_text, layout)
    mark(
        mixed,
        ",".join(layout.time_columns),
        "UTC offset on some rows only: the file mixes local times and times with an offset",
    )
    mark(time.isna().to_numpy() & ~mixed, ",".join(layout.time_columns), "unparseable time")
    out["time"] = time.to_numpy()
    fixed_station = _station_for_file(path, layout)
    if layout.station_column:
        st = _clean(list(columns[layout.station_column]), layout)
        mark(st == "", layout.station_column, "empty station")
        out["station"] = st
    elif fixed_station:
        out["station"] = np.full(len(rows), fixed_station, dtype=object)
    else:
        raise SourceError(file, "no station: set station_column, station or station_from_filename")
    missing_markers = list(source.missing_values)
    for col in mapped:
        spec = source.columns[col]
        text = _clean(list(columns[col]), layout)
        is_missing = np.isin(text, missing_markers)
        if spec.value_map is not None:
            if isinstance(spec.value_map, str):  # a named map: its words in any case (cv, CV)
                vmap = {k.upper(): v for k, v in VALUE_MAPS[spec.value_map].items()}
                keys = np.array([t.upper() for t in text], dtype=object)
            else:  # the network's own map: as written
                vmap, keys = spec.value_map, text
            values = np.array([vmap.get(t, np.nan) for t in keys], dtype="float64")
            unknown = ~is_missing & ~np.isin(keys, list(vmap))
            mark(unknown, col, "value not in the column's value_map: " + text.astype(str))
        else:
            values, bad = _to_float(text, is_missing)
            mark(
                bad,
                col,
                np.array([f"not a number: {t[:40]!r}" for t in text], dtype=object)
                if bad.any()
                else "",
            )
        var = spec.variable
        if var in out:
            prev = out[var]
            out[var] = np.where(np.isnan(prev), values, prev)
        else:
            out[var] = values
        if spec.flag_column and spec.flag_column in columns:
            flags = np.char.upper(_clean(list(columns[spec.flag_column]), layout).astype(str))
            out[f"{var}__flag"] = np.where(flags == "", "N", flags).astype(object)
    frame = pd.DataFrame(out)
    frame["_file"] = file
    frame["_line"] = lines
    bad = bad_reason != ""
    quarantine = [
        QuarantineRecord(
            file, int(lines[i]), str(bad_field[i]), str(bad_reason[i]), ",".join(rows[i][1])[:300]
        )
        for i in np.flatnonzero(bad)
    ]
    return frame[~bad].reset_index(drop=True), quarantine, notes


def batch_from_tables(
    files: list[Path],
    source: SourceSpec,
    layout: TableLayout,
    read_file,
) -> RawBatch:
    """Read several files with ``read_file(path) -> (header, rows, quarantine, rows_in)``.

    A file that cannot be used at all (empty, unreadable, wrong header) is recorded in
    ``rejected``; the rows of a file with a wrong header are each quarantined with that reason,
    so row accounting still holds. Other files go on.
    """
    frames, quarantine, notes, rows_in = [], [], [], 0
    rejected: list[QuarantineRecord] = []
    for path in track(files, desc=f"read {source.adapter} files"):
        try:
            header, rows, q, n = read_file(path)
        except SourceError as exc:
            rejected.append(QuarantineRecord(str(path), exc.line or 0, exc.field, exc.reason))
            continue
        rows_in += n
        quarantine += q
        try:
            frame, q2, notes2 = parse_table(header, rows, path, source, layout)
        except SourceError as exc:
            rejected.append(QuarantineRecord(str(path), exc.line or 0, exc.field, exc.reason))
            quarantine += [
                QuarantineRecord(
                    str(path), ln, exc.field, f"file rejected: {exc.reason}", ",".join(r)[:300]
                )
                for ln, r in rows
            ]
            continue
        frames.append(frame)
        quarantine += q2
        notes += notes2
    units = {spec.variable: spec.units for spec in source.columns.values()}
    frame = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["station", "time", "_file", "_line"])
    )
    return RawBatch(
        frame=frame,
        units=units,
        quarantine=quarantine,
        rows_in=rows_in,
        files=[str(f) for f in files],
        notes=notes,
        rejected=rejected,
    )


def read_source_files(
    source: SourceSpec, network: NetworkSpec, layout: TableLayout, read_file=None
) -> RawBatch:
    """Resolve a source's file patterns and read them all with ``read_file``.

    ``read_file(path)`` defaults to :func:`pipelines.sources.text.read_delimited` with the
    source's encoding and ``delimiter`` option.

    Raises
    ------
    SourceError
        If no file matches the patterns.
    """
    files = resolve_files(source.files, network.path)
    if not files:
        raise SourceError(", ".join(source.files), "no file matches the pattern(s)")
    if network.duplicates.file_order == "modified":  # later rows win: oldest file first
        files = sorted(files, key=lambda p: (p.stat().st_mtime_ns, str(p)))
    if read_file is None:
        delimiter = source.option("delimiter", ",")

        def read_file(p: Path):
            return read_delimited(p, source.encoding, delimiter)

    return batch_from_tables(files, source, layout, read_file)
