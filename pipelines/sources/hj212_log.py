"""Adapter ``hj212_log``: data uploads from the HJ 212 receiver's raw log into the station store.

The receiver (:mod:`pipelines.hj212.receiver`) appends every accepted packet to
``<store>/hj212/raw/<YYYYMMDD>.log`` before acknowledging it; this adapter reads those logs for a
``kind: source`` network (the default ``files`` are ``{store}/hj212/raw/*.log``). Each data upload
of the configured command (``cn``: ``2061`` hourly, ``2051`` minute, ``2031`` daily, ``2011``
real-time) of a monitor (station ``mn``) of the network is one row: its period's end (or start,
by the network's ``time_label``) in UTC, one column per mapped pollutant field, and the HJ 212
data flag of each as its status letter. Split uploads (PNUM/PNO) are reassembled first.

``columns`` map ``<code>`` (the ``Avg``, or ``Rtd`` of real-time data) or ``<code>-<field>``
(``ZsAvg``, ``Cou``, ``Min``, ``Max``) onto registry variables with their units, like the columns
of any other source. Row accounting: every upload of that command is stored or quarantined (a
re-sent upload is a duplicate the normaliser merges); an upload from an MN outside the network,
with an unreadable frame or ``DataTime``, or whose split parts never all arrived, is quarantined
with the reason; packets of other commands are counted in the notes.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.hj212 import Framer, PacketError, SplitAssembler, parse_packet
from features.hj212.records import INTERVALS, YEARS
from pipelines.config.networks import resolve_files
from pipelines.errors import ConfigError, QuarantineRecord, SourceError
from pipelines.hj212.receiver import escape_frame, frame_bytes, unescape_frame
from pipelines.sources.base import RawBatch

__all__ = ["DEFAULT_FILES", "OPTIONS", "read", "read_logs", "validate_options"]

#: Options of a source block beyond the common ones (``files``, ``encoding``, ``missing_values``,
#: ``columns``); any other key is refused at load with the nearest name.
OPTIONS: frozenset[str] = frozenset({"cn", "minute_interval"})

#: Where the receiver writes (``{store}`` is the store root of the ingest).
DEFAULT_FILES = ["{store}/hj212/raw/*.log"]

_FIELDS = ("Avg", "Rtd", "ZsAvg", "ZsRtd", "Cou", "Min", "Max")


def validate_options(source: Any, path: Path, node: Any) -> None:
    """Check ``cn`` and the column keys (``a21026`` or ``a21026-Cou``)."""
    cn = str(source.option("cn", "2061"))
    if cn not in INTERVALS:
        raise ConfigError(
            str(path),
            getattr(node, "lines", {}).get("cn"),
            "cn",
            f"not a data upload: {cn!r} (give one of {sorted(INTERVALS)})",
        )
    for key in source.columns:
        code, _, fld = key.partition("-")
        if not code or (fld and fld not in _FIELDS):
            line = node["columns"].lines.get(key) if "columns" in node else None
            raise ConfigError(
                str(path),
                line,
                f"columns.{key}",
                f"give a code or code-field ({', '.join(_FIELDS)})",
            )


def _column(code: str, field: str, cn: str) -> str:
    if field in ("Avg", "Rtd"):
        return code
    return f"{code}-{field}"


def read(source: Any, network: Any) -> RawBatch:
    """Read the logs named by the source's ``files`` (see the module docstring)."""
    files = resolve_files(source.files, network.path)
    if not files:
        raise SourceError(", ".join(source.files), "no HJ 212 raw log matches the pattern(s)")
    return read_logs(files, source, network)


def read_logs(files: list[Path], source: Any, network: Any) -> RawBatch:
    """Read HJ 212 raw logs into a :class:`RawBatch` for the network's stations."""
    from pipelines.config.hj212 import hj212_config

    spec = hj212_config()
    cn = str(source.option("cn", "2061"))
    minute_interval = int(source.option("minute_interval", 1))
    step = INTERVALS[cn]
    if cn == "2051":
        step = dt.timedelta(minutes=minute_interval)
    by_mn = {s.mn: s for s in network.stations if s.mn}
    zone = zoneinfo.ZoneInfo(network.time_zone)
    wanted = {k: v for k, v in source.columns.items()}
    rows: list[dict[str, Any]] = []
    quarantine: list[QuarantineRecord] = []
    others: Counter[str] = Counter()
    assembler = SplitAssembler()
    parts_of: dict[tuple[str, str, str], list[tuple[str, int]]] = {}
    n_parts = 0
    rows_in = 0
    torn = 0

    def refuse(file: str, line: int, field: str, reason: str, raw: str) -> None:
        quarantine.append(QuarantineRecord(file, line, field, reason, escape_frame(raw)[:500]))

    for path in files:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.split("\n"), start=1):  # only LF ends a line
            if not line:
                continue
            parts = line.split("\t")
            if len(parts) < 6:
                torn += 1  # a torn last line of a crash: its packet was never acknowledged
                continue
            frame_text = unescape_frame("\t".join(parts[5:]))
            if parts[3] != cn:
                others[parts[3]] += 1
                continue
            rows_in += 1
            frames = Framer().feed(frame_bytes(frame_text) + b"\r\n")
            frame = next((f for f in frames if hasattr(f, "data")), None)
            if frame is None:
                refuse(str(path), lineno, "frame", "unreadable frame in the raw log", frame_text)
                continue
            st = frame.data.split(b"ST=", 1)[-1][:3].split(b";")[0].decode("ascii", "replace")
            try:
                packet = parse_packet(frame.data, code_map=spec.code_map(st))
            except PacketError as exc:
                refuse(str(path), lineno, exc.field or "packet", f"unparsable: {exc}", frame_text)
                continue
            if packet.cn != cn:  # the log's CN column disagrees with the packet: trust the packet
                rows_in -= 1
                others[packet.cn] += 1
                continue
            station = by_mn.get(packet.mn)
            if station is None:
                refuse(
                    str(path),
                    lineno,
                    "MN",
                    f"MN {packet.mn!r} is not a station of {network.name}",
                    frame_text,
                )
                continue
            key = (packet.mn, packet.cn, packet.cp.get("DataTime", ""))
            if packet.split:
                n_parts += 1
                parts_of.setdefault(key, []).append((str(path), lineno))
                whole = assembler.add(packet)
                if whole is None:
                    rows_in -= 1  # counted once, when the upload is whole (or left incomplete)
                    continue
                parts_of.pop(key, None)
                packet = whole
            when = packet.cp.get("DataTime", "")
            try:
                local = dt.datetime.strptime(when[:14], "%Y%m%d%H%M%S")
            except ValueError:
                refuse(
                    str(path), lineno, "DataTime", f"not YYYYMMDDhhmmss: {when[:20]!r}", frame_text
                )
                continue
            if not YEARS[0] <= local.year <= YEARS[1]:
                why = f"year {local.year} outside {YEARS[0]}..{YEARS[1]}"
                refuse(str(path), lineno, "DataTime", why, frame_text)
                continue
            start = local.replace(tzinfo=zone)
            end = start + step if step is not None else start
            t = end if network.time_label == "interval_end" else start
            row: dict[str, Any] = {
                "station": station.id,
                "time": pd.Timestamp(t),
                "_file": str(path),
                "_line": lineno,
            }
            for code, vals in packet.values.items():
                flag = str(vals.get("Flag", "N"))
                for fld, value in vals.items():
                    col = _column(code, fld, cn)
                    spec_col = wanted.get(col)
                    if spec_col is None or fld == "Flag":
                        continue
                    row[spec_col.variable] = np.nan if value is None else float(value)
                    row[f"{spec_col.variable}__flag"] = flag
            rows.append(row)
    for key, where in parts_of.items():
        rows_in += 1
        file, line = where[-1]
        refuse(
            file,
            line,
            "PNO",
            f"split upload {key[1]} {key[2]} of {key[0]}: only {len(where)} part(s) arrived",
            "",
        )
    units = {c.variable: c.units for c in wanted.values()}
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["station", "time", "_file", "_line"])
    for v in units:
        if v not in frame:
            frame[v] = np.nan
    notes = []
    if others:
        notes.append(
            "packets of other commands in the logs (not data of CN "
            f"{cn}): " + ", ".join(f"{k}: {n}" for k, n in sorted(others.items()))
        )
    if torn:
        notes.append(
            f"{torn} incomplete raw-log line(s) skipped (written when the receiver died, never acknowledged)"
        )
    if n_parts:
        notes.append(f"{n_parts} split sub-packets reassembled")
    return RawBatch(
        frame=frame,
        units=units,
        quarantine=quarantine,
        rows_in=rows_in,
        files=[str(f) for f in files],
        notes=notes,
    )
