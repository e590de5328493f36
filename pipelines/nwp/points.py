"""Station-point NWP tables (CSV or JSON): ``station, issue_time, valid_time, <variable>...``.

Variable columns carry registry names; their units come from the feed's ``columns`` in the
network YAML. Times without a zone are taken as UTC. When the table has ``lat`` and ``lon``
columns, each network station takes the nearest forecast point (within ``max_distance_km``);
otherwise ``station`` must name network stations (id, code or name).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from features.nwp import nearest_points
from features.units import UnitError, convert
from pipelines.config.networks import NetworkSpec, WeatherFeedSpec
from pipelines.config.registry import load_variables
from pipelines.errors import SourceError
from pipelines.nwp.runs import StationRun, check_issue_time

__all__ = ["read_points"]

_KEYS = ("station", "issue_time", "valid_time")


def _table(file: str) -> pd.DataFrame:
    try:
        if file.endswith(".json"):
            data = json.loads(Path(file).read_text(encoding="utf-8"))
            rows = data.get("forecasts", data) if isinstance(data, dict) else data
            return pd.DataFrame(rows)
        return pd.read_csv(file, dtype={"station": str})
    except (OSError, ValueError) as exc:
        raise SourceError(file, f"not a readable point table ({exc})") from exc


def _utc(file: str, col: pd.Series, name: str) -> pd.DatetimeIndex:
    try:
        t = pd.to_datetime(col, utc=True)
    except (ValueError, TypeError) as exc:
        raise SourceError(file, f"column {name!r}: not a time ({exc})", field=name) from exc
    return pd.DatetimeIndex(t).tz_localize(None)


def read_points(
    path: Path | str,
    *,
    network: NetworkSpec,
    feed: WeatherFeedSpec,
    now: pd.Timestamp | None = None,
) -> list[StationRun]:
    """Read a station-point table into station runs in registry units.

    Parameters
    ----------
    path : pathlib.Path or str
        CSV or JSON (a list of records, or ``{"forecasts": [...]}``).
    network : NetworkSpec
        Its stations receive the values.
    feed : WeatherFeedSpec
        Column units (``columns``) and ``max_distance_km``.
    now : pandas.Timestamp, optional
        The present (naive UTC; default: the clock); a later issue time is an error.

    Returns
    -------
    list of StationRun
        One per issue time, oldest first (method ``station`` or ``nearest``).

    Raises
    ------
    SourceError
        Naming file, column and reason: missing key column, unknown variable, no units
        configured, units that do not convert, unknown station, a forecast point too far,
        a valid time before the issue time or not a whole hour after it, a future issue time.
    """
    file = str(path)
    registry = load_variables()["variables"]
    now = now if now is not None else pd.Timestamp.now("UTC").tz_localize(None)
    df = _table(file)
    for key in _KEYS:
        if key not in df.columns:
            raise SourceError(file, f"missing column {key!r} (need {list(_KEYS)})", field=key)
    geo = {"lat", "lon"} <= set(df.columns)
    variables = [c for c in df.columns if c not in (*_KEYS, "lat", "lon")]
    for col in variables:
        if col not in registry:
            raise SourceError(
                file, f"unknown variable {col!r} (see configs/variables.yml)", field=col
            )
        if col not in feed.columns:
            raise SourceError(
                file, f"no units configured for {col!r} (feed {feed.name!r}, columns:)", field=col
            )
    issue = _utc(file, df["issue_time"], "issue_time")
    valid = _utc(file, df["valid_time"], "valid_time")
    lead_h = (valid - issue) / pd.Timedelta(hours=1)
    bad = np.flatnonzero((lead_h < 0) | (np.abs(lead_h - np.round(lead_h)) > 1e-9))
    if bad.size:
        raise SourceError(
            file,
            f"valid_time before issue_time or not a whole hour after it (row {bad[0] + 1})",
            line=int(bad[0]) + 2 if not file.endswith(".json") else None,
            field="valid_time",
        )
    ids = network.station_ids()
    stations = df["station"].astype(str).to_numpy()
    if geo:
        pts = df[["station", "lat", "lon"]].drop_duplicates("station")
        idx, dist = nearest_points(
            pts["lat"].to_numpy(float),
            pts["lon"].to_numpy(float),
            np.array([s.lat for s in network.stations]),
            np.array([s.lon for s in network.stations]),
        )
        far = [s for s, d in zip(ids, dist, strict=True) if d > feed.max_distance_km]
        if far:
            raise SourceError(
                file,
                f"no forecast point within {feed.max_distance_km:g} km of station(s) {far}",
                field="station",
            )
        chosen = pts["station"].astype(str).to_numpy()[idx]
        point_to_rows = {p: [i for i, s in enumerate(ids) if chosen[i] == p] for p in set(chosen)}
        method = "nearest"
    else:
        lookup = network.station_lookup()
        unknown = sorted({s for s in stations if s not in lookup})
        if unknown:
            raise SourceError(
                file, f"unknown station(s) {unknown} of network {network.name!r}", field="station"
            )
        point_to_rows = {}
        for s in set(stations):
            point_to_rows.setdefault(s, []).append(ids.index(lookup[s]))
        method = "station"
    csv = not file.endswith(".json")
    dup = np.flatnonzero(
        pd.DataFrame({"s": stations, "i": issue, "v": valid}).duplicated().to_numpy()
    )
    if dup.size:
        r = int(dup[0])
        raise SourceError(
            file,
            f"row {r + 1}: station {stations[r]!r}, issue {issue[r]}, valid {valid[r]} given twice",
            line=r + 2 if csv else None,
            field="valid_time",
        )
    converted = {}
    for col in variables:
        raw = df[col]
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = np.flatnonzero(
            numbers.isna().to_numpy()
            & raw.notna().to_numpy()
            & (raw.astype(str).str.strip() != "").to_numpy()
        )
        if bad.size:
            r = int(bad[0])
            raise SourceError(
                file,
                f"row {r + 1}, column {col!r}: {raw.iloc[r]!r} is not a number",
                line=r + 2 if csv else None,
                field=col,
            )
        try:
            converted[col] = convert(
                numbers.to_numpy(float),
                feed.columns[col],
                registry[col]["units"],
            )
        except UnitError as exc:
            raise SourceError(file, f"column {col!r}: {exc}", field=col) from exc
    runs = []
    for t in sorted(set(issue)):
        check_issue_time(file, t, now, field="issue_time")
        sel = np.flatnonzero(issue == t)
        leads = np.unique(lead_h[sel]).astype("float64")
        values = {v: np.full((len(ids), leads.size), np.nan) for v in variables}
        for r in sel:
            j = int(np.searchsorted(leads, lead_h[r]))
            for i in point_to_rows.get(stations[r], []):
                for v in variables:
                    values[v][i, j] = converted[v][r]
        runs.append(StationRun(feed.name, t, ids, leads, values, [file], method))
    return runs
