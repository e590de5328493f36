"""HTTP JSON source (OpenAQ/CNEMC-like): a station list and time-stamped values per station.

Every pull re-fetches a look-back window (late data is normal: AirNow rows arrive hours late,
openaq-fetch #888); the store's idempotent upsert makes the overlap harmless. Requests are
retried with exponential backoff on connection errors, time-outs, HTTP 429 and 5xx.

Source options:

- ``url``: base URL; ``values_endpoint`` (default ``/values``) answers
  ``GET ?start=<ISO>&end=<ISO>`` with a JSON object whose ``records_path`` (default ``data``)
  is a list of records; ``stations_endpoint`` (optional, default ``/stations``) lists stations;
- ``fields``: ``{station: <key>, time: <key>}`` naming the record keys;
- ``columns``: record key -> ``{variable, units, flag_column?}``;
- ``lookback`` (default ``48h``), ``end`` (ISO time; default now, for replays),
  ``timeout`` [s] (default 10), ``retries`` (default 4), ``backoff`` [s] (default 0.5);
- ``time_format`` (default ISO 8601; naive times are local to the network's time zone).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import requests

from pipelines.config import NetworkSpec, SourceSpec
from pipelines.errors import ConfigError, QuarantineRecord, SourceError
from pipelines.sources.base import RawBatch
from pipelines.sources.tabular import TableLayout, parse_table

__all__ = ["OPTIONS", "fetch_json", "read", "validate_options"]

#: Options of a source block beyond the common ones (``files``, ``encoding``, ``missing_values``,
#: ``columns``); any other key is refused at load with the nearest name.
OPTIONS: frozenset[str] = frozenset(
    {
        "backoff",
        "end",
        "fields",
        "lookback",
        "records_path",
        "retries",
        "time_format",
        "timeout",
        "url",
        "values_endpoint",
    }
)

_RETRY_STATUS = {429, 500, 502, 503, 504}


def fetch_json(
    url: str,
    params: dict[str, str] | None = None,
    *,
    timeout: float = 10.0,
    retries: int = 4,
    backoff: float = 0.5,
    session: requests.Session | None = None,
    method: str = "GET",
    data: dict[str, Any] | None = None,
) -> tuple[Any, int]:
    """GET (or POST ``data`` as a form) a JSON document with retries and exponential backoff.

    Returns
    -------
    payload : Any
        The decoded JSON.
    attempts : int
        How many requests were made.

    Raises
    ------
    SourceError
        After the last retry, or at once for a non-retryable HTTP error or invalid JSON.
    """
    sess = session or requests.Session()
    last: str = ""
    for attempt in range(1, retries + 2):
        try:
            resp = sess.request(method, url, params=params, data=data, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if resp.status_code in _RETRY_STATUS:
                last = f"HTTP {resp.status_code}"
            elif resp.status_code >= 400:
                raise SourceError(url, f"HTTP {resp.status_code}: {resp.text[:200]}")
            else:
                try:
                    return resp.json(), attempt
                except (json.JSONDecodeError, ValueError) as exc:
                    raise SourceError(
                        url, f"response is not JSON: {exc}; starts {resp.text[:80]!r}"
                    ) from exc
        if attempt <= retries:
            time.sleep(backoff * 2 ** (attempt - 1))
    raise SourceError(url, f"gave up after {retries + 1} attempts; last error: {last}")


def _records(payload: Any, path: str, url: str) -> list[dict[str, Any]]:
    node = payload
    for key in [p for p in path.split(".") if p]:
        if not isinstance(node, dict) or key not in node:
            raise SourceError(url, f"JSON has no {path!r} (records_path)")
        node = node[key]
    if not isinstance(node, list):
        raise SourceError(url, f"{path!r} is not a list")
    return node


def read(source: SourceSpec, network: NetworkSpec) -> RawBatch:
    """Pull the look-back window from the HTTP source into a :class:`RawBatch`."""
    base = source.option("url").rstrip("/")
    end = (
        pd.Timestamp(source.option("end"))
        if source.option("end")
        else pd.Timestamp.now(tz=network.time_zone)
    )
    if end.tzinfo is None:
        end = end.tz_localize(network.time_zone)
    start = end - pd.Timedelta(source.option("lookback", "48h"))
    kw = dict(
        timeout=float(source.option("timeout", 10)),
        retries=int(source.option("retries", 4)),
        backoff=float(source.option("backoff", 0.5)),
    )
    url = base + source.option("values_endpoint", "/values")
    payload, attempts = fetch_json(url, {"start": start.isoformat(), "end": end.isoformat()}, **kw)
    records = _records(payload, source.option("records_path", "data"), url)
    fields = source.option("fields", {})
    st_key, t_key = fields.get("station", "station"), fields.get("time", "time")
    value_keys = list(source.columns)
    flag_keys = [s.flag_column for s in source.columns.values() if s.flag_column]
    header = [st_key, t_key, *value_keys, *flag_keys]
    rows, quarantine = [], []
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            quarantine.append(
                QuarantineRecord(url, i, "", "record is not a JSON object", str(rec)[:300])
            )
            continue
        missing = [k for k in (st_key, t_key) if k not in rec]
        if missing:
            quarantine.append(
                QuarantineRecord(
                    url,
                    i,
                    ",".join(missing),
                    "record lacks required field(s)",
                    json.dumps(rec, ensure_ascii=False)[:300],
                )
            )
            continue
        rows.append((i, ["" if rec.get(k) is None else str(rec.get(k)) for k in header]))
    notes = [
        f"{url}: {len(records)} records for {start.isoformat()} .. {end.isoformat()} "
        f"in {attempts} attempt(s)"
    ]
    layout = TableLayout(
        time_columns=[t_key], time_format=source.option("time_format"), station_column=st_key
    )
    rejected = []
    try:
        frame, q2, notes2 = parse_table(header, rows, Path(url), source, layout)
    except SourceError as exc:
        rejected.append(QuarantineRecord(url, 0, exc.field, exc.reason))
        frame, q2, notes2 = pd.DataFrame(columns=["station", "time", "_file", "_line"]), [], []
        quarantine += [
            QuarantineRecord(url, ln, "", f"response rejected: {exc.reason}") for ln, _ in rows
        ]
    frame["_file"] = url
    q2 = [dataclasses.replace(r, file=url) for r in q2]  # Path(url) has lost a slash
    units = {spec.variable: spec.units for spec in source.columns.values()}
    return RawBatch(
        frame=frame,
        units=units,
        quarantine=quarantine + q2,
        rows_in=len(records),
        files=[url],
        notes=notes + notes2,
        rejected=rejected,
    )


def validate_options(source: SourceSpec, path: Path, node: Any) -> None:
    """``url`` is required; ``lookback`` must be a duration."""
    line = getattr(node, "line", None)
    if not source.option("url"):
        raise ConfigError(str(path), line, "sources.url", "required by the http_json adapter")
    try:
        pd.Timedelta(source.option("lookback", "48h"))
    except ValueError as exc:
        raise ConfigError(str(path), line, "sources.lookback", f"not a duration: {exc}") from exc
