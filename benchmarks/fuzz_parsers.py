r"""Property-based fuzzing of the input parsers (issue #16): strategies and properties.

Every parser that reads what a bureau, a data provider or an analyst hands in is a *target*:

- ``csv``: the delimited-text adapters (``column_table`` in its layouts: one ISO time column, a
  ``time_format``, date + hour columns, a wide table of one column per station; the PRSA and NDFA
  presets ``prsa_csv`` and ``ndfa_sonde``), plain or compressed;
- ``xlsx``: ``column_table`` reading an Excel workbook (openpyxl);
- ``http_json``: the HTTP JSON adapter on the bytes of a response (no server: the response is
  made in the process, through ``requests``' own decoding);
- ``cnemc``: the CNEMC surface-water publishing pages (``thead`` / ``tbody`` / ``total``), paged;
- ``network_yaml``, ``warning_yaml``, ``river_yaml``: the network (with a ``stations_file`` CSV),
  warning city / scheme and river network loaders;
- ``pmf``: the PMF concentration + uncertainty file reader;
- ``soil_csv``: soil laboratory files (one row per sample and analyte) through the soil ingest.

A case is a valid input built from the project's own layouts, then (most of the time) damaged:
structurally (random and odd cells, blank / duplicated headers, extra and missing columns, huge
numbers, NaN / inf strings, odd timestamps, duplicated and conflicting rows, blank lines; keys
deleted, retyped, duplicated or misspelt in YAML) and at the byte level (flipped, inserted and
deleted bytes, truncation, GBK instead of UTF-8 and the reverse, a UTF-8 BOM, CR / CRLF, control
characters). The properties (``check_<target>``):

- the parser returns, or raises the project's documented error (:class:`~pipelines.errors.SourceError`
  for data, :class:`~pipelines.errors.ConfigError` for configuration) naming the file, with a
  line inside the file (or none) and a reason; any other exception is a crash;
- row accounting holds and is *true*: the rows an adapter counts are the non-blank data lines
  (records, spreadsheet rows) really in the input, each stored, merged into an identical later
  row, or quarantined once with the file, a line of that file and a reason (for a wide table,
  the station-times of a line); a file refused as a whole is listed with its reason;
- nothing is silently lost or invented: an undamaged input is read back exactly (values,
  stations, times, species, samples); every stored value is a finite number; a loaded
  configuration keeps every station, source, section, area and level it lists;
- no input takes longer than a hard limit (``HARD_LIMIT_S``; a hang is a failure).

The test suite runs these properties with few examples (``tests/fuzz/``);
``benchmarks/bench_fuzz.py`` runs them with many and writes the section "Fuzzing (issue #16)"
of BENCHMARKS.md.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import datetime as dt
import gzip
import io
import json
import lzma
import math
import re
import signal
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = [
    "HARD_LIMIT_S",
    "TARGETS",
    "Hang",
    "Target",
    "hard_limit",
    "suite_settings",
]

#: Wall-clock limit of one case [s]: a parser still busy then is hung (a failure).
HARD_LIMIT_S = 30.0

#: The clock of the future-timestamp check (every generated time is well before it).
NOW = "2016-06-01T00:00:00Z"

#: The stations of the test network: id, code, name (any of the three names a station).
STATIONS = [("A", "1001A", "万寿西宫"), ("B", "1002A", "定陵"), ("C", "1003A", "东四")]

#: Cells a provider's export really holds now and then, and cells meant to break a parser.
ODD_CELLS = [
    "",
    " ",
    "NA",
    "N/A",
    "nan",
    "NaN",
    "NAN",
    "null",
    "None",
    "inf",
    "-inf",
    "Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "1.7976931348623157e308",
    "-0",
    "+5",
    ".5",
    "5.",
    "1,234",
    "1.2.3",
    "0x1F",
    "１２",
    "--",
    "—",
    "*",
    "/",
    "<0.01",
    "0.01L",
    "1.2.3L",
    "<.",
    "..L",
    "\u3000",
    "\xa0",
    '"',
    '""',
    "'",
    'a"b',
    "=1+1",
    "清源",
    "💨",
    "\x00",
    "\x0c",
    "\x1c",
    "\u2028",
    "\x85",
    "9" * 400,
    "-" * 40,
    "<span title='原始值'>7.8</span>",
    "<b>",
]

#: Timestamps at and beyond the calendar's edges, in odd notations, or not times at all.
ODD_TIMES = [
    "",
    "2016-02-30 01:00",
    "2016-01-01 24:00",
    "2016-01-01 25:00",
    "2016-13-01 00:00",
    "2016-00-10 00:00",
    "0000-01-01 00:00",
    "0001-01-01 00:00",
    "9999-12-31 23:00",
    "2262-04-11 23:00",
    "2262-04-11 23:47",
    "1677-09-21 00:13",
    "1677-09-22 00:00",
    "1970-01-01 00:00",
    "2016-01-01T01:00+08:00",
    "2016-01-01T01:00+09:00",
    "2016-01-01T01:00Z",
    "2016-01-01T01:00+14:00",
    "2016-01-01T01:00-12:00",
    "2016-01-01 01:30",
    "2016-01-01 01:00:00.000001",
    "2016-01-01 01:00:59",
    "20160101",
    "2016010101",
    "2016/01/01 01:00",
    "01/01/2016 01:00",
    "1/1/2016 1:00",
    "now",
    "today",
    "NaT",
    "1e10",
    "1451581200",
    "2016-W01",
    "2016-001",
    "2016-01-01 01:00 CST",
    "2016年1月1日 01:00",
    "12-31 20:00",
    "02-29 00:00",
    "02-30 00:00",
    "12-31 20:00+08:00",
    "13-01 00:00",
    "01-01 00:00:00",
    "01-01",
]


class Hang(Exception):
    """A case ran past :data:`HARD_LIMIT_S` (raised inside it by an interval timer)."""


@contextlib.contextmanager
def hard_limit(seconds: float = HARD_LIMIT_S) -> Iterator[None]:
    """Raise :class:`Hang` inside the block when it runs longer than ``seconds`` (main thread)."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def _alarm(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def suite_settings(max_examples: int) -> Any:
    """Hypothesis settings of the test suite: reproducible, no database, bounded time."""
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=dt.timedelta(seconds=10),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


# ------------------------------------------------------------------------------ damage
def _st():  # noqa: ANN202 (hypothesis is imported lazily: the module imports without it)
    from hypothesis import strategies as st

    return st


def damage_bytes(draw: Callable, data: bytes, max_ops: int = 3) -> bytes:
    """Return ``data`` with 1 to ``max_ops`` byte-level changes drawn with ``draw``."""
    st = _st()
    b = bytearray(data)
    specials = [
        b",",
        b";",
        b"\t",
        b'"',
        b"\n",
        b"\r",
        b"\r\n",
        b"\x00",
        b"\xff",
        b"\xfe\xff",
        b"\xef\xbb\xbf",
        b"\xc3",
        b"\xe6\xb8",
        b"\x0c",
        b"\x1b",
        b":",
        b"-",
        b"#",
        b"&",
        b"*",
        b"{",
        b"[",
        b"'",
        b"  ",
    ]
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["flip", "insert", "special", "delete", "truncate", "dup"]))
        at = draw(st.integers(0, len(b)))
        if op == "flip" and b:
            at = min(at, len(b) - 1)
            b[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            b[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif op == "special":
            b[at:at] = draw(st.sampled_from(specials))
        elif op == "delete":
            del b[at : at + draw(st.integers(1, 12))]
        elif op == "truncate":
            del b[at:]
        elif op == "dup" and b:
            end = min(len(b), at + draw(st.integers(1, 80)))
            b[end:end] = b[at:end]
    return bytes(b)


def damage_table(
    draw: Callable,
    header: list[str],
    rows: list[list[str] | None],
    time_columns: list[int],
) -> tuple[list[str], list[list[str] | None]]:
    """Return a table with 1 to 3 structural changes (``None`` rows are blank lines)."""
    st = _st()
    header, rows = list(header), [None if r is None else list(r) for r in rows]
    cells = st.sampled_from(ODD_CELLS) | st.text(max_size=8)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(
            st.sampled_from(
                [
                    "cell",
                    "cell",
                    "time",
                    "time",
                    "huge",
                    "blank_header",
                    "dup_header",
                    "extra_column",
                    "missing_column",
                    "short_row",
                    "long_row",
                    "dup_row",
                    "conflict_row",
                    "blank_line",
                    "header_only",
                    "swap_rows",
                ]
            )
        )
        data_rows = [i for i, r in enumerate(rows) if r is not None]
        if op == "blank_header" and header:
            header[draw(st.integers(0, len(header) - 1))] = draw(
                st.sampled_from(["", " ", "\ufeff"])
            )
        elif op == "dup_header" and len(header) > 1:
            i, j = draw(st.integers(0, len(header) - 1)), draw(st.integers(0, len(header) - 1))
            header[i] = header[j]
        elif op == "extra_column":
            header.append(draw(st.sampled_from(["extra", "备注", "", "pm25"])))
            for r in rows:
                if r is not None:
                    r.append(draw(cells))
        elif op == "missing_column" and len(header) > 1:
            j = draw(st.integers(0, len(header) - 1))
            del header[j]
            for r in rows:
                if r is not None and j < len(r):
                    del r[j]
        elif op == "header_only":
            rows = []
        elif op == "blank_line":
            rows.insert(draw(st.integers(0, len(rows))), None)
        elif not data_rows:
            continue
        else:
            i = draw(st.sampled_from(data_rows))
            r = rows[i]
            if op in ("cell", "time", "huge") and r:
                j = (
                    draw(st.sampled_from(time_columns))
                    if op == "time" and time_columns
                    else draw(st.integers(0, len(r) - 1))
                )
                if j < len(r):
                    r[j] = (
                        draw(st.sampled_from(ODD_TIMES))
                        if op == "time"
                        else draw(st.sampled_from(["1e308", "-1e308", "9" * 30, "1e20", "-99999"]))
                        if op == "huge"
                        else draw(cells)
                    )
            elif op == "short_row" and r:
                del r[draw(st.integers(0, len(r) - 1)) :]
            elif op == "long_row":
                r.extend(draw(st.lists(cells, min_size=1, max_size=3)))
            elif op == "dup_row":
                rows.insert(draw(st.integers(0, len(rows))), list(r))
            elif op == "conflict_row" and len(r) > 2:
                copy = list(r)
                copy[-1] = draw(st.sampled_from(["1", "2.5", "999", ""]))
                rows.insert(draw(st.integers(0, len(rows))), copy)
            elif op == "swap_rows" and len(data_rows) > 1:
                k = draw(st.sampled_from(data_rows))
                rows[i], rows[k] = rows[k], rows[i]
    return header, rows


def write_table(
    header: list[str], rows: list[list[str] | None], delimiter: str, newline: str, quote_all: bool
) -> str:
    """CSV text of a table (``None`` rows as blank lines); quoting as ``csv`` does it."""
    buf = io.StringIO()
    w = csv.writer(
        buf,
        delimiter=delimiter,
        lineterminator=newline,
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    w.writerow(header)
    for r in rows:
        if r is None:
            buf.write(newline)
        else:
            w.writerow(r)
    return buf.getvalue()


def compress(data: bytes, suffix: str) -> bytes:
    """``data`` compressed for a file name ending in ``suffix`` (``""``: as it is)."""
    return {"": lambda b: b, ".gz": gzip.compress, ".xz": lzma.compress, ".bz2": bz2.compress}[
        suffix
    ](data)


def decompress(data: bytes, suffix: str) -> bytes | None:
    """The inverse of :func:`compress`; None for a damaged archive."""
    try:
        return {
            "": lambda b: b,
            ".gz": gzip.decompress,
            ".xz": lzma.decompress,
            ".bz2": bz2.decompress,
        }[suffix](data)
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error):
        return None


def physical_lines(raw: bytes) -> list[bytes]:
    """Lines as an editor counts them: split at CRLF, CR or LF (a final newline ends a line)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines = re.split(rb"\r\n|\r|\n", raw)
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def data_lines(raw: bytes, encoding: str) -> list[int]:
    """1-based numbers of the non-blank lines after the header (the rows a reader must count)."""
    out = []
    for n, line in enumerate(physical_lines(raw), start=1):
        if n > 1 and line.decode(encoding, errors="replace").strip():
            out.append(n)
    return out


# ------------------------------------------------------------------------------ outcomes
@dataclass
class Outcome:
    """What one case gave: refused as a whole, or rows counted by where they went."""

    refused: int = 0
    parsed: int = 0
    rows: int = 0
    stored: int = 0
    merged: int = 0
    quarantined: int = 0
    files_rejected: int = 0
    clean_round_trips: int = 0
    errors_without_line: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        """Flat counts (for summing over a campaign)."""
        d = {k: v for k, v in vars(self).items() if k != "extra"}
        d.update(self.extra)
        return d


def _check_error(exc: Exception, files: dict[str, int], out: Outcome, under: str = "") -> None:
    """A documented error must name one of ``files`` (path -> line count) and a line inside it
    (or a file under the folder ``under``: a bundled or a missing configuration file)."""
    if under and str(exc.file).startswith(under) and str(exc.file) not in files:
        files = {**files, str(exc.file): 10**6}
    assert str(exc.file) in files, f"error names {exc.file!r}, not an input file: {exc}"
    assert isinstance(exc.reason, str) and exc.reason.strip(), f"error without a reason: {exc!r}"
    assert isinstance(exc.field, str), f"error field is not text: {exc!r}"
    line = exc.line
    if line is None:
        out.errors_without_line += 1
    else:
        assert isinstance(line, int) and 0 <= line <= max(files[str(exc.file)], 1) + 1, (
            f"error line {line} outside {exc.file} ({files[str(exc.file)]} lines): {exc}"
        )
    out.refused += 1


# ------------------------------------------------------------------------------ the network
def network_dict(source: dict[str, Any], time_zone: str = "Asia/Shanghai") -> dict[str, Any]:
    """A network mapping with the test stations and one source block."""
    return {
        "name": "fuzznet",
        "title": "fuzz network",
        "kind": "air",
        "time_zone": time_zone,
        "time_label": "interval_end",
        "frequency": "1h",
        "sources": [source],
        "stations": [
            {"id": i, "code": c, "name": n, "lat": 39.9 + k / 100, "lon": 116.4 + k / 100}
            for k, (i, c, n) in enumerate(STATIONS)
        ],
    }


def dump_yaml(data: Any) -> str:
    """YAML text of ``data`` (block style, Unicode kept)."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False)


_REGISTRY: dict[str, Any] = {}


def _registry() -> dict[str, Any]:
    if not _REGISTRY:
        from pipelines.config import load_variables

        _REGISTRY.update(load_variables())
    return _REGISTRY


def check_batch(
    batch: Any,
    net: Any,
    inputs: dict[str, list[int] | None],
    max_line: dict[str, int],
    out: Outcome,
    *,
    per_line: int = 1,
    now: str = NOW,
) -> Any:
    """Check a :class:`~pipelines.sources.base.RawBatch` and its normalised block.

    Parameters
    ----------
    batch : RawBatch
        What the adapter returned.
    net : NetworkSpec
        The network (for :func:`pipelines.normalise.normalise`).
    inputs : dict
        Input file or URL -> the line numbers of its data rows (None: not known independently,
        e.g. a damaged archive or a wide table).
    max_line : dict
        Input -> its last line number (records: their count).
    out : Outcome
        Counts, updated.
    per_line : int
        Rows one line may give (the station columns of a wide table).
    now : str
        Clock of the future-timestamp check (UTC).

    Returns
    -------
    CanonicalBlock
    """
    import numpy as np
    import pandas as pd

    from pipelines.errors import QuarantineRecord
    from pipelines.normalise import normalise

    frame = batch.frame
    for col in ("station", "time", "_file", "_line"):
        assert col in frame.columns, f"batch frame lacks {col!r}"
    assert batch.rows_in == len(frame) + len(batch.quarantine), (
        f"batch: {batch.rows_in} rows in, {len(frame)} accepted + {len(batch.quarantine)} "
        "quarantined"
    )
    rejected = {r.file for r in batch.rejected}
    for r in batch.rejected:
        assert isinstance(r, QuarantineRecord) and r.file in inputs, f"rejected {r!r}"
        assert r.reason.strip(), f"rejected without a reason: {r!r}"
    seen: Counter = Counter()
    for f, n in zip(frame["_file"].astype(str), frame["_line"].astype(int), strict=True):
        assert f in inputs, f"row of an unknown input {f!r}"
        seen[(f, n)] += 1
    for r in batch.quarantine:
        assert isinstance(r, QuarantineRecord), r
        assert r.file in inputs, f"quarantine record of an unknown input: {r!r}"
        assert isinstance(r.reason, str) and r.reason.strip(), f"no reason: {r!r}"
        assert isinstance(r.field, str), r
        assert isinstance(r.line, int) and 1 <= r.line <= max_line[r.file], (
            f"quarantined line {r.line} outside {r.file} (1..{max_line[r.file]}): {r!r}"
        )
        seen[(r.file, r.line)] += 1
    over = {k: v for k, v in seen.items() if v > per_line}
    assert not over, f"lines counted more than {per_line} time(s): {sorted(over)[:5]}"
    for f, lines in inputs.items():
        if lines is None or f in rejected and not any(k[0] == f for k in seen):
            continue
        got = sorted({n for (g, n) in seen if g == f})
        assert got == lines, (
            f"{f}: data lines {lines[:8]}... ({len(lines)}) but rows accounted for lines "
            f"{got[:8]}... ({len(got)}): missing {sorted(set(lines) - set(got))[:5]}, "
            f"invented {sorted(set(got) - set(lines))[:5]}"
        )
    reg = _registry()
    block = normalise(
        batch, net, reg["variables"], reg["reference_conditions"], now=pd.Timestamp(now)
    )
    for r in block.quarantine + block.merged:
        assert (r.file, r.line) in seen, f"normalise refused a row it was not given: {r!r}"
        assert r.reason.strip(), r
    assert block.rows_stored + len(block.merged) + len(block.quarantine) == len(frame), (
        f"normalise: {len(frame)} rows in, {block.rows_stored} stored + {len(block.merged)} "
        f"merged + {len(block.quarantine)} quarantined"
    )
    for v, arr in block.values.items():
        vals = arr[~np.isnan(arr)]
        assert np.isfinite(vals).all(), (
            f"{v}: a stored value is not finite ({vals[~np.isfinite(vals)][:3]})"
        )
    out.parsed += 1
    out.rows += batch.rows_in
    out.stored += block.rows_stored
    out.merged += len(block.merged)
    out.quarantined += len(batch.quarantine) + len(block.quarantine)
    out.files_rejected += len(batch.rejected)
    return block


# ------------------------------------------------------------------------------ csv / xlsx
_START = dt.datetime(2016, 3, 26, 0, 0)  # 72 hours across the 2016 DST change of Europe/Berlin


def _value_text(draw: Callable, decimal: str = ".") -> tuple[str, float | None]:
    """A measurement as a provider writes it, and its value (None: missing)."""
    st = _st()
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return "", None
    v = draw(st.floats(0, 5000, allow_nan=False, allow_infinity=False))
    text = draw(st.sampled_from(["{:.1f}", "{:.3f}", "{:g}", "{!r}"])).format(v)
    if kind == 1:
        text = str(int(v))
    return text.replace(".", decimal), float(text)


@dataclass
class _Layout:
    """How one table layout is written: the source block and a row builder."""

    adapter: str
    options: dict[str, Any]
    header: list[str]
    time_columns: list[int]
    delimiter: str = ","
    encoding: str = "utf-8"
    decimal: str = "."
    filename: str = "export.csv"
    wide: bool = False


def _layouts() -> dict[str, _Layout]:
    pm = {"variable": "pm25", "units": "ug m-3"}
    return {
        "iso": _Layout(
            "column_table",
            {
                "time_column": "time",
                "station_column": "site",
                "columns": {
                    "pm25": pm,
                    "pm10": {"variable": "pm10", "units": "ug m-3"},
                    "co": {"variable": "co", "units": "mg m-3"},
                },
            },
            ["time", "site", "pm25", "pm10", "co"],
            [0],
        ),
        "format": _Layout(
            "column_table",
            {
                "delimiter": ";",
                "decimal": ",",
                "encoding": "gbk",
                "time_column": "时间",
                "time_format": "%Y/%m/%d %H:%M",
                "station_column": "站点",
                "columns": {
                    "PM2.5": {**pm, "flag_column": "标志"},
                    "CO": {"variable": "co", "units": "mg m-3"},
                },
            },
            ["时间", "站点", "PM2.5", "标志", "CO"],
            [0],
            delimiter=";",
            encoding="gbk",
            decimal=",",
        ),
        "split": _Layout(
            "column_table",
            {
                "delimiter": "\t",
                "time_columns": ["date", "hour"],
                "station": "B",
                "columns": {"pm25": pm, "co": {"variable": "co", "units": "mg m-3"}},
            },
            ["date", "hour", "pm25", "co"],
            [0, 1],
            delimiter="\t",
            filename="export.tsv",
        ),
        "wide": _Layout(
            "column_table",
            {
                "time_column": "time",
                "station_columns": ["A", "B", "C"],
                "value_column": "value",
                "columns": {"value": pm, "co": {"variable": "co", "units": "mg m-3"}},
            },
            ["time", "A", "B", "C", "co"],
            [0],
            wide=True,
        ),
        "prsa": _Layout(
            "prsa_csv",
            {
                "columns": {
                    "PM2.5": pm,
                    "PM10": {"variable": "pm10", "units": "ug m-3"},
                    "CO": {"variable": "co", "units": "ug m-3"},
                }
            },
            ["No", "year", "month", "day", "hour", "PM2.5", "PM10", "CO", "station"],
            [1, 2, 3, 4],
            filename="PRSA_Data_20130301-20170228.csv",
        ),
        "ndfa": _Layout(
            "ndfa_sonde",
            {
                "encoding": "latin-1",
                "strip_chars": "\xa0",
                "thousands": ",",
                "station_from_filename": "NDFA_2019_continuous_(?P<station>[A-Z0-9]+)\\.csv",
                "time_column": "Date",
                "time_format": "%m/%d/%Y %H:%M",
                "columns": {
                    "Conductivity": {"variable": "conductivity", "units": "uS cm-1"},
                    "Temperature": {"variable": "water_temperature", "units": "degC"},
                    "Flow": {"variable": "river_discharge", "units": "ft3 s-1"},
                },
            },
            ["Date", "Conductivity", "Temperature", "Flow"],
            [0],
            encoding="latin-1",
            filename="NDFA_2019_continuous_C.csv",
        ),
    }


LAYOUTS = _layouts()


def _table_rows(draw: Callable, layout_name: str, spreadsheet: bool = False):  # noqa: ANN202
    """Rows of a valid table of ``layout_name`` and what each must read back as.

    Returns ``(rows, expected)``: rows of text cells (for a spreadsheet some cells are numbers
    and datetimes), and per row a list of ``(station id, time, {variable: value or None})``.
    """
    st = _st()
    lay = LAYOUTS[layout_name]
    keys = draw(
        st.lists(st.tuples(st.integers(0, 2), st.integers(0, 71)), max_size=10, unique=True)
    )
    if layout_name in ("split", "ndfa"):  # one station per file: unique times
        keys = list({h: (1 if layout_name == "split" else 2, h) for _, h in keys}.values())
    if lay.wide:
        keys = list({h: (0, h) for _, h in keys}.values())
    rows, expected = [], []
    style = draw(st.integers(0, 3))  # one notation per file (a mix of zones is refused)
    for k, (s, h) in enumerate(keys):
        sid, code, name = STATIONS[s]
        who = draw(st.sampled_from([sid, code, name]))
        t = _START + dt.timedelta(hours=h)
        if layout_name == "iso":
            tt = (
                t
                if spreadsheet and style == 3
                else t.strftime(
                    [
                        "%Y-%m-%d %H:%M",
                        "%Y-%m-%dT%H:%M:%S",
                        "%Y-%m-%d %H:%M:%S+08:00",
                        "%Y-%m-%d %H:%M",
                    ][style]
                )
            )
            when = f"{t:%Y-%m-%d %H:%M}" + ("+08:00" if style == 2 else "")
            (a, va), (b, vb), (c, vc) = (_value_text(draw) for _ in range(3))
            cells = [tt, who, a, b, c]
            if spreadsheet and draw(st.booleans()):
                cells[2] = va if va is not None else None
            rows.append(cells)
            expected.append([(sid, when, {"pm25": va, "pm10": vb, "co": vc})])
        elif layout_name == "format":
            (a, va), (c, vc) = _value_text(draw, ","), _value_text(draw, ",")
            flag = draw(st.sampled_from(["N", "C", "M", ""]))
            rows.append([t.strftime("%Y/%m/%d %H:%M"), who, a, flag, c])
            expected.append([(sid, f"{t:%Y-%m-%d %H:%M}", {"pm25": va, "co": vc})])
        elif layout_name == "split":
            (a, va), (c, vc) = _value_text(draw), _value_text(draw)
            rows.append([t.strftime("%Y-%m-%d"), t.strftime("%H:%M"), a, c])
            expected.append([("B", f"{t:%Y-%m-%d %H:%M}", {"pm25": va, "co": vc})])
        elif layout_name == "wide":
            vals = [_value_text(draw) for _ in range(4)]
            rows.append([t.strftime("%Y-%m-%d %H:%M")] + [v[0] for v in vals])
            expected.append(
                [
                    (STATIONS[j][0], f"{t:%Y-%m-%d %H:%M}", {"pm25": vals[j][1], "co": vals[3][1]})
                    for j in range(3)
                ]
            )
        elif layout_name == "prsa":
            vals = [_value_text(draw) for _ in range(3)]
            texts = [v[0] if v[1] is not None else "NA" for v in vals]
            rows.append(
                [str(k + 1), str(t.year), str(t.month), str(t.day), str(t.hour), *texts, who]
            )
            expected.append(
                [
                    (
                        sid,
                        f"{t:%Y-%m-%d %H:%M}",
                        {"pm25": vals[0][1], "pm10": vals[1][1], "co": vals[2][1]},
                    )
                ]
            )
        else:  # ndfa: NWIS-style cells, thousands separators and non-breaking spaces
            vals = []
            for _ in range(3):
                text, v = _value_text(draw)
                if v is not None and v >= 1000 and draw(st.booleans()):
                    whole, _, frac = text.partition(".")
                    text = f"{int(whole):,}" + (f".{frac}" if frac else "")
                vals.append((text + draw(st.sampled_from(["", "\xa0\xa0"])), v))
            rows.append([t.strftime("%m/%d/%Y %H:%M"), *[v[0] for v in vals]])
            expected.append(
                [
                    (
                        "C",
                        f"{t:%Y-%m-%d %H:%M}",
                        {
                            "conductivity": vals[0][1],
                            "water_temperature": vals[1][1],
                            "river_discharge": vals[2][1],
                        },
                    )
                ]
            )
    return rows, expected


def csv_cases():  # noqa: ANN201
    """Strategy of delimited-text cases: a layout, the file's bytes and what must read back."""
    st = _st()

    @st.composite
    def case(draw: Callable) -> dict[str, Any]:
        name = draw(st.sampled_from(sorted(LAYOUTS)))
        lay = LAYOUTS[name]
        rows, expected = _table_rows(draw, name)
        header: list[str] = list(lay.header)
        damaged = draw(st.integers(0, 9)) >= 3  # 70 % of the cases are damaged
        structural = damaged and draw(st.booleans())
        if structural:
            header, rows = damage_table(draw, header, rows, lay.time_columns)
        newline = draw(st.sampled_from(["\n", "\r\n", "\n", "\r"]))
        text = write_table(header, rows, lay.delimiter, newline, draw(st.integers(0, 5)) == 0)
        if draw(st.booleans()):
            text = text.rstrip("\r\n")  # no final newline
        written = lay.encoding
        if damaged and draw(st.integers(0, 3)) == 0:
            written = draw(st.sampled_from(["gbk", "utf-8", "latin-1", "utf-16"]))
        data = text.encode(written, errors="replace")
        if written == "utf-8" and draw(st.integers(0, 3)) == 0:
            data = b"\xef\xbb\xbf" + data
        bytewise = damaged and (not structural or draw(st.booleans()))
        suffix = draw(st.sampled_from(["", "", "", ".gz", ".xz", ".bz2"]))
        if bytewise and suffix and draw(st.booleans()):
            packed = damage_bytes(draw, compress(data, suffix))  # a damaged archive
        else:
            if bytewise:
                data = damage_bytes(draw, data)
            packed = compress(data, suffix)
        zone = (
            "Europe/Berlin" if name == "iso" and draw(st.integers(0, 3)) == 0 else "Asia/Shanghai"
        )
        clean = not damaged and written == lay.encoding
        return {
            "layout": name,
            "filename": lay.filename + suffix,
            "suffix": suffix,
            "data": packed,
            "time_zone": zone,
            "expected": expected if clean else None,
        }

    return case()


def _source_block(name: str, files: list[str]) -> dict[str, Any]:
    lay = LAYOUTS[name]
    return {"adapter": lay.adapter, "files": files, **json.loads(json.dumps(lay.options))}


def _load_net(tmp: Path, source: dict[str, Any], zone: str = "Asia/Shanghai") -> Any:
    from pipelines.config import load_network

    path = tmp / "fuzznet.yml"
    path.write_text(dump_yaml(network_dict(source, zone)), encoding="utf-8")
    return load_network(str(path))


def _round_trip(frame: Any, expected: list[list[tuple]], out: Outcome, first_line: int = 2) -> None:
    """An undamaged table reads back exactly: every row, station, time and value."""
    import pandas as pd

    lookup = dict((c, i) for i, c, _ in STATIONS) | {n: i for i, _, n in STATIONS}
    lookup |= {i: i for i, _, _ in STATIONS}
    got: dict[tuple[int, str], Any] = {}
    for rec in frame.to_dict("records"):
        got[(int(rec["_line"]), lookup.get(str(rec["station"]), str(rec["station"])))] = rec
    want = {}
    for k, row in enumerate(expected):
        for sid, when, values in row:
            want[(first_line + k, sid)] = (when, values)
    assert set(got) == set(want), f"rows read back {sorted(got)[:6]}, written {sorted(want)[:6]}"
    for key, (when, values) in want.items():
        rec = got[key]
        t = pd.Timestamp(rec["time"])
        w = pd.Timestamp(when)
        assert t == w and (t.tzinfo is None) == (w.tzinfo is None), f"line {key}: {t} != {when}"
        for var, v in values.items():
            g = rec.get(var)
            if v is None:
                assert g is None or math.isnan(g), f"line {key} {var}: {g} for a missing value"
            else:
                assert g is not None and math.isclose(g, v, rel_tol=1e-12, abs_tol=1e-12), (
                    f"line {key} {var}: read {g}, written {v}"
                )
    out.clean_round_trips += 1


def check_csv(case: dict[str, Any], tmp: Path) -> dict[str, int]:
    """Properties of a delimited-text case (module docstring)."""
    from pipelines.ingest import read_source

    out = Outcome()
    lay = LAYOUTS[case["layout"]]
    path = (tmp / case["filename"]).resolve()
    path.write_bytes(case["data"])
    net = _load_net(tmp, _source_block(case["layout"], [str(path)]), case["time_zone"])
    with hard_limit():
        batch = read_source(0, net)
        raw = decompress(case["data"], case["suffix"])
        if raw is None:
            assert [r.file for r in batch.rejected] == [str(path)] and batch.rows_in == 0, (
                "a damaged archive must be rejected as a whole"
            )
        lines = None if raw is None or lay.wide else data_lines(raw, net.sources[0].encoding)
        n_lines = len(physical_lines(raw or b""))
        check_batch(
            batch, net, {str(path): lines}, {str(path): n_lines}, out, per_line=3 if lay.wide else 1
        )
    if case["expected"] is not None:
        assert not batch.quarantine and not batch.rejected, (
            f"an undamaged file lost rows: {batch.quarantine[:3]} {batch.rejected[:1]}"
        )
        _round_trip(batch.frame, case["expected"], out)
    return out.as_dict()


#: Cell values of another type than the column's, as a workbook may hold them.
def _odd_objects() -> list[Any]:
    return [
        None,
        True,
        0,
        -1,
        10**30,
        1e308,
        float("nan"),
        float("inf"),
        dt.datetime(1900, 1, 1),
        dt.datetime(2016, 3, 26, 3, 0, 0, 500000),
        dt.date(2016, 3, 26),
        dt.time(3, 0),
        dt.timedelta(hours=3),
        "=1+1",
        "=NA()",
        "x" * 5000,
    ]


def xlsx_cases():  # noqa: ANN201
    """Strategy of Excel cases: cells of several types, damaged tables and damaged files."""
    st = _st()

    @st.composite
    def case(draw: Callable) -> dict[str, Any]:
        name = draw(st.sampled_from(["iso", "iso", "format", "split", "wide"]))
        lay = LAYOUTS[name]
        rows, expected = _table_rows(draw, name, spreadsheet=True)
        header: list[Any] = list(lay.header)
        damaged = draw(st.integers(0, 9)) >= 3
        structural = damaged and draw(st.booleans())
        if structural:
            header, rows = damage_table(draw, header, rows, lay.time_columns)
            for _ in range(draw(st.integers(0, 2))):  # a cell of another type
                data = [i for i, r in enumerate(rows) if r]
                if data:
                    r = rows[draw(st.sampled_from(data))]
                    r[draw(st.integers(0, len(r) - 1))] = draw(st.sampled_from(_odd_objects()))
        sheet = draw(st.sampled_from(["data", "Sheet1", "数据"]))
        blob = _workbook(header, rows, sheet, extra_sheet=draw(st.booleans()))
        bytewise = damaged and (not structural or draw(st.booleans()))
        if bytewise:
            member = draw(
                st.sampled_from(
                    [None, "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "xl/workbook.xml"]
                )
            )
            blob = _damage_member(draw, blob, member) if member else damage_bytes(draw, blob)
        n_rows = len(rows) + 1
        lines = None if bytewise else [n + 2 for n, r in enumerate(rows) if r and _nonblank(r)]
        return {
            "layout": name,
            "data": blob,
            "sheet": draw(st.sampled_from([sheet, sheet, None, "missing"])) if damaged else sheet,
            "lines": lines,
            "max_line": n_rows if not bytewise else 1_048_576,
            "expected": expected if not damaged else None,
        }

    return case()


def _damage_member(draw: Callable, blob: bytes, member: str) -> bytes:
    """The workbook with the XML of ``member`` damaged inside a valid zip (right CRCs)."""
    import zipfile

    src, out = zipfile.ZipFile(io.BytesIO(blob)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == member:
                body = damage_bytes(draw, body)
            z.writestr(info, body)
    return out.getvalue()


def _nonblank(row: list[Any]) -> bool:
    from pipelines.sources.column_table import _cell

    return any(_cell(c).strip() for c in row)


def _workbook(
    header: list[Any], rows: list[list[Any] | None], sheet: str, extra_sheet: bool
) -> bytes:
    """An ``.xlsx`` file of the table (``None`` rows are empty rows)."""
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def ok(v: Any) -> Any:
        if isinstance(v, str):
            return ILLEGAL_CHARACTERS_RE.sub("?", v)
        return v

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([ok(h) for h in header])
    for r in rows:
        ws.append([None] * max(len(header), 1) if r is None else [ok(v) for v in r])
    if extra_sheet:
        wb.create_sheet("说明").append(["notes", "not data"])
    when = dt.datetime(2016, 1, 1)
    buf = io.BytesIO()
    wb.save(buf)
    # the same bytes on every run (Hypothesis replays a case by its draws): fixed zip times
    import zipfile

    src, out = zipfile.ZipFile(buf), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time
                body = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2016-01-01T00:00:00Z", body)
            z.writestr(fixed, body)
    return out.getvalue()


def check_xlsx(case: dict[str, Any], tmp: Path) -> dict[str, int]:
    """Properties of an Excel case (module docstring)."""
    from pipelines.ingest import read_source

    out = Outcome()
    path = (tmp / "export.xlsx").resolve()
    path.write_bytes(case["data"])
    source = _source_block(case["layout"], [str(path)])
    source.pop("delimiter", None)
    if case["sheet"]:
        source["sheet"] = case["sheet"]
    net = _load_net(tmp, source)
    with hard_limit():
        batch = read_source(0, net)
        check_batch(
            batch,
            net,
            {str(path): case["lines"]},
            {str(path): case["max_line"]},
            out,
            per_line=3 if LAYOUTS[case["layout"]].wide else 1,
        )
    if case["expected"] is not None:
        assert not batch.quarantine and not batch.rejected, (
            f"an undamaged workbook lost rows: {batch.quarantine[:3]} {batch.rejected[:1]}"
        )
        _round_trip(batch.frame, case["expected"], out)
    return out.as_dict()


# ------------------------------------------------------------------------------ HTTP responses
URL = "http://fuzz.invalid/api"


@contextlib.contextmanager
def served(reply: Callable[[str, dict[str, Any]], tuple[int, bytes, str]]) -> Iterator[list]:
    """Answer every ``requests`` call in the block with ``reply(url, form) -> (status, body,
    content type)``, through ``requests``' own response decoding (no socket); yields the log of
    ``(url, form, body)`` served."""
    from unittest import mock

    import requests
    from requests.utils import get_encoding_from_headers

    log: list[tuple[str, dict[str, Any], bytes]] = []

    def request(self: Any, method: str, url: str, params: Any = None, data: Any = None, **kw: Any):  # noqa: ANN202
        status, body, ctype = reply(url, dict(data or params or {}))
        log.append((url, dict(data or params or {}), body))
        resp = requests.models.Response()
        resp.status_code, resp._content, resp.url = status, body, url
        resp.headers["Content-Type"] = ctype
        resp.encoding = get_encoding_from_headers(resp.headers)
        return resp

    with mock.patch.object(requests.Session, "request", request):
        yield log


def _json_value(draw: Callable) -> Any:
    """A JSON value of any type (for a field that should hold another)."""
    st = _st()
    return draw(
        st.sampled_from(
            [None, True, False, 0, -1, 10**400, 1e308, [], {}, [1, 2], {"v": 1}, "", "NaN"]
        )
        | st.sampled_from(ODD_CELLS)
        | st.sampled_from(ODD_TIMES)
        | st.floats()
    )


def _json_bytes(draw: Callable, payload: Any, damaged: bool) -> tuple[bytes, str]:
    """Serialised payload (maybe GBK, a BOM, or damaged bytes) and its content type."""
    st = _st()
    text = json.dumps(payload, ensure_ascii=draw(st.booleans()))
    ctype = draw(
        st.sampled_from(
            ["application/json", "application/json; charset=utf-8"]
            + (["text/html; charset=gbk", "application/json; charset=latin-1"] if damaged else [])
        )
    )
    enc = "utf-8"
    if damaged and draw(st.integers(0, 3)) == 0:
        enc = draw(st.sampled_from(["gbk", "utf-16", "latin-1"]))
    body = text.encode(enc, errors="replace")
    if damaged and draw(st.integers(0, 4)) == 0:
        body = b"\xef\xbb\xbf" + body
    if damaged and draw(st.integers(0, 2)) == 0:
        body = damage_bytes(draw, body)
    return body, ctype


def _decode_reply(body: bytes, ctype: str) -> Any:
    """What ``requests`` makes of a body (the oracle); raises ValueError for no JSON."""
    import requests
    from requests.utils import get_encoding_from_headers

    resp = requests.models.Response()
    resp.status_code, resp._content = 200, body
    resp.headers["Content-Type"] = ctype
    resp.encoding = get_encoding_from_headers(resp.headers)
    return resp.json()


def http_json_cases():  # noqa: ANN201
    """Strategy of HTTP JSON responses: records of an OpenAQ/CNEMC-like feed, then damage."""
    st = _st()

    @st.composite
    def case(draw: Callable) -> dict[str, Any]:
        rows, expected = _table_rows(draw, "iso")
        records: list[Any] = []
        for cells, exp in zip(rows, expected, strict=True):
            rec: dict[str, Any] = {"stationCode": cells[1], "timePoint": cells[0]}
            for key, text in (("pm2_5", cells[2]), ("pm10", cells[3]), ("co", cells[4])):
                v = exp[0][2]["pm25" if key == "pm2_5" else key]
                rec[key] = None if v is None else draw(st.sampled_from([v, text]))
            rec["pm2_5_flag"] = draw(st.sampled_from(["N", "C", "M", None]))
            records.append(rec)
        damaged = draw(st.integers(0, 9)) >= 3
        path = draw(st.sampled_from(["data", "data", "result.items"]))
        if damaged and draw(st.booleans()):
            for _ in range(draw(st.integers(1, 3))):
                op = draw(st.sampled_from(["field", "drop", "type", "record", "dup", "extra"]))
                if op == "record":
                    records.insert(draw(st.integers(0, len(records))), _json_value(draw))
                elif not records:
                    continue
                else:
                    i = draw(st.integers(0, len(records) - 1))
                    rec = records[i]
                    if not isinstance(rec, dict):
                        continue
                    key = draw(st.sampled_from(["stationCode", "timePoint", "pm2_5", "co"]))
                    if op == "field":
                        rec[key] = draw(st.sampled_from(ODD_CELLS + ODD_TIMES))
                    elif op == "drop":
                        rec.pop(key, None)
                    elif op == "type":
                        rec[key] = _json_value(draw)
                    elif op == "dup":
                        records.insert(draw(st.integers(0, len(records))), dict(rec))
                    else:
                        rec[draw(st.sampled_from(["", "extra", "pm2_5 "]))] = 1
        payload: Any = {"status": "ok"}
        node = payload
        keys = path.split(".")
        for k in keys[:-1]:
            node[k] = {}
            node = node[k]
        node[keys[-1]] = records
        if damaged and draw(st.integers(0, 5)) == 0:
            payload = draw(
                st.sampled_from(
                    [[], None, "data", {"data": None}, {"data": {"0": records}}, {"result": []}]
                )
            )
        body, ctype = _json_bytes(draw, payload, damaged)
        return {
            "body": body,
            "ctype": ctype,
            "records_path": path,
            "expected": expected if not damaged else None,
        }

    return case()


def _records_of(payload: Any, path: str) -> list | None:
    node = payload
    for k in path.split("."):
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return node if isinstance(node, list) else None


def check_http_json(case: dict[str, Any], tmp: Path) -> dict[str, int]:
    """Properties of an HTTP JSON response (module docstring)."""
    from pipelines.errors import SourceError
    from pipelines.ingest import read_source

    out = Outcome()
    source = {
        "adapter": "http_json",
        "url": URL,
        "values_endpoint": "/values",
        "records_path": case["records_path"],
        "end": "2016-03-29T00:00:00+08:00",
        "lookback": "72h",
        "retries": 0,
        "timeout": 1,
        "fields": {"station": "stationCode", "time": "timePoint"},
        "columns": {
            "pm2_5": {"variable": "pm25", "units": "ug m-3", "flag_column": "pm2_5_flag"},
            "pm10": {"variable": "pm10", "units": "ug m-3"},
            "co": {"variable": "co", "units": "mg m-3"},
        },
    }
    net = _load_net(tmp, source)
    url = URL + "/values"
    try:
        records = _records_of(_decode_reply(case["body"], case["ctype"]), case["records_path"])
    except ValueError:
        records = None
    with hard_limit(), served(lambda u, form: (200, case["body"], case["ctype"])):
        try:
            batch = read_source(0, net)
        except SourceError as exc:
            assert records is None, f"a response of {len(records)} records refused: {exc}"
            _check_error(exc, {url: 1}, out)
            return out.as_dict()
        assert records is not None, "a response without a records list was read"
        n = len(records)
        check_batch(batch, net, {url: list(range(1, n + 1))}, {url: n}, out)
    if case["expected"] is not None:
        assert not batch.quarantine, f"an undamaged response lost rows: {batch.quarantine[:3]}"
        _round_trip(batch.frame, case["expected"], out, first_line=1)
    return out.as_dict()


# ------------------------------------------------------------------------------ CNEMC pages
CNEMC_THEAD = [
    "省份",
    "流域",
    "断面名称",
    "监测时间",
    "水质类别",
    "pH(无量纲)",
    "溶解氧(mg/L)",
    "氨氮(mg/L)",
    "站点情况",
]


def cnemc_cases():  # noqa: ANN201
    """Strategy of CNEMC publishing pages: sections x 4-hourly times, paged, then damage."""
    st = _st()

    @st.composite
    def case(draw: Callable) -> dict[str, Any]:
        keys = draw(
            st.lists(st.tuples(st.integers(0, 2), st.integers(0, 17)), max_size=12, unique=True)
        )
        end = dt.datetime(2017, 1, 1, 8, 0)
        body: list[Any] = []
        for s, k in keys:
            t = end - dt.timedelta(hours=4 * k)
            ph, do, nh3n = (draw(st.floats(0.01, 14).map(lambda v: f"{v:.2f}")) for _ in range(3))
            nh3n = draw(st.sampled_from([nh3n, "0.025L", "<0.01", "--", ""]))
            do = draw(st.sampled_from([do, f"<span title='原始值'>{do}</span>"]))
            status = draw(st.sampled_from(["正常", "正常", "维护", "停运", ""]))
            body.append(
                [
                    "江苏省",
                    "长江流域",
                    STATIONS[s][2],
                    f"{t:%m-%d %H:%M}",
                    "Ⅱ",
                    ph,
                    do,
                    nh3n,
                    status,
                ]
            )
        thead: list[Any] = list(CNEMC_THEAD)
        damaged = draw(st.integers(0, 9)) >= 3
        if damaged and draw(st.booleans()):
            thead, body = damage_table(draw, thead, body, [3])
            body = [r for r in body if r is not None]
            for _ in range(draw(st.integers(0, 2))):
                if body:
                    i = draw(st.integers(0, len(body) - 1))
                    body[i] = draw(
                        st.sampled_from(
                            [None, "row", {"断面名称": "x"}, [], list(body[i] or [])[:3]]
                        )
                        | st.builds(lambda v: [v] * len(thead), st.sampled_from(_JSON_CELLS))
                    )
        size = draw(st.integers(1, 6))
        total: Any = len(body)
        mode = "honest"
        if damaged and draw(st.integers(0, 3)) == 0:
            mode = draw(st.sampled_from(["total", "repeat", "columns", "payload"]))
            if mode in ("total", "repeat"):
                total = draw(
                    st.sampled_from([0, -1, len(body) + 7, 10**9, "12", "abc", None, 2.5, [1]])
                )
        pages = [body[i : i + size] for i in range(0, max(len(body), 1), size)] or [[]]
        replies = []
        for k in range(len(pages) + 2):  # beyond the last page: empty pages
            rows = pages[0] if mode == "repeat" else pages[k] if k < len(pages) else []
            head = thead
            if mode == "columns" and k == 1:
                head = thead[:-1]
            payload: Any = {"thead": head, "tbody": rows, "total": total}
            if mode == "payload" and k == 0:
                payload = draw(
                    st.sampled_from(
                        [
                            [],
                            None,
                            {"thead": thead},
                            {"tbody": rows},
                            {"thead": "断面名称", "tbody": rows},
                            {"thead": thead, "tbody": {"0": rows}},
                            {"thead": thead, "tbody": "x"},
                        ]
                    )
                )
            replies.append(_json_bytes(draw, payload, damaged and draw(st.integers(0, 3)) == 0))
        return {"replies": replies, "page_size": size, "clean": not damaged}

    return case()


_JSON_CELLS = [None, 1, 1.5, True, [], {}, "", "<b>", "1.2.3L", "12-31 20:00+08:00", "02-30 00:00"]


def check_cnemc(case: dict[str, Any], tmp: Path) -> dict[str, int]:
    """Properties of a paged CNEMC release (module docstring)."""
    from pipelines.errors import SourceError
    from pipelines.ingest import read_source

    out = Outcome()
    source = {
        "adapter": "cnemc",
        "url": URL,
        "end": "2017-01-01T08:00",
        "page_size": case["page_size"],
        "retries": 0,
        "timeout": 1,
        "columns": {
            "pH": {"variable": "ph", "units": "1"},
            "溶解氧": {"variable": "dissolved_oxygen", "units": "mg L-1"},
            "氨氮": {"variable": "nh3n", "units": "mg L-1"},
        },
    }
    net = _load_net(tmp, source)
    replies = case["replies"]

    def reply(url: str, form: dict[str, Any]) -> tuple[int, bytes, str]:
        k = int(form["PageIndex"]) - 1
        body, ctype = replies[k] if 0 <= k < len(replies) else replies[-1]
        return 200, body, ctype

    with hard_limit(), served(reply) as log:
        try:
            batch = read_source(0, net)
        except SourceError as exc:
            _check_error(exc, {URL: 1}, out)
            return out.as_dict()
        n, last = 0, None
        for k, (_, _, body) in enumerate(log):
            rows = _decode_reply(body, "application/json").get("tbody")
            if k and rows and rows == last:  # a repeated page is not read
                break
            n, last = n + len(rows), rows
        check_batch(batch, net, {URL: list(range(1, n + 1))}, {URL: n}, out, now="2017-01-02")
    if case["clean"]:
        assert not batch.quarantine, f"an undamaged release lost rows: {batch.quarantine[:3]}"
        out.clean_round_trips += 1
    return out.as_dict()


# ------------------------------------------------------------------------------ YAML files
def _odd_yaml_values() -> list[Any]:
    return [
        None,
        True,
        False,
        0,
        -1,
        10**400,
        1e308,
        float("nan"),
        float("inf"),
        -float("inf"),
        "",
        " ",
        "x",
        "yes",
        "1e3",
        "0x10",
        "2016-02-30",
        dt.date(2016, 3, 26),
        dt.datetime(2016, 3, 26, 1, 0),
        [],
        {},
        [1, "a", None],
        {"a": 1},
        {"": None},
        [[[]]],
        "清源" * 50,
        "y" * 3000,
        "../../etc/passwd",
        "*",
        "{a,b}",
    ]


def _paths(node: Any, at: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys / indexes) into nested dicts and lists."""
    out = [at]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*at, i))
    return out


def _get(node: Any, path: tuple) -> Any:
    for k in path:
        node = node[k]
    return node


def damage_tree(draw: Callable, data: Any, max_ops: int = 3) -> Any:
    """Return a deep copy of parsed YAML with 1 to ``max_ops`` changes: keys deleted, values of
    another type, unknown and misspelt keys, list items duplicated or emptied."""
    import copy

    st = _st()
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, max_ops))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        top = [p for p in paths if len(p) == 1]
        path = draw(st.sampled_from(top if top and draw(st.integers(0, 2)) == 0 else paths))
        parent, key = _get(data, path[:-1]), path[-1]
        op = draw(
            st.sampled_from(["delete", "value", "value", "null", "unknown", "typo", "dup", "empty"])
        )
        if op == "delete":
            del parent[key]
        elif op == "null":
            parent[key] = None
        elif op == "value":
            parent[key] = draw(st.sampled_from(_odd_yaml_values()))
        elif op == "unknown" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "备注", "time_zone ", "Name"]))] = 1
        elif op == "typo" and isinstance(parent, dict) and isinstance(key, str) and key:
            i = draw(st.integers(0, len(key) - 1))
            typo = key[:i] + key[i + 1 :] if len(key) > 1 else key + "s"
            if typo not in parent:
                parent[typo] = parent.pop(key)
        elif op == "dup" and isinstance(parent, list):
            parent.insert(draw(st.integers(0, len(parent))), copy.deepcopy(parent[key]))
        elif op == "empty":
            v = parent[key]
            parent[key] = [] if isinstance(v, list) else {} if isinstance(v, dict) else ""
    return data


def yaml_bytes(draw: Callable, data: Any, damaged: bool) -> bytes:
    """YAML text of ``data``, maybe GBK, with a BOM, a line repeated, tabs, or damaged bytes."""
    st = _st()
    text = dump_yaml(data)
    if damaged and draw(st.integers(0, 4)) == 0:
        lines = text.split("\n")
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        op = draw(st.sampled_from(["repeat", "tab", "anchor", "alias"]))
        if op == "repeat":
            lines.insert(i, lines[i])
        elif op == "tab":
            lines[i] = lines[i].replace("  ", "\t", 1)
        elif op == "anchor":
            lines[i] = lines[i] + " &a"
        else:
            lines[i] = lines[i].split(":")[0] + ": *a"
        text = "\n".join(lines)
    enc = "utf-8"
    if damaged and draw(st.integers(0, 5)) == 0:
        enc = draw(st.sampled_from(["gbk", "utf-16", "latin-1"]))
    data_b = text.encode(enc, errors="replace")
    if enc == "utf-8" and draw(st.integers(0, 5)) == 0:
        data_b = b"\xef\xbb\xbf" + data_b
    if damaged and draw(st.integers(0, 2)) == 0:
        data_b = damage_bytes(draw, data_b)
    return data_b


def _plain_yaml(raw: bytes) -> Any:
    """The file as plain PyYAML reads it (the oracle of counts); None when it cannot."""
    try:
        return yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError):
        return None


def _n_lines(raw: bytes) -> int:
    return len(physical_lines(raw)) + 1


SOURCE_STATIONS = [
    {
        "id": "E01-G1",
        "name": "示例热电厂甲1号排气筒",
        "enterprise": "E01",
        "medium": "air",
        "mn": "88888880000001",
        "password": "demoe01g1",
        "lat": 39.7074,
        "lon": 116.1098,
        "stack_height_m": 210,
        "standard": "gb13223-2011",
        "standard_class": "coal_boiler_new",
        "limits": {"stack_so2": 35.0},
    },
    {
        "id": "E15-W1",
        "name": "示例城镇污水处理厂甲总排口",
        "enterprise": "E15",
        "medium": "water",
        "mn": "88888880000017",
        "password_env": "QY_FUZZ_E15",
        "lat": 39.7898,
        "lon": 116.5055,
        "standard": "gb18918-2002",
        "standard_class": "1A",
        "river": "example_cn",
        "reach": "QH03",
    },
]


def network_cases():  # noqa: ANN201
    """Strategy of network YAML files (air with a stations file and QC, or pollution sources)."""
    st = _st()

    @st.composite
    def case(draw: Callable) -> dict[str, Any]:
        kind = draw(st.sampled_from(["air", "air", "source"]))
        if kind == "air":
            net = network_dict(_source_block("iso", ["data/*.csv"]))
            if draw(st.booleans()):
                net["qc"] = {"checks": {"gross_range": {"ranges": {"co": {"valid": [0, 30]}}}}}
            if draw(st.booleans()):
                net["duplicates"] = {"file_order": "modified", "blank_in_later": "blank"}
        else:
            net = {
                "name": "fuzz_sources",
                "kind": "source",
                "time_zone": "Asia/Shanghai",
                "time_label": "interval_end",
                "frequency": "1h",
                "sources": [
                    {
                        "adapter": "hj212_log",
                        "files": ["{store}/hj212/raw/*.log"],
                        "cn": "2061",
                        "columns": {
                            "a21026": {"variable": "stack_so2", "units": "mg m-3"},
                            "w01018-Cou": {"variable": "effluent_cod_mass", "units": "kg"},
                        },
                    }
                ],
                "enterprises": [
                    {"id": "E01", "name": "示例热电厂甲", "lat": 39.7, "lon": 116.1},
                    {"id": "E15", "name": "示例城镇污水处理厂甲", "lat": 39.8, "lon": 116.5},
                ],
                "stations": json.loads(json.dumps(SOURCE_STATIONS, ensure_ascii=False)),
            }
        stations_csv, csv_damaged = None, False
        if kind == "air" and draw(st.booleans()):
            header = ["站点编码", "名称", "纬度", "经度", "station_class"]
            rows: list[list[str] | None] = [
                [f"2{k:03d}A", f"测站{k}", f"{39 + k / 10:.4f}", f"{116 + k / 10:.4f}", "urban"]
                for k in range(draw(st.integers(1, 4)))
            ]
            spec = {
                "path": "stations.csv",
                "columns": {"id": "站点编码", "name": "名称", "lat": "纬度", "lon": "经度"},
            }
            net["stations_file"] = spec
            csv_damaged = draw(st.integers(0, 3)) == 0
            if csv_damaged:
                header, rows = damage_table(draw, header, rows, [])
            text = write_table(header, rows, ",", draw(st.sampled_from(["\n", "\r\n"])), False)
            raw_csv = text.encode("utf-8")
            if csv_damaged and draw(st.booleans()):
                raw_csv = damage_bytes(draw, raw_csv)
            stations_csv = raw_csv
        damaged = draw(st.integers(0, 9)) >= 3
        if damaged and draw(st.integers(0, 2)) > 0:
            net = damage_tree(draw, net)
        clean = not damaged and not (stations_csv is not None and csv_damaged)
        return {
            "yaml": yaml_bytes(draw, net, damaged),
            "stations_csv": stations_csv,
            "clean": clean,
        }

    return case()


def check_network_yaml(case: dict[str, Any], tmp: Path) -> dict[str, int]:
    """Properties of a network file (module docstring)."""
    from pipelines.config import load_network, load_qc
    from pipelines.config.locations import config_dir
    from pipelines.errors import ConfigError

    out = Outcome()
    path = (tmp / "fuzznet.yml").resolve()
    path.write_bytes(case["yaml"])
    files = {str(path): _n_lines(case["yaml"])}
    if case["stations_csv"] is not None:
        csv_path = (tmp / "stations.csv").resolve()
        csv_path.write_bytes(case["stations_csv"])
        files[str(csv_path)] = _n_lines(case["stations_csv"])
    with hard_limit():
        try:
            net = load_network(str(path))
            files[str(config_dir() / "qc.yml")] = 10**6
            qc = load_qc(net)
        except ConfigError as exc:
            assert not case.get("clean"), f"an undamaged network file was refused: {exc}"
            _check_error(exc, files, out)
            return out.as_dict()
    assert isinstance(qc, dict)
    out.clean_round_trips += bool(case.get("clean"))
    plain = _plain_yaml(case["yaml"].removeprefix(b"\xef\xbb\xbf"))
    if isinstance(plain, dict):
        listed = plain.get("stations") or []
        n_file = 0
        if isinstance(plain.get("stations_file"), dict) and case["stations_csv"] is not None:
            n_file = len(data_lines(case["stations_csv"], "utf-8"))
        assert len(net.stations) == len(listed) + n_file, (
            f"{len(net.stations)} stations loaded, the file lists {len(listed)} + {n_file}"
        )
        assert len(net.sources) == len(plain.get("sources") or []), "a source was lost"
    out.parsed += 1
    out.rows += len(net.stations)
    return out.as_dict()


def _national_levels() -> list[dict[str, Any]]:
    return [
        {
            "name": "yellow",
            "rank": 3,
            "names": {"zh": "黄色预警", "en": "Yellow warning"},
            "colour": "#FFD700",
            "cap_severity": "Moderate",
            "any_of": [[{"aqi_above": 200, "days": 2}]],
        },
        {
            "name": "orange",
            "rank": 2,
            "names": {"zh": "橙色预警"},
            "cap_severity": "Severe",
            "any_of": [[{"aqi_above": 200, "days": 3}]],
        },
        {
            "name": "red",
            "rank": 1,
            "cap_severity": "Extreme",
            "any_of": [
                [{"aqi_above": 200, "days": 4}, {"aqi_above": 300, "days": 2}],
                [{"aqi_at_least": 500, "days": 1}],
            ],
        },
    ]


def warning_cases():  # noqa: ANN201
    """Strategy of warning files: a city inheriting a bundled scheme, or a scheme of its own."""
    st = _st()

    @st.composite
    def case(draw: Callable) -> dict[str, Any]:
        kind = draw(st.sampled_from(["city", "city", "scheme", "water"]))
        cfg: dict[str, Any] = {"name": f"fuzz-{kind}"}
        if kind in ("city", "water"):
            cfg |= {
                "network": "{network}",
                "sender": "warnings@fuzz.example",
                "sender_name": {"zh": "清源测试", "en": "Qingyuan fuzz"},
                "cap_status": draw(st.sampled_from(["Actual", "Exercise"])),
                "max_forecast_age_hours": 30,
                "areas": [
                    {"id": "all", "names": {"zh": "全市", "en": "City"}, "stations": "all"},
                    {"id": "ab", "stations": ["A", "B"], "geocode": {"GB2260": "110000"}},
                ],
                "subscribers": [{"url": "https://hooks.invalid/cap", "formats": ["cap", "json"]}],
                "outbox": {"max_attempts": 3, "backoff_s": 10},
                "confirmation": draw(st.sampled_from(["none", "required"])),
                "bulletin_charts": draw(st.sampled_from(["all", "at_risk"])),
            }
        if kind == "city":
            cfg["inherits"] = draw(st.sampled_from(["national-2018", "mee-2017", "beijing"]))
            if draw(st.booleans()):
                cfg["decision"] = {"confidence": 0.3, "min_lead_hours": 12}
            if draw(st.booleans()):
                cfg["replay"] = {
                    "train_end": "2016-02-29",
                    "start": "2016-03-01",
                    "end": "2016-03-31",
                }
        elif kind == "scheme":
            cfg |= {"title": "测试方案", "aqi_family": "hj633", "levels": _national_levels()}
            cfg["measures"] = {"yellow": {"zh": "减排", "en": "cuts"}}
            cfg["verification"] = {"heavy_aqi_above": 200, "episode_min_days": 2}
        else:
            levels = [{k: v for k, v in lv.items() if k != "any_of"} for lv in _national_levels()]
            cfg |= {
                "kind": "water",
                "levels": levels,
                "water": {
                    "standard": "gb3838-2002",
                    "class_level": "yellow",
                    "thresholds": [
                        {
                            "variable": "dissolved_oxygen",
                            "below": 3.0,
                            "units": "mg L-1",
                            "readings": 4,
                            "level": "orange",
                        },
                        {"variable": "nh3n", "above": 2.0, "units": "mg L-1", "level": "red"},
                    ],
                },
            }
            cfg["areas"][1]["target_class"] = "III"
        damaged = draw(st.integers(0, 9)) >= 3
        if damaged and draw(st.integers(0, 2)) > 0:
            cfg = damage_tree(draw, cfg)
        return {"yaml": yaml_bytes(draw, cfg, damaged), "kind": kind, "clean": not damaged}

    return case()


def check_warning_yaml(case: dict[str, Any], tmp: Path) -> dict[str, int]:
    """Properties of a warning city or scheme file (module docstring)."""
    from pipelines.config.locations import config_dir
    from pipelines.config.warnings import load_warning_config
    from pipelines.errors import ConfigError

    out = Outcome()
    net_path = (tmp / "fuzznet.yml").resolve()
    net_path.write_text(dump_yaml(network_dict(_source_block("iso", ["data/*.csv"]))), "utf-8")
    path = (tmp / "fuzz_warning.yml").resolve()
    raw = case["yaml"].replace(b"{network}", str(net_path).encode())
    path.write_bytes(raw)
    files = {str(path): _n_lines(raw), str(net_path): 10**6}
    with hard_limit():
        try:
            scheme, city = load_warning_config(str(path))
        except ConfigError as exc:
            assert not case.get("clean"), f"an undamaged file was refused: {exc}"
            _check_error(exc, files, out, under=str(config_dir()))
            return out.as_dict()
    out.clean_round_trips += bool(case.get("clean"))
    plain = _plain_yaml(raw.removeprefix(b"\xef\xbb\xbf"))
    assert scheme.levels, "a scheme without levels was loaded"
    if isinstance(plain, dict):
        if isinstance(plain.get("levels"), list):
            assert len(scheme.levels) == len(plain["levels"]), "a warning level was lost"
        if city is not None and isinstance(plain.get("areas"), list):
            assert len(city.areas) == len(plain["areas"]), "an area was lost"
        if plain.get("network") and city is None:
            raise AssertionError("a city file (with a network) loaded as a scheme")
    names = [lv.name for lv in scheme.levels]
    assert len(set(names)) == len(names), f"levels named twice: {names}"
    if city is not None:
        ids = [a.id for a in city.areas]
        assert len(set(ids)) == len(ids), f"areas with the same id: {ids}"
    out.parsed += 1
    out.rows += len(scheme.levels) + (len(city.areas) if city else 0)
    return out.as_dict()


# ------------------------------------------------------------------------------ rivers
def river_cases():  # noqa: ANN201
    """Strategy of river files: a tree of sections draining to one outlet, then damage."""
    st = _st()

    @st.composite
    def case(draw: Callable) -> dict[str, Any]:
        n = draw(st.integers(1, 7))
        ids = [f"S{k:02d}" for k in range(n)]
        with_network = draw(st.integers(0, 3)) == 0
        sections = []
        # coordinates: from the station network, or some sections' own
        xy = [with_network or draw(st.booleans()) for _ in ids]
        for k, sid in enumerate(ids):
            sec: dict[str, Any] = {
                "id": sid,
                "name": f"断面{k}",
                "river": draw(st.sampled_from(["清河", "白河"])),
            }
            sec["downstream"] = ids[draw(st.integers(k + 1, n - 1))] if k < n - 1 else None
            how = draw(st.sampled_from(["distance", "velocity", "travel", "coords"]))
            down = ids.index(sec["downstream"]) if sec["downstream"] else None
            if how == "coords" and down is not None and not (xy[k] and xy[down]):
                how = "distance"  # no coordinates to derive the distance from
            if sec["downstream"] and how != "coords":
                sec["distance_km"] = draw(st.floats(0.1, 80).map(lambda v: round(v, 2)))
            if how == "velocity":
                sec["velocity_m_s"] = draw(st.floats(0.05, 2).map(lambda v: round(v, 3)))
            if how == "travel":
                sec["travel_time_h"] = draw(st.floats(0.1, 48).map(lambda v: round(v, 2)))
            if xy[k] and not with_network:
                sec["lat"], sec["lon"] = 32 + k / 20, 118.5 + k / 15
            if draw(st.booleans()):
                sec["flow_m3_s"] = draw(st.floats(0.5, 300).map(lambda v: round(v, 1)))
            if draw(st.booleans()):
                sec["target_class"] = draw(st.sampled_from(["I", "II", "III", "IV", "V"]))
            sections.append(sec)
        cfg: dict[str, Any] = {
            "name": "fuzzriver",
            "title": "测试流域",
            "default_velocity_m_s": 0.4,
            "sinuosity": 1.3,
            "sections": sections,
        }
        if with_network:
            cfg["network"] = "{network}"
        damaged = draw(st.integers(0, 9)) >= 3
        if damaged and draw(st.integers(0, 2)) > 0:
            cfg = damage_tree(draw, cfg)
            secs = cfg.get("sections") if isinstance(cfg, dict) else None
            if draw(st.integers(0, 3)) == 0 and isinstance(secs, list) and len(secs) > 1:
                if isinstance(secs[-1], dict):  # a loop back to the first section
                    secs[-1]["downstream"] = ids[0]
        return {"yaml": yaml_bytes(draw, cfg, damaged), "ids": ids, "clean": not damaged}

    return case()


def check_river_yaml(case: dict[str, Any], tmp: Path) -> dict[str, int]:
    """Properties of a river file (module docstring)."""
    from pipelines.config.locations import config_dir
    from pipelines.config.rivers import load_river_network
    from pipelines.errors import ConfigError

    out = Outcome()
    net = network_dict(_source_block("iso", ["data/*.csv"]))
    net["stations"] = [
        {"id": f"S{k:02d}", "name": f"断面{k}", "lat": 32 + k / 20, "lon": 118.5 + k / 15}
        for k in range(7)
    ]
    net_path = (tmp / "fuzznet.yml").resolve()
    net_path.write_text(dump_yaml(net), "utf-8")
    path = (tmp / "fuzzriver.yml").resolve()
    raw = case["yaml"].replace(b"{network}", str(net_path).encode())
    path.write_bytes(raw)
    files = {str(path): _n_lines(raw), str(net_path): 10**6}
    with hard_limit():
        try:
            rn = load_river_network(str(path))
        except ConfigError as exc:
            assert not case.get("clean"), f"an undamaged file was refused: {exc}"
            _check_error(exc, files, out, under=str(config_dir()))
            return out.as_dict()
    out.clean_round_trips += bool(case.get("clean"))
    plain = _plain_yaml(raw.removeprefix(b"\xef\xbb\xbf"))
    if isinstance(plain, dict) and isinstance(plain.get("sections"), list):
        assert len(rn.sections) == len(plain["sections"]), (
            f"{len(plain['sections'])} sections listed, {len(rn.sections)} loaded"
        )
    for sid, sec in rn.sections.items():
        for name in ("distance_km", "travel_time_h"):
            v = getattr(sec, name)
            assert v is not None and math.isfinite(v) and v >= 0, f"section {sid}: {name} = {v}"
        for name in ("lat", "lon"):
            v = getattr(sec, name)
            assert v is None or math.isfinite(v), f"section {sid}: {name} = {v}"
    for sid in rn.sections:  # every path reaches an outlet
        assert len(rn.path_down(sid)) <= len(rn.sections)
    out.parsed += 1
    out.rows += len(rn.sections)
    return out.as_dict()


# ------------------------------------------------------------------------------ PMF files
PMF_SPECIES = ["PM2.5", "SO4", "NO3", "NH4", "OC", "EC", "Al", "Si", "Ca", "Fe", "Zn", "Pb", "铅"]


def pmf_cases():  # noqa: ANN201
    """Strategy of PMF concentration + uncertainty file pairs (PMF5 / ESAT layout), damaged."""
    st = _st()

    @st.composite
    def case(draw: Callable) -> dict[str, Any]:
        species = draw(st.lists(st.sampled_from(PMF_SPECIES), min_size=1, max_size=6, unique=True))
        n = draw(st.integers(1, 8))
        style = draw(st.sampled_from(["date", "datetime", "id"]))
        day = dt.date(2016, 1, 1)
        samples = [
            (day + dt.timedelta(days=3 * k)).isoformat()
            if style == "date"
            else f"{day + dt.timedelta(days=k)} 00:00"
            if style == "datetime"
            else f"S{k:03d}"
            for k in range(n)
        ]
        x, u = [], []
        for _ in range(n):
            xr, ur = [], []
            for _ in species:
                present = draw(st.integers(0, 7)) > 0
                v = draw(st.floats(0, 500, allow_nan=False)) if present else None
                e = draw(st.floats(1e-3, 50, allow_nan=False))
                xr.append(v)
                ur.append(e if present or draw(st.booleans()) else None)
            x.append(xr)
            u.append(ur)

        def cells(vals: list[list[float | None]]) -> list[list[str]]:
            return [
                [sid] + ["" if v is None else repr(v) for v in row]
                for sid, row in zip(samples, vals, strict=True)
            ]

        sep = draw(st.sampled_from([",", "\t"]))
        head = [draw(st.sampled_from(["Sample", "Date", "日期"]))] + species
        tables = {"conc": (list(head), cells(x)), "unc": (list(head), cells(u))}
        damaged = draw(st.integers(0, 9)) >= 3
        if damaged and draw(st.booleans()):
            which = draw(st.sampled_from(["conc", "unc", "both"]))
            for name in ("conc", "unc") if which == "both" else (which,):
                tables[name] = damage_table(draw, *tables[name], [0])
        if damaged and draw(st.integers(0, 4)) == 0:  # bad uncertainties, or rows in another order
            h, rows = tables["unc"]
            if rows and len(rows[0] or []) > 1:
                op = draw(st.sampled_from(["zero", "negative", "order", "species"]))
                if op == "order" and len(rows) > 1:
                    rows[0], rows[-1] = rows[-1], rows[0]
                elif op == "species" and len(h) > 2:
                    h[1], h[2] = h[2], h[1]
                elif rows[0] is not None:
                    rows[0][1] = "0" if op == "zero" else "-1.5"
        files = {}
        for name, (h, rows) in tables.items():
            text = write_table(h, rows, sep, draw(st.sampled_from(["\n", "\r\n"])), False)
            enc = "utf-8"
            if damaged and draw(st.integers(0, 5)) == 0:
                enc = draw(st.sampled_from(["gbk", "utf-16", "latin-1"]))
            raw = text.encode(enc, errors="replace")
            if draw(st.integers(0, 4)) == 0:
                raw = b"\xef\xbb\xbf" + raw
            if damaged and draw(st.integers(0, 3)) == 0:
                raw = damage_bytes(draw, raw)
            suffix = draw(st.sampled_from(["", "", ".xz", ".gz", ".bz2"]))
            packed = compress(raw, suffix)
            if damaged and suffix and draw(st.integers(0, 5)) == 0:
                packed = damage_bytes(draw, packed)
            files[name] = (f"{name}.csv{suffix}", packed)
        return {
            "files": files,
            "nonpositive": draw(st.sampled_from(["error", "floor"])),
            "expected": None if damaged else (species, samples, x),
        }

    return case()


def _text_of(name: str, data: bytes) -> str | None:
    suffix = next((s for s in (".xz", ".gz", ".bz2") if name.endswith(s)), "")
    raw = decompress(data, suffix)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def check_pmf(case: dict[str, Any], tmp: Path) -> dict[str, int]:
    """Properties of a PMF file pair (module docstring)."""
    import numpy as np

    from pipelines.errors import SourceError
    from pipelines.tracing.pmf_io import read_pmf_input

    out = Outcome()
    paths, lines = {}, {}
    for name, (fname, data) in case["files"].items():
        p = (tmp / fname).resolve()
        p.write_bytes(data)
        paths[name] = p
        text = _text_of(fname, data)
        lines[str(p)] = len(physical_lines(text.encode())) + 1 if text is not None else 10**6
    with hard_limit():
        try:
            got = read_pmf_input(paths["conc"], paths["unc"], case["nonpositive"])
        except SourceError as exc:
            _check_error(exc, lines, out)
            return out.as_dict()
    text = _text_of(*case["files"]["conc"])
    assert text is not None, "an unreadable concentration file was read"
    first = physical_lines(text.encode())[0].decode()
    sep = "\t" if first.count("\t") > first.count(",") else ","
    header = next(csv.reader([first], delimiter=sep))
    assert got.species == header[1:], f"species {got.species} from a header {header}"
    n_lines = sum(1 for ln in physical_lines(text.encode())[1:] if ln)  # blank: dropped, counted
    assert len(got.samples) + got.report["conc_empty_rows_dropped"] == n_lines, (
        f"{len(got.samples)} samples + {got.report['conc_empty_rows_dropped']} empty rows from "
        f"{n_lines} data lines"
    )
    rows = [
        next(csv.reader([ln], delimiter=sep))
        for ln in (b.decode() for b in physical_lines(text.encode())[1:])
        if ln.strip()
    ]
    rows = [r for r in rows if any(c.strip() for c in r)]
    widths = sorted({len(r) for r in rows} - {len(header)})
    assert not widths, f"rows of {widths} fields read under a header of {len(header)}"
    assert got.samples == [r[0].strip() for r in rows], "sample ids are not the first column"
    assert got.x.shape == got.u.shape == (len(got.samples), len(got.species))
    present = ~np.isnan(got.x)
    assert np.isfinite(got.x[present]).all(), "a concentration is not finite"
    assert (np.isfinite(got.u[present]) & (got.u[present] > 0)).all(), (
        "a present concentration without a positive, finite uncertainty"
    )
    if case["expected"] is not None:
        species, samples, x = case["expected"]
        want = np.array([[np.nan if v is None else v for v in r] for r in x], dtype=float)
        assert got.species == species and got.samples == samples, "species or samples changed"
        assert np.array_equal(got.x, want, equal_nan=True), "concentrations changed"
        out.clean_round_trips += 1
    out.parsed += 1
    out.rows += len(got.samples)
    return out.as_dict()


# ------------------------------------------------------------------------------ soil samples
SOIL_HEADER = [
    "sample_id", "plot", "x", "y", "depth_top_cm", "depth_bottom_cm", "land_use",
    "land_subtype", "ph", "date", "campaign", "analyte", "value", "unit", "method", "dl",
    "revision",
]  # fmt: skip
SOIL_NETWORK = """name: soilfuzz
kind: soil
crs: EPSG:32650
campaign: c1
analytes: {Cd: soil_cd, Pb: soil_pb, Zn: soil_zn, Cu: soil_cu, Benzene: soil_benzene}
sources:
  - adapter: soil_csv
    files: [samples.csv]
assumptions: [fuzz network]
"""


def _valid_soil_row(draw: Callable) -> list[str]:
    """One soil row whose every field is valid (a sample's own fields fixed by its id)."""
    st = _st()
    k = draw(st.integers(1, 4))
    land, sub, ph = [("agricultural", "paddy", "6.2"), ("agricultural", "other", "7.8"),
                     ("construction", "type1", ""), ("construction", "type2", "")][k - 1]  # fmt: skip
    value = draw(
        st.sampled_from(["<0.05", "ND"])
        | st.floats(0, 1e4, allow_nan=False).map(lambda v: f"{v:.6g}")
    )
    return [
        f"S{k}", f"P{k}", str(500000 + 100 * k), str(3500000 + 50 * k), "0", "20", land, sub, ph,
        "2026-05-10", draw(st.sampled_from(["c1", "c2"])),
        draw(st.sampled_from(["Cd", "Pb", "Zn", "Cu", "Benzene"])), value,
        draw(st.sampled_from(["mg/kg", "ug/kg", "%"])), "GB/T 17141", "0.01",
        draw(st.sampled_from(["", "0", "1", "2"])),
    ]  # fmt: skip


def soil_cases():  # noqa: ANN201
    """Strategy of soil laboratory CSV files (``soil_csv``): valid fields and bad ones, damaged."""
    st = _st()
    text = st.text(max_size=6)

    @st.composite
    def case(draw: Callable) -> dict[str, Any]:
        rows = []
        for _ in range(draw(st.integers(1, 12))):
            if draw(st.booleans()):  # a row of valid fields only (stored, or merged / refused
                rows.append(_valid_soil_row(draw))  # as a duplicate or a revision)
                continue
            sid = draw(st.sampled_from(["S1", "S2", "S3", "S4", "", " S1"]))
            x = draw(st.sampled_from(["500000", "500100", "501000", "5000000", "abc", ""]))
            land, sub = draw(
                st.sampled_from(
                    [("agricultural", "paddy"), ("agricultural", "other"), ("agricultural", ""),
                     ("construction", "type1"), ("construction", "type2"), ("wetland", "x")]
                )
            )  # fmt: skip
            rows.append(
                [
                    sid,
                    draw(st.sampled_from(["P1", "P2", ""])),
                    x,
                    draw(st.sampled_from(["3500000", "3500050", "nan", "-1e308"])),
                    draw(st.sampled_from(["0", "20", "-5", "x"])),
                    draw(st.sampled_from(["20", "40", "0", ""])),
                    land,
                    sub,
                    draw(st.sampled_from(["6.2", "7.8", "", "15", "acid"]) | text),
                    draw(st.sampled_from(["2026-05-10", "", "2026-13-40", "yesterday"])),
                    draw(st.sampled_from(["c1", "c2", ""])),
                    draw(st.sampled_from(["Cd", "Pb", "Zn", "Cu", "Benzene", "Unobtainium", "cd"])),
                    draw(
                        st.sampled_from(["0.45", "95", "<0.05", "ND", "n.d.", "-1", "1e999", "abc"])
                        | st.floats(0, 1e4, allow_nan=False).map(repr)
                    ),
                    draw(st.sampled_from(["mg/kg", "ug/kg", "%", "mg/L", "", "MG/KG"])),
                    draw(st.sampled_from(["GB/T 17141", "HJ 491", ""])),
                    draw(st.sampled_from(["", "0.01", "1", "-1", "x"])),
                    draw(st.sampled_from(["", "", "0", "1", "2", "x", "-1", "1.5"])),
                ]
            )
        header = list(SOIL_HEADER)
        table: list[list[str] | None] = list(rows)
        damaged = draw(st.integers(0, 9)) >= 3
        if damaged and draw(st.booleans()):
            header, table = damage_table(draw, header, table, [9])
        raw = write_table(header, table, ",", draw(st.sampled_from(["\n", "\r\n"])), False)
        data = raw.encode("utf-8")
        if damaged and draw(st.integers(0, 3)) == 0:
            data = damage_bytes(draw, data)
        return {"data": data, "damaged": damaged, "rows": len([r for r in table if r])}

    return case()


def check_soil(case: dict[str, Any], tmp: Path) -> dict[str, int]:
    """Properties of a soil laboratory file through ``ingest_job`` (module docstring), and more.

    Accounting holds (rows in = stored + merged + quarantined), every quarantined row names the
    file, a line of it, a field and a reason, every stored value is finite and >= 0 (a below-DL
    value equals its limit), and a second ingest of the same file stores nothing new and changes
    nothing stored.
    """
    import numpy as np
    import pandas as pd

    from pipelines.config import load_network
    from pipelines.errors import SourceError
    from pipelines.soil.jobs import ingest_job
    from pipelines.soil.store import SoilStore

    out = Outcome()
    data_file = (tmp / "samples.csv").resolve()
    data_file.write_bytes(case["data"])
    net_file = tmp / "soilfuzz.yml"
    net_file.write_text(SOIL_NETWORK, encoding="utf-8")
    store = tmp / "store"
    n_lines = len(physical_lines(case["data"])) + 1
    with hard_limit():
        try:
            first = ingest_job(str(net_file), str(store))
        except SourceError as exc:
            _check_error(exc, {str(data_file): n_lines}, out)
            return out.as_dict()
    assert first["balanced"], f"row accounting: {first}"
    if not case["damaged"]:
        assert first["rows_in"] == case["rows"], f"{first['rows_in']} rows of {case['rows']}"
    q = pd.read_csv(first["quarantine_file"], dtype=str, keep_default_na=False)
    assert len(q) == first["rows_quarantined"], "quarantine file and count differ"
    for r in q.itertuples():
        assert Path(r.file).resolve() == data_file, f"quarantined row names {r.file}"
        assert r.line.isdigit() and 2 <= int(r.line) <= n_lines, f"line {r.line} of {n_lines}"
        assert r.field.strip() and r.reason.strip(), f"quarantined without field/reason: {r}"
    net = load_network(str(net_file))
    st = SoilStore(store, net, {})
    stored = st.read()
    if len(stored):
        v = stored["value"].to_numpy(float)
        assert np.isfinite(v).all() and (v >= 0).all(), "a stored value is not finite or < 0"
        below = stored["below_dl"].to_numpy(bool)
        assert np.allclose(v[below], stored["dl"].to_numpy(float)[below]), "below DL != DL"
        assert len(stored) == len(stored.drop_duplicates(["campaign", "sample_id", "variable"]))
    second = ingest_job(str(net_file), str(store))
    assert second["rows_stored"] == 0 and second["balanced"], f"re-ingest stored {second}"
    again = st.read()
    cols = ["campaign", "sample_id", "variable", "value", "revision"]
    if len(stored) or len(again):
        a = stored[cols].sort_values(cols[:3]).reset_index(drop=True)
        b = again[cols].sort_values(cols[:3]).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    out.parsed += 1
    out.rows += first["rows_in"]
    out.stored += first["rows_stored"]
    out.merged += first["rows_merged"]
    out.quarantined += first["rows_quarantined"]
    if not case["damaged"]:
        out.clean_round_trips += 1
    return out.as_dict()


# ------------------------------------------------------------------------------ the targets
@dataclass(frozen=True)
class Target:
    """One parser under test: its case strategy, its property check and what it covers."""

    name: str
    cases: Callable[[], Any]
    check: Callable[[Any, Path], dict[str, int]]
    what: str


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "csv",
            csv_cases,
            check_csv,
            "column_table (ISO, time_format, date+hour, wide), prsa_csv, ndfa_sonde; "
            "plain, .gz, .xz, .bz2",
        ),
        Target("xlsx", xlsx_cases, check_xlsx, "column_table on .xlsx (openpyxl, read-only)"),
        Target("http_json", http_json_cases, check_http_json, "http_json response bodies"),
        Target("cnemc", cnemc_cases, check_cnemc, "CNEMC publishing pages (paged POST)"),
        Target(
            "network_yaml",
            network_cases,
            check_network_yaml,
            "load_network + load_qc (air with stations_file CSV; kind: source)",
        ),
        Target(
            "warning_yaml",
            warning_cases,
            check_warning_yaml,
            "load_warning_config (city inheriting a scheme, air scheme, water city)",
        ),
        Target("river_yaml", river_cases, check_river_yaml, "load_river_network"),
        Target("pmf", pmf_cases, check_pmf, "read_pmf_input (concentration + uncertainty)"),
        Target(
            "soil_csv",
            soil_cases,
            check_soil,
            "soil_csv laboratory files through ingest_job (accounting, quarantine, re-ingest)",
        ),
    )
}
