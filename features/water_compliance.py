"""Weekly compliance with the target class and the whole-river rating, summarised.

Pure functions on the tables of :func:`pipelines.assess.water_compliance` (one row per section
and week with a ``complies`` column; one row per week with a ``rating`` column).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["compliance_shares", "rating_summary"]


def compliance_shares(weekly: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """Share of the judged weeks in which each section met its target class.

    Parameters
    ----------
    weekly : pandas.DataFrame
        Columns ``section`` and ``complies`` (bool, or NaN where no target or no class).

    Returns
    -------
    dict
        ``{section: {"share": fraction of judged weeks meeting the target [1], "weeks": number
        of judged weeks}}``, sections in sorted order; sections never judged are left out.
    """
    judged = weekly.dropna(subset=["complies"])
    return {
        str(s): {"share": float(g["complies"].astype(bool).mean()), "weeks": int(len(g))}
        for s, g in judged.groupby("section")
    }


def rating_summary(rating: pd.DataFrame) -> dict[str, Any]:
    """Count the weekly whole-river ratings and return the last rated week.

    Parameters
    ----------
    rating : pandas.DataFrame
        One row per week with a ``rating`` column (NaN where too few sections were classed).

    Returns
    -------
    dict
        ``weeks_rated``, ``by_rating`` (weeks per rating) and ``last_week`` (the last rated row
        as a dict, or None).
    """
    rated = rating.dropna(subset=["rating"])
    return {
        "weeks_rated": int(len(rated)),
        "by_rating": {k: int(v) for k, v in rated["rating"].value_counts().items()},
        "last_week": rated.iloc[-1].to_dict() if len(rated) else None,
    }
