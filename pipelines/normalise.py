"""From raw source rows to a canonical station x time block ready for QC and the store.

Steps, each of which quarantines rows with a reason instead of dropping them silently:
station lookup, local time -> UTC (ambiguous or non-existent DST times refused), grid alignment,
future timestamps, unit conversion to the registry's units, and duplicate timestamps
(identical duplicates are set aside; conflicting ones keep the later row and flag the value).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.qc.flags import FLAG_CODES, QC_BITS
from features.times import naive_utc, to_local, utc_now
from features.units import convert
from pipelines.config import NetworkSpec
from pipelines.errors import QuarantineRecord
from pipelines.sources.base import RawBatch

__all__ = ["CanonicalBlock", "normalise"]


@dataclass
class CanonicalBlock:
    """Values on a regular ``(station, time)`` grid in canonical units.

    Attributes
    ----------
    stations : list of str
        Station ids (rows).
    times : pandas.DatetimeIndex
        UTC time labels (columns), regular at the network frequency.
    values : dict of numpy.ndarray
        Variable -> ``S x T`` float64 (NaN where no row or no value).
    source_flags : dict of numpy.ndarray
        Variable -> ``S x T`` int8 HJ 212 status from the source (``N`` by default).
    ingest_bits : dict of numpy.ndarray
        Variable -> ``S x T`` uint16 QC bits known at ingest (duplicate conflicts).
    present : numpy.ndarray of bool
        ``S x T``: a row was received for that station and time.
    quarantine : list of QuarantineRecord
        Rows set aside here.
    merged : list of QuarantineRecord
        Rows identical to a later row of the same station and time (re-sent or re-scraped),
        merged into it: neither stored on their own nor refused.
    rows_stored : int
        Rows that made it into the block.
    notes : list of str
        Observations for the ingest report (e.g. rows snapped to the grid).
    """

    stations: list[str]
    times: pd.DatetimeIndex
    values: dict[str, np.ndarray]
    source_flags: dict[str, np.ndarray]
    ingest_bits: dict[str, np.ndarray]
    present: np.ndarray
    quarantine: list[QuarantineRecord] = field(default_factory=list)
    rows_stored: int = 0
    notes: list[str] = field(default_factory=list)
    merged: list[QuarantineRecord] = field(default_factory=list)


def _q(
    frame: pd.DataFrame, mask: np.ndarray, fld: str, reason: str | pd.Series, kind: str
) -> list[QuarantineRecord]:
    sub = frame[mask]
    reasons = reason[mask] if isinstance(reason, pd.Series) else [reason] * len(sub)
    return [
        QuarantineRecord(str(f), int(n), fld, str(r), kind=kind)
        for f, n, r in zip(sub["_file"], sub["_line"], reasons, strict=True)
    ]


def normalise(
    batch: RawBatch,
    network: NetworkSpec,
    registry: dict[str, dict],
    reference_conditions: dict[str, float],
    now: pd.Timestamp | None = None,
) -> CanonicalBlock:
    """Turn a :class:`RawBatch` into a :class:`CanonicalBlock`.

    Parameters
    ----------
    batch : RawBatch
        Rows from an adapter.
    network : NetworkSpec
        Stations, time zone, frequency and future tolerance.
    registry : dict
        Variable registry (canonical units, molar masses).
    reference_conditions : dict
        Reference temperature/pressure for gas conversions.
    now : pandas.Timestamp, optional
        Current time (UTC) for the future-timestamp check; default: the wall clock.
    """
    frame = batch.frame.reset_index(drop=True)
    quarantine: list[QuarantineRecord] = []
    variables = [v for v in batch.units if v in frame.columns]

    # stations
    lookup = network.station_lookup()
    station = frame["station"].astype(str).map(lookup)
    unknown = station.isna().to_numpy()
    quarantine += _q(
        frame,
        unknown,
        "station",
        "unknown station '" + frame["station"].astype(str) + "' (not in the network YAML)",
        "unknown_station",
    )
    frame = frame.assign(station=station)[~unknown].reset_index(drop=True)

    # time zone -> UTC
    t = pd.DatetimeIndex(frame["time"])
    if t.tz is None:
        local = t.tz_localize(network.time_zone, ambiguous="NaT", nonexistent="NaT")
        bad = local.isna() & ~t.isna()
        quarantine += _q(
            frame,
            np.asarray(bad),
            "time",
            f"local time ambiguous or non-existent in {network.time_zone} (DST change)",
            "ambiguous_local_time",
        )
        utc = naive_utc(local)
    else:
        bad = np.zeros(len(t), dtype=bool)
        utc = naive_utc(t)
    keep = ~np.asarray(bad)
    frame, utc = frame[keep].reset_index(drop=True), utc[keep]

    # grid alignment (snap within the network's tolerance) and future timestamps
    freq = network.freq
    snapped = utc.round(freq)
    shift = np.abs(np.asarray(snapped - utc, dtype="timedelta64[ns]"))
    tolerance = pd.Timedelta(network.snap_tolerance).to_timedelta64()
    n_snapped = int(np.sum((shift > np.timedelta64(0)) & (shift <= tolerance)))
    utc = pd.DatetimeIndex(np.where(shift <= tolerance, snapped, utc))
    off_grid = np.asarray(utc != utc.floor(freq))
    quarantine += _q(
        frame, off_grid, "time", f"time is not on the {network.frequency} grid", "off_grid_time"
    )
    now_utc = utc_now() if now is None else naive_utc(now)
    future = np.asarray(utc > now_utc + pd.Timedelta(network.future_tolerance))
    quarantine += _q(
        frame,
        future & ~off_grid,
        "time",
        f"timestamp in the future (after {now_utc.isoformat()} UTC + {network.future_tolerance})",
        "future_time",
    )
    earliest = naive_utc(pd.Timestamp(network.earliest_time).tz_localize(network.time_zone))
    early = np.asarray(utc < earliest)
    quarantine += _q(
        frame,
        early & ~off_grid,
        "time",
        f"timestamp before the network's earliest_time {network.earliest_time} "
        "(a logger clock reset or a mistyped year?)",
        "early_time",
    )
    keep = ~(off_grid | future | early)
    frame, utc = frame[keep].reset_index(drop=True), utc[keep]
    frame["time_utc"] = utc

    # units
    for v in variables:
        meta = registry[v]
        frame[v] = convert(
            frame[v].to_numpy(dtype="float64"),
            batch.units[v],
            meta["units"],
            molar_mass=meta.get("molar_mass"),
            **reference_conditions,
        )

    notes = []
    if n_snapped:
        notes.append(
            f"{n_snapped} rows moved to the nearest {network.frequency} grid time "
            f"(within snap_tolerance {network.snap_tolerance})"
        )

    # duplicates: identical rows are set aside; conflicting rows keep the later one, flagged
    key = ["station", "time_utc"]
    dup_any = frame.duplicated(key, keep=False).to_numpy()
    conflict_cells: dict[str, list[tuple[str, pd.Timestamp]]] = {v: [] for v in variables}
    merged: list[QuarantineRecord] = []
    keep_earlier = network.duplicates.blank_in_later == "keep_earlier"
    n_blank = 0
    if dup_any.any():
        dups = frame[dup_any]
        drop = np.zeros(len(frame), dtype=bool)
        for (st, tt), grp in dups.groupby(key, sort=False):
            last = grp.index[-1]
            for idx in grp.index[:-1]:
                differing = [
                    v
                    for v in variables
                    if not (pd.isna(frame.at[idx, v]) or pd.isna(frame.at[last, v]))
                    and frame.at[idx, v] != frame.at[last, v]
                ]
                withdrawn = []
                for v in variables:  # a value only the earlier row has: the policy decides
                    if pd.isna(frame.at[last, v]) and not pd.isna(frame.at[idx, v]):
                        n_blank += 1
                        if keep_earlier:
                            frame.at[last, v] = frame.at[idx, v]
                        else:
                            withdrawn.append(v)
                drop[idx] = True
                later = f"{frame.at[last, '_file']}:{int(frame.at[last, '_line'])}"
                when = f"{to_local(tt, network.time_zone):%Y-%m-%d %H:%M} local ({tt:%H:%M} UTC)"
                if differing or withdrawn:
                    reason = f"duplicate of station {st} at {when} " + (
                        f"differing from {later} in {', '.join(differing)}"
                        if differing
                        else f"superseded by {later}"
                    )
                    if withdrawn:
                        reason += f"; blank there (withdrawn): {', '.join(withdrawn)}"
                    reason += "; the later row is kept" + (" and flagged" if differing else "")
                    for v in differing:
                        conflict_cells[v].append((st, tt))
                    to, kind = quarantine, "duplicate_conflict"
                else:
                    reason = f"identical to {later} (station {st} at {when}); merged into it"
                    to, kind = merged, "duplicate_identical"
                to.append(
                    QuarantineRecord(
                        str(frame.at[idx, "_file"]),
                        int(frame.at[idx, "_line"]),
                        ",".join(differing + withdrawn),
                        reason,
                        kind=kind,
                    )
                )
        frame = frame[~drop].reset_index(drop=True)
    if n_blank:
        notes.append(
            f"{n_blank} values blank in a later row of the same station and time were "
            + (
                "kept from the earlier row (duplicates.blank_in_later: keep_earlier)"
                if keep_earlier
                else "left blank (duplicates.blank_in_later: blank)"
            )
        )
    if merged:
        notes.append(
            f"{len(merged)} rows identical to a later row of the same station and time "
            "(re-sent or re-scraped) were merged into it"
        )

    # grid
    stations = network.station_ids()
    if len(frame):
        times = pd.date_range(frame["time_utc"].min(), frame["time_utc"].max(), freq=freq)
    else:
        times = pd.DatetimeIndex([])
    s_idx = pd.Index(stations).get_indexer(frame["station"])
    t_idx = times.get_indexer(frame["time_utc"])
    shape = (len(stations), len(times))
    present = np.zeros(shape, dtype=bool)
    present[s_idx, t_idx] = True
    values, flags, bits = {}, {}, {}
    for v in variables:
        arr = np.full(shape, np.nan)
        arr[s_idx, t_idx] = frame[v].to_numpy(dtype="float64")
        values[v] = arr
        fl = np.zeros(shape, dtype="int8")
        if f"{v}__flag" in frame:
            codes = frame[f"{v}__flag"].map(lambda c: FLAG_CODES.get(c, FLAG_CODES["N"])).to_numpy()
            fl[s_idx, t_idx] = codes.astype("int8")
        flags[v] = fl
        b = np.zeros(shape, dtype="uint16")
        for st, tt in conflict_cells[v]:
            b[stations.index(st), times.get_loc(tt)] |= QC_BITS["duplicate_conflict"][0]
        bits[v] = b
    return CanonicalBlock(
        stations=stations,
        times=times,
        values=values,
        source_flags=flags,
        ingest_bits=bits,
        present=present,
        quarantine=quarantine,
        rows_stored=len(frame),
        notes=notes,
        merged=merged,
    )
