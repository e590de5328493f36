"""Bookkeeping of a warning drill on historic data: which days it runs, what it records.

A drill replays the daily forecast-and-warn job over a window of past local days, as the
scheduler would have run it; the history keeps the decisions that changed a warning.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["drill_days", "drill_history"]

QUIET_ACTIONS = ("none", "hold")


def drill_days(start: str, end: str, before: pd.Timestamp) -> list[pd.Timestamp]:
    """Local days of a drill window, from ``start`` to ``end`` and strictly before ``before``.

    Parameters
    ----------
    start, end : str
        First and last local day of the window (inclusive).
    before : pandas.Timestamp
        Local issue time of the latest (real) run: the drill stops at it.

    Returns
    -------
    list of pandas.Timestamp
        The local midnights of the drill days [local time].
    """
    out = []
    for day in pd.date_range(str(start), str(end), freq="D"):
        if day >= before:
            break
        out.append(day)
    return out


def drill_history(
    result: dict[str, Any], issue_local: pd.Timestamp, city: str
) -> list[dict[str, Any]]:
    """History rows of one warning run: the areas whose warning changed.

    Parameters
    ----------
    result : dict
        A warning run's summary (``decisions`` per area, ``outputs`` with ``bulletin`` and
        ``cap_dir``), as :func:`pipelines.flows.warn_result` returns it.
    issue_local : pandas.Timestamp
        Issue time of the run [local time].
    city : str
        Warning file of the run.

    Returns
    -------
    list of dict
        One row per area whose action is neither ``none`` nor ``hold``.
    """
    return [
        {
            "issue_local": f"{issue_local:%Y-%m-%d %H:%M}",
            "city": city,
            "area": area,
            **d,
            "bulletin": result["outputs"].get("bulletin"),
            "cap_dir": result["outputs"].get("cap_dir"),
        }
        for area, d in result["decisions"].items()
        if d["action"] not in QUIET_ACTIONS
    ]
