"""Conversions to the JSON-able form of :class:`~pipelines.results.workspace.Read` data.

Times become ISO-8601 UTC text with a ``Z`` (``"2016-12-22T16:00:00Z"``; naive times are taken
as UTC, which is how the store, the forecast files and the warning database keep them), NaN and
NaT become None, numpy scalars and arrays become Python numbers and lists.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "base_names",
    "float32_decimal",
    "iso_utc",
    "jsonable",
    "parse_json",
    "records",
    "utc_naive",
]


def utc_naive(t: Any) -> pd.Timestamp | None:
    """Return ``t`` as a naive UTC timestamp (None stays None).

    Parameters
    ----------
    t : str, datetime.datetime, datetime.date, numpy.datetime64 or pandas.Timestamp
        A time; tz-aware times are converted to UTC, naive ones are taken as UTC.

    Returns
    -------
    pandas.Timestamp or None
        Naive (UTC) timestamp.
    """
    if t is None:
        return None
    ts = pd.Timestamp(t)
    if ts is pd.NaT:
        return None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def iso_utc(t: Any) -> str | None:
    """Return ISO-8601 UTC text (``"2016-12-22T16:00:00Z"``) of a time; None for None/NaT.

    Parameters
    ----------
    t : Any
        Anything :func:`utc_naive` accepts (text such as ``"2016-12-13T00:00:00+08:00"``
        included). Text that is not a time is returned unchanged.

    Returns
    -------
    str or None
        Seconds precision (fractions of a second are kept when present).
    """
    if t is None or (isinstance(t, float) and math.isnan(t)):
        return None
    try:
        ts = utc_naive(t)
    except (ValueError, TypeError):
        return str(t)
    if ts is None:
        return None
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.microsecond:
        text += f".{ts.microsecond:06d}".rstrip("0")
    return text + "Z"


def jsonable(x: Any) -> Any:
    """Return ``x`` as JSON-able data (recursively).

    Parameters
    ----------
    x : Any
        dicts, lists, tuples, numpy arrays and scalars, pandas timestamps, datetimes, dates,
        paths, NaN.

    Returns
    -------
    Any
        dict (str keys), list, str, int, float, bool or None; times as ISO-8601 UTC text.
    """
    if x is None or isinstance(x, bool | str):
        return x
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple | set):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "Mm":
            return [jsonable(v) for v in x]
        return [jsonable(v) for v in x.tolist()]
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, pd.Timestamp | dt.datetime | np.datetime64):
        return iso_utc(x)
    if isinstance(x, dt.date):
        return x.isoformat()
    if isinstance(x, pd.Timedelta | dt.timedelta | np.timedelta64):
        return None if pd.isna(x) else pd.Timedelta(x).total_seconds()
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, Path):
        return str(x)
    if x is pd.NaT or x is pd.NA:
        return None
    return x


def parse_json(text: Any) -> Any:
    """Parse JSON text; None stays None, text that is not JSON is returned as it is.

    Parameters
    ----------
    text : Any
        JSON text (or anything else, returned unchanged).

    Returns
    -------
    Any
        The parsed value.
    """
    if not isinstance(text, str | bytes):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a DataFrame as JSON-able dicts (the index is not included).

    Parameters
    ----------
    df : pandas.DataFrame
        The table.

    Returns
    -------
    list of dict
        One dict per row; NaN as None, times as ISO-8601 UTC text.
    """
    cols = [str(c) for c in df.columns]
    out = []
    for row in df.itertuples(index=False, name=None):
        out.append({c: jsonable(v) for c, v in zip(cols, row, strict=True)})
    return out


def base_names(x: Any) -> Any:
    """Replace every absolute file path in ``x`` (recursively) by its file name.

    The results JSON written by the jobs names figures and tables by their absolute path on the
    machine that ran them; the readers hand out names (resolved again by
    :func:`pipelines.results.sources.artifact_path`).

    Parameters
    ----------
    x : Any
        Parsed JSON.

    Returns
    -------
    Any
        The same structure with absolute paths replaced by names.
    """
    if isinstance(x, dict):
        return {k: base_names(v) for k, v in x.items()}
    if isinstance(x, list):
        return [base_names(v) for v in x]
    if isinstance(x, str) and os.path.isabs(x) and "\n" not in x and len(x) < 4096:
        return os.path.basename(x)
    return x


def float32_decimal(values: Any) -> np.ndarray:
    """float64 copies of float32 values at their shortest decimal (``7.71``, not ``7.710000038``).

    The store and the forecast files keep float32; read as float64 they carry binary noise into
    JSON. Each value becomes the float64 nearest to the shortest decimal that round-trips to
    the same float32 (NaN stays NaN).

    Parameters
    ----------
    values : array-like
        float32 (or any float) values.

    Returns
    -------
    numpy.ndarray
        float64 array of the same shape.
    """
    a = np.asarray(values, dtype=np.float32)
    return a.astype(str).astype(np.float64)
