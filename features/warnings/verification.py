"""Episode-level verification of warnings against observed daily AQI (pure functions).

A *heavy episode* is a run of at least ``min_days`` consecutive local days with observed daily
AQI above ``limit``; both come from the scheme's ``verification`` block (``heavy_aqi_above``,
``episode_min_days``: 2 days above 200 in the bundled schemes, the yellow condition of the
national scheme).
Against the lifecycle log of a replay (one row per issue time and area: the level in force after
the decision and the episode window the decision forecast), every episode is

- *warned* when some warning window overlapped its first day before the episode ended;
- *warned >= 24 h ahead* when that happened at an issue time at least ``lead_hours`` before the
  episode's first day began; its *lead time* is the first such issue time to the episode start;
- *level-correct* when the most severe level in force during the episode equals the level the
  observed days deserve under the same scheme.

Every warning (one lifecycle from issue to lift) that never overlapped an observed heavy day is a
*false alarm*; the false-alarm ratio is false alarms over warnings issued.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.times import to_utc
from features.warnings.rules import WarningScheme

__all__ = ["Episode", "heavy_day_bounds", "heavy_episodes", "observed_level", "score_replay"]


@dataclass
class Episode:
    """Observed heavy-pollution episode (local days; UTC bounds)."""

    first_day: pd.Timestamp
    last_day: pd.Timestamp
    start_utc: pd.Timestamp
    end_utc: pd.Timestamp
    aqi: np.ndarray
    level: str | None


def observed_level(scheme: WarningScheme, aqi: np.ndarray) -> str | None:
    """Return the scheme level that observed daily AQI values (consecutive days) deserve."""
    a = np.asarray(aqi, float)
    exceed = {
        key: np.nan_to_num(a >= key[0] if key[1] else a > key[0]).astype(bool)
        for key in scheme.keys
    }
    level = None
    for lv in scheme.levels:
        if lv.holds(exceed):
            level = lv.name
    return level


def heavy_episodes(
    days: pd.DatetimeIndex,
    aqi: np.ndarray,
    scheme: WarningScheme,
    time_zone: str,
    limit: float | None = None,
    min_days: int | None = None,
) -> list[Episode]:
    """Find runs of at least ``min_days`` consecutive days with daily AQI above ``limit``.

    ``limit`` and ``min_days`` default to the scheme's ``verification.heavy_aqi_above`` and
    ``verification.episode_min_days``.
    """
    if limit is None:
        limit = float(scheme.verification["heavy_aqi_above"])
    if min_days is None:
        min_days = int(scheme.verification["episode_min_days"])
    heavy = np.nan_to_num(np.asarray(aqi, float)) > limit
    out: list[Episode] = []
    k = 0
    while k < len(heavy):
        if not heavy[k]:
            k += 1
            continue
        j = k
        while j + 1 < len(heavy) and heavy[j + 1] and days[j + 1] - days[j] == pd.Timedelta("1D"):
            j += 1
        if j - k + 1 >= min_days:
            first, last = days[k], days[j]
            out.append(
                Episode(
                    first_day=first,
                    last_day=last,
                    start_utc=to_utc(first, time_zone),
                    end_utc=to_utc(last + pd.Timedelta("1D"), time_zone),
                    aqi=np.asarray(aqi[k : j + 1], float),
                    level=observed_level(scheme, aqi[k : j + 1]),
                )
            )
        k = j + 1
    return out


def heavy_day_bounds(
    daily_aqi: pd.Series, time_zone: str, *, limit: float
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """UTC bounds of every local day whose observed daily AQI is above ``limit``.

    Parameters
    ----------
    daily_aqi : pandas.Series
        Observed daily AQI [-] indexed by local date.
    time_zone : str
        Time zone of the dates.
    limit : float
        Heavy-day limit (the scheme's ``verification.heavy_aqi_above``) [-].

    Returns
    -------
    list of (pandas.Timestamp, pandas.Timestamp)
        ``(start, end)`` of each heavy day, naive UTC (the false alarms of :func:`score_replay`).
    """
    return [
        (to_utc(d, time_zone), to_utc(d + pd.Timedelta("1D"), time_zone))
        for d, a in daily_aqi.items()
        if a > limit
    ]


def score_replay(
    log: pd.DataFrame,
    episodes: list[Episode],
    scheme: WarningScheme,
    heavy_days_utc: list[tuple[pd.Timestamp, pd.Timestamp]],
    lead_hours: float | None = None,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Score a replay log against observed episodes.

    Parameters
    ----------
    log : pandas.DataFrame
        One row per issue time: ``issue_time``, ``warning_id`` (NaN when none in force),
        ``level`` (in force after the decision), ``start`` / ``end`` (the warning window in force,
        UTC; NaT when none).
    episodes : list of Episode
        Observed heavy episodes.
    heavy_days_utc : list of (start, end)
        UTC bounds of every observed day with AQI above the limit (for false alarms).
    lead_hours : float, optional
        Lead a warning needs to count as in time [h]; default the scheme's
        ``verification.warned_ahead_hours``.

    Returns
    -------
    table : pandas.DataFrame
        One row per episode: days, observed level, warned, lead [h], most severe level in force.
    summary : dict
        Episodes, warned share (any lead and >= ``lead_hours``), median lead, warnings issued,
        false alarms, false-alarm ratio, level accuracy.
    """
    if lead_hours is None:
        lead_hours = float(scheme.verification["warned_ahead_hours"])
    rows = []
    active = log.dropna(subset=["warning_id"])
    for ep in episodes:
        first_day_end = ep.start_utc + pd.Timedelta(hours=24)
        overlap = active[
            (active["start"] < first_day_end)
            & (active["end"] > ep.start_utc)
            & (active["issue_time"] < ep.end_utc)
        ]
        during = active[(active["start"] < ep.end_utc) & (active["end"] > ep.start_utc)]
        during = during[during["issue_time"] < ep.end_utc]
        first = overlap["issue_time"].min() if len(overlap) else pd.NaT
        lead = (ep.start_utc - first) / pd.Timedelta(hours=1) if pd.notna(first) else np.nan
        worst = None
        if len(during):
            worst = max(during["level"], key=scheme.severity_index)
        rows.append(
            {
                "first_day": ep.first_day.date(),
                "days": len(ep.aqi),
                "max_aqi": float(np.nanmax(ep.aqi)),
                "observed_level": ep.level,
                "warned": bool(len(overlap)),
                "lead_hours": lead,
                "warned_24h_ahead": bool(np.nan_to_num(lead, nan=-1) >= lead_hours),
                "max_level_in_force": worst,
                "level_correct": worst == ep.level,
            }
        )
    table = pd.DataFrame(rows)
    warnings = active.groupby("warning_id")
    false_alarms = 0
    for _, g in warnings:
        hit = any(((g["start"] < e) & (g["end"] > s)).any() for s, e in heavy_days_utc)
        false_alarms += 0 if hit else 1
    n_warn = int(warnings.ngroups)
    n_ep = len(episodes)
    summary = {
        "episodes": n_ep,
        "warned": float(table["warned"].mean()) if n_ep else np.nan,
        "warned_24h_ahead": float(table["warned_24h_ahead"].mean()) if n_ep else np.nan,
        "median_lead_hours": float(np.nanmedian(table["lead_hours"]))
        if n_ep and table["warned"].any()
        else np.nan,
        "warnings_issued": n_warn,
        "false_alarms": false_alarms,
        "false_alarm_ratio": false_alarms / n_warn if n_warn else np.nan,
        "level_accuracy": float(table.loc[table["warned"], "level_correct"].mean())
        if n_ep and table["warned"].any()
        else np.nan,
    }
    return table, summary
