"""Validated request parameters shared by API routes and pages (one definition each)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import pandas as pd
from fastapi import Path, Query, Request

from qingyuan.web.errors import ApiError

__all__ = ["IDENT", "Ident", "RowId", "TimeRange", "Variables", "utc"]

#: Network, station, city, run and file identifiers: letters, digits, CJK, ``. _ -``.
IDENT = r"^[\w.\-]{1,128}$"

Ident = Annotated[str, Path(pattern=IDENT, description="An identifier (letters, digits, . _ -).")]

#: A database row id (warnings, pending decisions): a positive 63-bit integer.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A row id.")]


def utc(t: dt.datetime | None, name: str = "time") -> pd.Timestamp | None:
    """Return a query datetime as a naive UTC timestamp (naive input is taken as UTC).

    Raises
    ------
    ApiError
        422 for a year outside 1900..2200 (no record lies there; pandas cannot hold all of them).
    """
    if t is None:
        return None
    if not 1900 <= t.year <= 2200:
        raise ApiError(422, f"query parameter '{name}': year {t.year} is outside 1900..2200")
    ts = pd.Timestamp(t)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts


class TimeRange:
    """``start`` and ``end`` (ISO 8601; UTC unless an offset is given), checked for order and span.

    Parameters are optional; when one is missing the route decides the default (e.g. the last
    7 days of the record). ``max_range_days`` of ``configs/web.yml`` bounds the span.
    """

    def __init__(
        self,
        request: Request,
        start: dt.datetime | None = Query(None, description="Start (inclusive), ISO 8601."),
        end: dt.datetime | None = Query(None, description="End (inclusive), ISO 8601."),
    ):
        self.start, self.end = utc(start, "start"), utc(end, "end")
        self.max_days = request.app.state.settings.web.limits.max_range_days
        if self.start is not None and self.end is not None:
            if self.end < self.start:
                raise ApiError(422, "query parameters 'start' and 'end': end is before start")
            self.check_span(self.start, self.end)

    def check_span(self, start: pd.Timestamp, end: pd.Timestamp) -> None:
        """Refuse a span longer than ``max_range_days``."""
        if (end - start) > pd.Timedelta(days=self.max_days):
            raise ApiError(
                422,
                f"query parameters 'start' and 'end': at most {self.max_days:g} days per request",
            )

    def resolve(
        self, last: pd.Timestamp | None, *, default_days: float
    ) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Return the range to read: given bounds, else ``default_days`` ending at ``last`` (or start)."""
        end = self.end
        start = self.start
        if end is None:
            end = (start + pd.Timedelta(days=default_days)) if start is not None else last
        if end is None:
            raise ApiError(404, "no data stored yet")
        if start is None:
            start = end - pd.Timedelta(days=default_days)
        self.check_span(start, end)
        return start, end


def Variables(  # noqa: N802 - a dependency factory, named like a type
    variables: str | None = Query(
        None,
        pattern=r"^[A-Za-z0-9_]{1,64}(,[A-Za-z0-9_]{1,64}){0,63}$",
        description="Comma-separated variable names of the registry.",
    ),
) -> list[str] | None:
    """Return the ``variables`` query parameter as a list."""
    return variables.split(",") if variables else None
