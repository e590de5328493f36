"""Time-zone conversions between naive UTC (how the store keeps time) and naive local time.

The store, forecasts and warnings keep naive UTC timestamps; people, daily statistics and the
national standards speak local time of the network's ``time_zone``. Every conversion goes
through these functions so that none is written inline.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["local_day_to_utc", "naive_utc", "to_local", "to_utc", "utc_now"]


def to_local(t, tz: str):
    """Naive UTC → naive local time of ``tz``.

    Parameters
    ----------
    t : pandas.Timestamp, pandas.DatetimeIndex or str
        Naive UTC time(s).
    tz : str
        IANA time zone, e.g. ``"Asia/Shanghai"``.

    Returns
    -------
    pandas.Timestamp or pandas.DatetimeIndex
        Naive local time(s).
    """
    t = _timestamps(t)
    return t.tz_localize("UTC").tz_convert(tz).tz_localize(None)


def to_utc(t, tz: str):
    """Local time of ``tz`` → naive UTC; an aware time is converted from its own zone.

    Parameters
    ----------
    t : pandas.Timestamp, pandas.DatetimeIndex or str
        Local time(s), naive (taken as ``tz``) or aware.
    tz : str
        IANA time zone of naive inputs.

    Returns
    -------
    pandas.Timestamp or pandas.DatetimeIndex
        Naive UTC time(s).
    """
    t = _timestamps(t)
    if t.tzinfo is None:
        t = t.tz_localize(tz)
    return t.tz_convert("UTC").tz_localize(None)


def local_day_to_utc(day, tz: str, *, end_of_day: bool = False) -> pd.Timestamp:
    """Naive UTC of a local day's first hour, or with ``end_of_day`` of its last hour.

    Parameters
    ----------
    day : str or pandas.Timestamp
        Local day (a time of day, if given, is kept).
    tz : str
        IANA time zone of the day.
    end_of_day : bool, optional
        Return the start of the day's last hour: 23 h after its start (not 23:00 wall-clock,
        since a DST day has 23 or 25 hours).

    Returns
    -------
    pandas.Timestamp
        Naive UTC.
    """
    t = to_utc(pd.Timestamp(day), tz)
    return t + pd.Timedelta(days=1) - pd.Timedelta(hours=1) if end_of_day else t


def naive_utc(t):
    """Return any time as naive UTC: aware times are converted, naive ones taken as UTC."""
    t = _timestamps(t)
    return t if t.tzinfo is None else t.tz_convert("UTC").tz_localize(None)


def utc_now() -> pd.Timestamp:
    """Return the present as naive UTC."""
    return pd.Timestamp.now("UTC").tz_localize(None)


def _timestamps(t):
    if isinstance(t, pd.Timestamp | pd.DatetimeIndex):
        return t
    if isinstance(t, str):
        return pd.Timestamp(t)
    return pd.DatetimeIndex(t)
