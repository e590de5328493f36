"""Air-quality indices: China HJ 633 (2012 and 2026 editions) and the US EPA AQI.

The breakpoint tables live in ``configs/standards/*.yml``; :class:`AqiStandard` is built from one
such mapping and every computation here is a pure function of arrays.

Decision on libraries: ``python-aqi`` (0.6.1 on PyPI) implements ``mep`` with the 2012 PM
breakpoints only and rounds differently from HJ 633 (which rounds IAQI up); no package on PyPI
implements HJ 633-2026. We therefore keep the tables in YAML and test every breakpoint of both
editions by hand (``tests/features/test_aqi.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "AqiStandard",
    "PollutantScale",
    "aqi_from_subindices",
    "category_of",
    "select_standard",
    "sub_index",
]


@dataclass(frozen=True)
class PollutantScale:
    """Piecewise-linear sub-index scale of one pollutant and averaging period.

    Attributes
    ----------
    key : str
        Name in the standard (``pm25_24h``, ``o3_8h`` ...).
    variable : str
        Canonical variable name.
    averaging : str
        ``1h``, ``8h`` or ``24h``.
    units : str
        Units of the breakpoints.
    rows : numpy.ndarray
        ``K x 4`` array of ``[C_lo, C_hi, I_lo, I_hi]``.
    above_table : str or None
        What to do above the last breakpoint: ``None`` caps at the standard's maximum index,
        ``"cap"`` caps at the top of this table, ``"use_24h"``/``"use_1h"`` means "do not
        compute; the caller substitutes another averaging period".
    truncate : int or None
        Decimals to truncate concentrations to before lookup (US EPA practice).
    """

    key: str
    variable: str
    averaging: str
    units: str
    rows: np.ndarray
    above_table: str | None = None
    truncate: int | None = None


@dataclass(frozen=True)
class AqiStandard:
    """One edition of an air-quality index standard, built from its YAML mapping."""

    name: str
    title: str
    effective_from: dt.date
    effective_to: dt.date | None
    rounding: str
    max_index: int
    pollutants: dict[str, PollutantScale]
    daily_report: list[str]
    realtime_report: list[str]
    categories: list[dict[str, Any]]
    validity: dict[str, Any] = field(default_factory=dict)
    realtime_pm_averaging: str = "1h"

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> AqiStandard:
        """Build a standard from a (merged) YAML mapping."""
        levels = cfg.get("iaqi_levels")
        scales = {}
        for key, p in cfg["pollutants"].items():
            if "rows" in p:
                rows = np.asarray(p["rows"], dtype=float)
            else:
                bps = p["breakpoints"]
                rows = np.asarray(
                    [
                        [bps[k], bps[k + 1], levels[k], levels[k + 1]]
                        for k in range(len(bps) - 1)
                        if bps[k] is not None and bps[k + 1] is not None
                    ],
                    dtype=float,
                )
            scales[key] = PollutantScale(
                key=key,
                variable=p["variable"],
                averaging=str(p["averaging"]),
                units=p["units"],
                rows=rows,
                above_table=p.get("above_table"),
                truncate=p.get("truncate"),
            )

        def _date(v: Any) -> dt.date | None:
            if v is None or isinstance(v, dt.date):
                return v
            return dt.date.fromisoformat(str(v))

        return cls(
            name=cfg["name"],
            title=cfg.get("title", cfg["name"]),
            effective_from=_date(cfg["effective_from"]),
            effective_to=_date(cfg.get("effective_to")),
            rounding=cfg.get("rounding", "ceil"),
            max_index=int(cfg.get("max_index", 500)),
            pollutants=scales,
            daily_report=list(cfg.get("daily_report", [])),
            realtime_report=list(cfg.get("realtime_report", [])),
            categories=list(cfg.get("categories", [])),
            validity=dict(cfg.get("validity", {})),
            realtime_pm_averaging=cfg.get("realtime_pm_averaging", "1h"),
        )

    def applies_to(self, day: dt.date) -> bool:
        """Whether this edition is in force on ``day``."""
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


def _round(index: np.ndarray, how: str) -> np.ndarray:
    # Round to 1e-6 first so that floating-point noise on an exact breakpoint does not ceil up.
    cleaned = np.round(index, 6)
    if how == "ceil":
        return np.ceil(cleaned)
    if how == "round":
        return np.floor(cleaned + 0.5)
    if how == "none":
        return index
    raise ValueError(f"unknown rounding {how!r}")


def sub_index(
    conc: np.ndarray, scale: PollutantScale, standard: AqiStandard
) -> tuple[np.ndarray, np.ndarray]:
    """Individual (sub-)index of concentrations on one pollutant scale.

    Parameters
    ----------
    conc : numpy.ndarray
        Concentrations in ``scale.units``; NaN or negative gives NaN.
    scale : PollutantScale
        The pollutant's breakpoint table.
    standard : AqiStandard
        For rounding and the maximum index.

    Returns
    -------
    index : numpy.ndarray
        Sub-index (integer-valued floats); NaN where not computed.
    above : numpy.ndarray of bool
        True where the concentration lies above the table and ``above_table`` asks the caller
        to substitute another averaging period.
    """
    c = np.asarray(conc, dtype=float)
    if scale.truncate is not None:
        f = 10.0**scale.truncate
        c = np.floor(np.round(c * f, 6)) / f
    rows = scale.rows
    top = rows[-1, 1]
    k = np.searchsorted(rows[:, 1], np.nan_to_num(c, nan=-1.0), side="left")
    k = np.clip(k, 0, len(rows) - 1)
    c_lo, c_hi, i_lo, i_hi = (rows[k, j] for j in range(4))
    with np.errstate(invalid="ignore", divide="ignore"):
        idx = (i_hi - i_lo) / (c_hi - c_lo) * (c - c_lo) + i_lo
    idx = _round(idx, standard.rounding)
    bad = np.isnan(c) | (c < 0)
    over = ~bad & (c > top)
    above = np.zeros(c.shape, dtype=bool)
    if scale.above_table in ("use_24h", "use_1h"):
        above = over
        idx = np.where(over, np.nan, idx)
    elif scale.above_table == "cap":
        idx = np.where(over, rows[-1, 3], idx)
    else:
        idx = np.where(over, float(standard.max_index), idx)
    idx = np.where(bad, np.nan, np.minimum(idx, float(standard.max_index)))
    return idx, above


def aqi_from_subindices(
    subindices: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AQI, primary pollutants and over-standard pollutants from sub-indices.

    Parameters
    ----------
    subindices : dict of numpy.ndarray
        Pollutant key -> sub-index array (all of one shape).

    Returns
    -------
    aqi : numpy.ndarray
        Maximum sub-index (NaN where no sub-index could be computed).
    primary : numpy.ndarray of object
        Comma-separated pollutant keys with the maximum sub-index when AQI > 50, else ``""``.
    over_standard : numpy.ndarray of object
        Comma-separated keys with sub-index > 100.
    """
    keys = list(subindices)
    stack = np.stack([subindices[k] for k in keys])
    with np.errstate(all="ignore"):
        all_nan = np.all(np.isnan(stack), axis=0)
        aqi = np.where(all_nan, np.nan, np.nanmax(np.where(np.isnan(stack), -1, stack), axis=0))
    names = [k.split("_")[0] for k in keys]
    valid = ~np.isnan(aqi)
    is_primary = (stack == aqi) & valid & (aqi > 50)
    is_over = (stack > 100) & valid
    return aqi, _names_of(is_primary, names), _names_of(is_over, names)


def _names_of(mask: np.ndarray, names: list[str]) -> np.ndarray:
    """Comma-joined distinct names for each position of a (K, ...) boolean mask."""
    weights = (1 << np.arange(mask.shape[0], dtype=np.int64)).reshape(
        (-1,) + (1,) * (mask.ndim - 1)
    )
    codes = np.sum(mask * weights, axis=0)
    out = np.full(codes.shape, "", dtype=object)
    for code in np.unique(codes):
        if code == 0:
            continue
        label = ",".join(dict.fromkeys(n for k, n in enumerate(names) if code >> k & 1))
        out[codes == code] = label
    return out


def category_of(aqi: np.ndarray, standard: AqiStandard) -> np.ndarray:
    """Category level (1..6) of AQI values; 0 where AQI is NaN."""
    a = np.asarray(aqi, dtype=float)
    maxima = np.array([c["max"] for c in standard.categories], dtype=float)
    level = np.searchsorted(maxima, np.nan_to_num(a, nan=-1), side="left") + 1
    level = np.minimum(level, len(maxima))
    return np.where(np.isnan(a), 0, level).astype(int)


def select_standard(day: dt.date, standards: list[AqiStandard]) -> AqiStandard:
    """Return the edition in force on ``day`` among ``standards`` (one family, e.g. HJ 633).

    Raises
    ------
    LookupError
        If no edition covers ``day``.
    """
    for std in standards:
        if std.applies_to(day):
            return std
    raise LookupError(f"no AQI standard edition in force on {day}")
