"""Discharge limits of pollution sources (stacks, outfalls) and the exceedance computation.

The limits live in ``configs/standards/*.yml`` (``kind: discharge``: GB 13223-2011, ultra-low
emission, GB 13271-2014, GB 18918-2002, GB 8978-1996); :class:`DischargeStandard` is built from
one such mapping, and everything here is a pure function of arrays and frames (no I/O).

How exceedance is judged (``/work/shared/reference/hj212_and_discharge_limits.md`` §6.7):

- **Flue gas** limits are for dry flue gas at standard state, corrected (折算) to the class's
  reference O2 (HJ 212-2017 App. D formula 28, :func:`corrected_concentration`), NOx as NO2. An
  hour exceeds when its 折算 mean is above the limit (HJ 76). The device's own 折算 value
  (``-ZsAvg``, variable ``<name>_corrected``) is used when it is valid; otherwise the value is
  corrected here from the measured value and ``stack_o2``. Inputs are taken to be dry and at
  standard state already (as HJ 212 reports them); wet -> dry conversion is the caller's.
- **Wastewater** limits of GB 18918 and GB 8978 are daily means: the mean of a local day's valid
  hours, assessed only with at least ``min_valid_hours`` of them. pH is a range check (the
  arithmetic mean of the hourly pH values; the standard's basis is a 24-h composite sample).
  GB 18918's NH3-N has a relaxed limit when the water is cold (``cold_max`` at a day-mean
  ``effluent_temperature`` <= 12 degC).
- A value **equal** to the limit complies ("exceeds" means strictly above; for a range, strictly
  outside). Values are not rounded before the comparison.
- Validity (HJ 212 flag N and QC valid) is computed by the caller and passed as ``valid``;
  invalid values never enter a mean or a comparison.

Times: ``values`` is indexed by the **end** of each hourly interval, in UTC (a naive index is
taken as UTC, an aware one is converted). HJ 212 ``DataTime`` is the interval *start*: add one
hour before calling. Local days are in the enterprise's ``time_zone``: an hour belongs to the
local day in which it starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "CORRECTED_SUFFIX",
    "O2_VARIABLE",
    "WATER_TEMPERATURE_VARIABLE",
    "DischargeClass",
    "DischargeStandard",
    "Exceedance",
    "Limit",
    "assess",
    "compare",
    "corrected_concentration",
    "hourly_series",
]

#: flue-gas oxygen (dry basis, %) used for the correction
O2_VARIABLE = "stack_o2"
#: wastewater temperature (degC) that selects GB 18918's cold-water NH3-N limit
WATER_TEMPERATURE_VARIABLE = "effluent_temperature"
#: suffix of the device's own 折算 value (``-ZsAvg``): ``stack_so2`` -> ``stack_so2_corrected``
CORRECTED_SUFFIX = "_corrected"

_O2_AIR = 21.0  # O2 of air, % by volume (the "21" of App. D formula 28)
_HOUR = pd.Timedelta(hours=1)

TemperaturePolicy = Literal["general", "cold", "skip"]
HighO2Policy = Literal["nan", "uncorrected"]


# --------------------------------------------------------------------------- correction
def corrected_concentration(
    c: Any,
    o2: Any,
    o2_ref: float,
    *,
    o2_max: float | None = None,
    above_o2_max: HighO2Policy = "nan",
) -> Any:
    """Concentration corrected to a reference O2 content (折算浓度).

    ``C_ref = C × (21 − O2_ref) / (21 − O2)`` (HJ 212-2017 App. D formula 28; GB 13271-2014
    formula 1).

    Parameters
    ----------
    c : array_like or pandas.Series
        Measured concentration in dry flue gas at standard state [mg m-3].
    o2 : array_like or pandas.Series
        Measured O2 content, dry basis [%]; broadcast against ``c``.
    o2_ref : float
        Reference O2 content of the applicable standard [%], 0 <= ``o2_ref`` < 21.
    o2_max : float, optional
        Measured O2 [%] from which the correction is not applied. By default (``None``) every
        O2 below 21 % is corrected. Some implementations skip the correction at O2 >= 20.5 %
        (one public-code source; the rule is *unconfirmed*), because the factor
        ``(21 − O2_ref)/(21 − O2)`` grows without bound as O2 nears 21 % (30× at 20.5 % for a
        6 % reference), so the small concentrations of a unit starting up, shutting down or on
        standby become huge corrected values. Pass ``o2_max=20.5`` to adopt that rule.
    above_o2_max : {"nan", "uncorrected"}
        Result where ``o2_max <= O2 < 21``: NaN (not assessable, default) or the measured value
        uncorrected (the public-code rule).

    Returns
    -------
    numpy.ndarray or pandas.Series
        Corrected concentration [mg m-3] (a Series with ``c``'s index when ``c`` is a Series).
        NaN where ``c`` or ``o2`` is missing, where O2 >= 21 % or O2 < 0 (no combustion gas, or a
        faulty analyser), and where ``above_o2_max`` says so.

    Examples
    --------
    >>> float(corrected_concentration(80.0, 9.0, 6.0))  # 80 × 15 / 12
    100.0
    """
    if not 0 <= o2_ref < _O2_AIR:
        raise ValueError(f"o2_ref must be in [0, 21) %, got {o2_ref}")
    if o2_max is not None and not 0 < o2_max <= _O2_AIR:
        raise ValueError(f"o2_max must be in (0, 21] %, got {o2_max}")
    if above_o2_max not in ("nan", "uncorrected"):
        raise ValueError(f"above_o2_max must be 'nan' or 'uncorrected', got {above_o2_max!r}")
    index = c.index if isinstance(c, pd.Series) else None
    cv = np.asarray(c, dtype=float)
    ov = np.asarray(o2, dtype=float)
    factor = _factor(ov, o2_ref)
    out = cv * factor
    if o2_max is not None:
        high = (ov >= o2_max) & (ov < _O2_AIR)
        out = np.where(high, cv if above_o2_max == "uncorrected" else np.nan, out)
    if index is not None:
        return pd.Series(out, index=index, name=getattr(c, "name", None))
    return out


def _factor(o2: np.ndarray, o2_ref: float) -> np.ndarray:
    """``(21 − O2_ref)/(21 − O2)``; NaN where O2 is missing, >= 21 or < 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (_O2_AIR - o2_ref) / (_O2_AIR - o2)
    return np.where(np.isnan(o2) | (o2 >= _O2_AIR) | (o2 < 0), np.nan, f)


# --------------------------------------------------------------------------- the standard
@dataclass(frozen=True)
class Limit:
    """The limit of one variable in one class.

    Exactly one of ``max`` and ``range`` is set.

    Attributes
    ----------
    max : float or None
        Upper limit [the variable's units]; a value above it exceeds.
    range : tuple of float or None
        ``(low, high)`` [the variable's units] (pH 6-9); a value outside it exceeds.
    cold_max : float or None
        Relaxed upper limit when the water temperature is at or below ``cold_at_or_below_degC``
        (GB 18918 NH3-N, the value in brackets).
    cold_at_or_below_degC : float or None
        Water temperature [degC] at or below which ``cold_max`` applies (12 in GB 18918).
    """

    max: float | None = None
    range: tuple[float, float] | None = None
    cold_max: float | None = None
    cold_at_or_below_degC: float | None = None

    def __post_init__(self) -> None:
        if (self.max is None) == (self.range is None):
            raise ValueError("give exactly one of max / range")
        if self.max is not None and not self.max > 0:
            raise ValueError(f"max must be positive, got {self.max}")
        if self.range is not None:
            lo, hi = self.range
            if lo < 0 or lo > hi:
                raise ValueError(
                    f"range must be [low, high] with 0 <= low <= high, got {self.range}"
                )
        if (self.cold_max is None) != (self.cold_at_or_below_degC is None):
            raise ValueError("cold_max and cold_at_or_below_degC go together")
        if self.cold_max is not None:
            if self.max is None:
                raise ValueError("cold_max needs max (not range)")
            if self.cold_max < self.max:
                raise ValueError("cold_max is the relaxed cold-water limit: not below max")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | float | int) -> Limit:
        """Build from a YAML mapping (``{max: 100}``, ``{range: [6, 9]}``, ...) or a bare number."""
        if isinstance(cfg, int | float) and not isinstance(cfg, bool):
            return cls(max=float(cfg))
        if not isinstance(cfg, Mapping):
            raise ValueError(f"a limit is a number or a mapping, got {cfg!r}")
        unknown = set(cfg) - {"max", "range", "cold_max", "cold_at_or_below_degC"}
        if unknown:
            raise ValueError(f"unknown limit field(s) {sorted(unknown)}")
        rng = cfg.get("range")
        if rng is not None and len(rng) != 2:
            raise ValueError(f"range must be [low, high], got {rng!r}")
        return cls(
            max=_float(cfg.get("max")),
            range=None if rng is None else (float(rng[0]), float(rng[1])),
            cold_max=_float(cfg.get("cold_max")),
            cold_at_or_below_degC=_float(cfg.get("cold_at_or_below_degC")),
        )

    def applicable_max(self, water_temperature: float | None) -> float | None:
        """Upper limit for a water temperature [degC] (``cold_max`` when at or below the threshold).

        A missing temperature (``None`` or NaN) gives the general ``max``.
        """
        if self.max is None:
            return None
        if (
            self.cold_max is not None
            and water_temperature is not None
            and not math.isnan(water_temperature)
            and water_temperature <= self.cold_at_or_below_degC
        ):
            return self.cold_max
        return self.max


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


@dataclass(frozen=True)
class DischargeClass:
    """One class of a discharge standard (source type, fuel, new/existing, grade ...).

    Attributes
    ----------
    id : str
        Class id in the file (``coal_boiler_new``, ``1A``, ``grade_II`` ...).
    title : str
        Human-readable title (Chinese table name).
    reference_o2 : float or None
        Reference O2 [%] of flue-gas limits; None: no correction (wastewater, or a flue-gas
        standard without a reference O2, App. D 2.3(4)).
    limits : dict of Limit
        Variable -> limit.
    notes : str or None
        Free-text remarks (where the class applies, dates in force).
    """

    id: str
    title: str
    reference_o2: float | None
    limits: dict[str, Limit]
    notes: str | None = None


@dataclass(frozen=True)
class DischargeStandard:
    """A discharge-limit standard, built from a ``configs/standards/*.yml`` of ``kind: discharge``.

    Attributes
    ----------
    name : str
        ``gb13223-2011``, ``ultra-low-coal-2015``, ``gb13271-2014``, ``gb18918-2002``,
        ``gb8978-1996``.
    title : str
        Full title.
    medium : {"air", "water"}
        Flue gas (limits in mg m-3 at the reference O2) or wastewater (mg L-1).
    period : {"hour", "day"}
        Averaging period of the comparison (day: the enterprise's local day).
    min_valid_hours : int
        Valid hours a day needs to be assessed (1 for hourly standards).
    classes : dict of DischargeClass
        Class id -> class.
    units : dict of str
        Variable -> units of its limits (from ``configs/variables.yml``; filled by the loader).
    """

    name: str
    title: str
    medium: Literal["air", "water"]
    period: Literal["hour", "day"]
    min_valid_hours: int
    classes: dict[str, DischargeClass]
    units: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> DischargeStandard:
        """Build from the YAML mapping (as validated by ``DischargeStandardSpec``)."""
        avg = cfg["averaging"]
        classes = {
            str(cid): DischargeClass(
                id=str(cid),
                title=c.get("title", str(cid)),
                reference_o2=_float(c.get("reference_o2")),
                limits={v: Limit.from_config(lim) for v, lim in c["limits"].items()},
                notes=c.get("notes"),
            )
            for cid, c in cfg["classes"].items()
        }
        return cls(
            name=cfg["name"],
            title=cfg.get("title", cfg["name"]),
            medium=cfg["medium"],
            period=avg["period"],
            min_valid_hours=int(avg.get("min_valid_hours", 1)),
            classes=classes,
            units=dict(cfg.get("units") or {}),
        )

    def get_class(self, class_id: str) -> DischargeClass:
        """Return one class; ``KeyError`` naming the known ids if there is no such class."""
        try:
            return self.classes[class_id]
        except KeyError:
            raise KeyError(
                f"{self.name}: no class {class_id!r}; known: {sorted(self.classes)}"
            ) from None

    def limit_for(
        self, class_id: str, variable: str, *, water_temperature: float | None = None
    ) -> float | tuple[float, float] | None:
        """Return the applicable limit of a variable.

        Parameters
        ----------
        class_id : str
            Class of the source.
        variable : str
            Canonical variable name (``stack_so2``, ``effluent_nh3n`` ...).
        water_temperature : float, optional
            Water temperature [degC] that selects a cold-water limit; missing: the general one.

        Returns
        -------
        float or tuple of float or None
            Upper limit [units of the variable], ``(low, high)`` for a range, None when the class
            sets no limit for the variable.
        """
        lim = self.get_class(class_id).limits.get(variable)
        if lim is None:
            return None
        if lim.range is not None:
            return lim.range
        return lim.applicable_max(water_temperature)

    def limits_with(
        self, class_id: str, overrides: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Limit], set[str]]:
        """Return the class's limits with a permit's overrides, and the names overridden.

        Parameters
        ----------
        class_id : str
            Class of the source.
        overrides : mapping, optional
            Variable -> a number (upper limit), a limit mapping (``{range: [6, 9]}``,
            ``{max: 5, cold_max: 8, cold_at_or_below_degC: 12}``), a :class:`Limit`, or None
            (the permit sets no limit for that variable). An override replaces the whole limit
            (a bare number drops a cold-water variant). Variables the class does not limit may be
            added.

        Raises
        ------
        ValueError
            For a malformed override (negative limit, low > high ...).
        """
        limits = dict(self.get_class(class_id).limits)
        changed = set()
        for var, ov in (overrides or {}).items():
            changed.add(var)
            if ov is None:
                limits.pop(var, None)
                continue
            try:
                limits[var] = ov if isinstance(ov, Limit) else Limit.from_config(ov)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"override of {var}: {exc}") from exc
        return limits, changed


# --------------------------------------------------------------------------- exceedances
@dataclass(frozen=True)
class Exceedance:
    """One period in which a variable exceeded its limit.

    Attributes
    ----------
    standard, class_id : str
        The standard and class applied.
    variable : str
        Canonical variable name (the measured one, e.g. ``stack_so2``, also when the device's
        ``stack_so2_corrected`` supplied the value).
    start, end : pandas.Timestamp
        The period (UTC, tz-aware): an hour, or a local day.
    period : {"hour", "day"}
        Averaging period.
    value : float
        The compared value [units]: corrected to ``reference_o2`` for flue gas.
    limit : float or None
        Upper limit [units] (None for a range check).
    limit_range : tuple of float or None
        ``(low, high)`` for a range check (pH).
    direction : {"above", "below"}
        Above the (upper) limit, or below the range.
    ratio : float or None
        ``value / limit`` (None for a range check).
    units : str
        Units of ``value`` and the limit.
    basis : str
        How the value was formed, e.g. ``hourly mean corrected to 6 % O2`` or ``daily mean of 22
        valid hours (2025-01-15, Asia/Shanghai)``.
    n_valid : int
        Valid hours in the period.
    reference_o2 : float or None
        Reference O2 [%] of the class (flue gas).
    o2 : float or None
        Measured O2 [%] (mean over the period's valid hours).
    measured : float or None
        Measured (uncorrected) concentration [units], mean over the period's valid hours.
    source : str
        Origin of ``value``: ``device`` (the device's 折算 value), ``computed`` (corrected
        here), ``uncorrected`` (no reference O2, or O2 at or above ``o2_max``), ``measured``
        (wastewater), or several joined by ``+`` for a day of mixed origin
        (``computed+device``).
    water_temperature : float or None
        Water temperature [degC] that chose the limit (mean over the period's valid hours).
    notes : tuple of str
        E.g. the limit came from the permit, or the water temperature was missing.
    basis_zh : str
        ``basis`` in Chinese (for the bilingual bulletin and CAP).
    """

    standard: str
    class_id: str
    variable: str
    start: pd.Timestamp
    end: pd.Timestamp
    period: str
    value: float
    limit: float | None
    limit_range: tuple[float, float] | None
    direction: str
    ratio: float | None
    units: str
    basis: str
    n_valid: int
    reference_o2: float | None = None
    o2: float | None = None
    measured: float | None = None
    source: str = "measured"
    water_temperature: float | None = None
    notes: tuple[str, ...] = ()
    basis_zh: str = ""  # ``basis`` in Chinese

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (ISO 8601 times) for JSON alerts and reports."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat()
        out["limit_range"] = None if self.limit_range is None else list(self.limit_range)
        out["notes"] = list(self.notes)
        return out


# --------------------------------------------------------------------------- computation
def _check_options(
    o2_max: float | None, above_o2_max: str, if_temperature_missing: str = "general"
) -> None:
    if o2_max is not None and not 0 < o2_max <= _O2_AIR:
        raise ValueError(f"o2_max must be in (0, 21] %, got {o2_max}")
    if above_o2_max not in ("nan", "uncorrected"):
        raise ValueError(f"above_o2_max must be 'nan' or 'uncorrected', got {above_o2_max!r}")
    if if_temperature_missing not in ("general", "cold", "skip"):
        raise ValueError(
            f"if_temperature_missing must be general, cold or skip, got {if_temperature_missing!r}"
        )


def _prepare(values: pd.DataFrame, valid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames on a sorted, unique, tz-aware UTC index; ``valid`` also requires a value."""
    if not isinstance(values.index, pd.DatetimeIndex):
        raise ValueError("values must be indexed by interval-end times (a DatetimeIndex)")
    if not isinstance(valid.index, pd.DatetimeIndex):
        raise ValueError("valid must be indexed like values (a DatetimeIndex)")

    def utc(idx: pd.DatetimeIndex) -> pd.DatetimeIndex:
        return idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")

    values = values.set_axis(utc(values.index), axis=0)
    valid = valid.set_axis(utc(valid.index), axis=0)
    if values.index.has_duplicates:
        raise ValueError("values has duplicate times")
    if set(valid.columns) != set(values.columns) or not valid.index.equals(values.index):
        raise ValueError("valid must have the same index and columns as values")
    values = values.sort_index()
    valid = valid.reindex(index=values.index, columns=values.columns)
    ok = valid.eq(True) & values.notna()
    return values.astype(float), ok


def _col(frame: pd.DataFrame, ok: pd.DataFrame, name: str) -> pd.Series:
    """Return the valid values of a column (NaN where invalid or absent)."""
    if name not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    return frame[name].where(ok[name])


def hourly_series(
    standard: DischargeStandard,
    class_id: str,
    values: pd.DataFrame,
    *,
    valid: pd.DataFrame,
    overrides: Mapping[str, Any] | None = None,
    use_device_corrected: bool = True,
    o2_max: float | None = None,
    above_o2_max: HighO2Policy = "nan",
) -> dict[str, pd.DataFrame]:
    """Per limited variable, the hourly values to compare with its limit (for charts).

    Parameters
    ----------
    standard : DischargeStandard
        The standard.
    class_id : str
        Class of the source.
    values : pandas.DataFrame
        Hourly means; index = interval-end times (UTC; naive is taken as UTC); columns = canonical
        variable names (``stack_so2``, ``stack_so2_corrected``, ``stack_o2``, ``effluent_cod``,
        ``effluent_temperature`` ...) [units of ``configs/variables.yml``].
    valid : pandas.DataFrame
        Booleans of the same index and columns: True = valid (HJ 212 flag N and QC valid).
    overrides : mapping, optional
        A permit's own limits (:meth:`DischargeStandard.limits_with`).
    use_device_corrected : bool
        Use the device's 折算 value (``<name>_corrected``) where it is valid. The device is trusted
        to correct to the class's reference O2; pass False if it uses another.
    o2_max : float, optional
        See :func:`corrected_concentration` (default: correct every O2 below 21 %).
    above_o2_max : {"nan", "uncorrected"}
        See :func:`corrected_concentration`.

    Returns
    -------
    dict of pandas.DataFrame
        Variable -> frame on the UTC interval-end index with columns ``value`` (compared value:
        corrected for flue gas [units]; NaN where not valid), ``measured`` [units], ``o2`` [%],
        ``correction_factor`` [1], ``source`` (``device``, ``computed``, ``uncorrected``,
        ``measured`` or ``""``), ``water_temperature`` [degC], and ``limit``, ``limit_low``,
        ``limit_high`` (the limit applicable to each hour [units], a missing water temperature
        giving the general limit; NaN where not applicable).
        Every variable the class (with overrides) limits is present, all-NaN when not reported.
    """
    _check_options(o2_max, above_o2_max)
    values, ok = _prepare(values, valid)
    cls = standard.get_class(class_id)
    limits, _ = standard.limits_with(class_id, overrides)
    idx = values.index
    o2 = _col(values, ok, O2_VARIABLE)
    temp = _col(values, ok, WATER_TEMPERATURE_VARIABLE)
    out = {}
    for var, lim in limits.items():
        measured = _col(values, ok, var)
        frame = pd.DataFrame(index=idx)
        frame["measured"] = measured
        frame["o2"] = o2 if standard.medium == "air" else np.nan
        ref = cls.reference_o2
        if standard.medium == "air" and ref is not None:
            factor = pd.Series(_factor(o2.to_numpy(), ref), index=idx)
            if o2_max is not None:
                high = (o2 >= o2_max) & (o2 < _O2_AIR)
                factor = factor.mask(high, 1.0 if above_o2_max == "uncorrected" else np.nan)
            else:
                high = pd.Series(False, index=idx)
            computed = measured * factor
            device = (
                _col(values, ok, var + CORRECTED_SUFFIX)
                if use_device_corrected
                else pd.Series(np.nan, index=idx)
            )
            value = device.where(device.notna(), computed)
            source = np.where(
                device.notna(),
                "device",
                np.where(computed.notna(), np.where(high, "uncorrected", "computed"), ""),
            )
            frame["value"] = value
            frame["correction_factor"] = factor.where(device.isna() & computed.notna())
        else:
            frame["value"] = measured
            frame["correction_factor"] = np.nan
            kind = "uncorrected" if standard.medium == "air" else "measured"
            source = np.where(measured.notna(), kind, "")
        frame["source"] = source
        frame["water_temperature"] = temp if standard.medium == "water" else np.nan
        hourly_max, _ = _applicable_max(lim, frame["water_temperature"], "general")
        frame["limit"] = hourly_max
        frame["limit_low"] = lim.range[0] if lim.range is not None else np.nan
        frame["limit_high"] = lim.range[1] if lim.range is not None else np.nan
        cols = ["value", "measured", "o2", "correction_factor", "source", "water_temperature"]
        out[var] = frame[[*cols, "limit", "limit_low", "limit_high"]]
    return out


def _applicable_max(
    lim: Limit, temperature: pd.Series, policy: TemperaturePolicy
) -> tuple[np.ndarray, np.ndarray]:
    """Upper limit per period, and a note per period on how it was chosen."""
    n = len(temperature)
    if lim.max is None:
        return np.full(n, np.nan), np.full(n, "", dtype=object)
    if lim.cold_max is None:
        return np.full(n, lim.max), np.full(n, "", dtype=object)
    t = temperature.to_numpy(dtype=float)
    thr = lim.cold_at_or_below_degC
    missing = np.isnan(t)
    cold = ~missing & (t <= thr)
    limit = np.where(cold, lim.cold_max, lim.max)
    note = np.where(
        cold,
        f"cold-water limit (water temperature <= {thr:g} degC)",
        f"general limit (water temperature > {thr:g} degC)",
    ).astype(object)
    if policy == "general":
        msg = f"water temperature missing: the general (> {thr:g} degC, stricter) limit applied"
    elif policy == "cold":
        limit = np.where(missing, lim.cold_max, limit)
        msg = f"water temperature missing: the cold-water (<= {thr:g} degC) limit applied"
    elif policy == "skip":
        limit = np.where(missing, np.nan, limit)
        msg = "water temperature missing: not assessed"
    else:
        raise ValueError(f"if_temperature_missing must be general, cold or skip, got {policy!r}")
    note[missing] = msg
    return limit, note


def compare(
    standard: DischargeStandard,
    class_id: str,
    values: pd.DataFrame,
    *,
    valid: pd.DataFrame,
    time_zone: str,
    overrides: Mapping[str, Any] | None = None,
    use_device_corrected: bool = True,
    o2_max: float | None = None,
    above_o2_max: HighO2Policy = "nan",
    if_temperature_missing: TemperaturePolicy = "general",
    min_valid_hours: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Per limited variable, every period of the standard compared with its limit.

    Parameters
    ----------
    standard, class_id, values, valid, overrides, use_device_corrected, o2_max, above_o2_max
        As for :func:`hourly_series`.
    time_zone : str
        IANA zone of the enterprise (``Asia/Shanghai``): the days of daily-mean standards.
    if_temperature_missing : {"general", "cold", "skip"}
        Limit with a cold-water variant (GB 18918 NH3-N) when the period has no valid
        ``effluent_temperature``: ``general`` (default) applies the general limit (the one for
        water above 12 degC), which is the stricter; the standard applies the relaxed one only
        when the water is shown to be cold. ``cold`` applies the relaxed one, ``skip`` leaves
        the period unassessed. The choice is noted in ``limit_note``.
    min_valid_hours : int, optional
        Valid hours a day needs (default: the standard's ``min_valid_hours``); daily-mean
        standards only.

    Returns
    -------
    dict of pandas.DataFrame
        Variable -> one row per period (hours, or the local days that have rows in ``values``),
        indexed by the period end (UTC), with columns ``start`` (UTC), ``value`` (mean of the
        valid hours [units]; corrected for flue gas), ``n_valid``, ``assessed`` (enough valid
        hours and an applicable limit), ``limit``, ``limit_low``, ``limit_high`` [units],
        ``exceeds``, ``ratio`` (value/limit), ``measured`` [units], ``o2`` [%], ``source``,
        ``water_temperature`` [degC] and ``limit_note``.
    """
    _check_options(o2_max, above_o2_max, if_temperature_missing)
    if min_valid_hours is not None:
        if standard.period != "day":
            raise ValueError(
                f"min_valid_hours is for daily-mean standards; {standard.name} is hourly"
            )
        if not 1 <= min_valid_hours <= 24:
            raise ValueError("min_valid_hours must be in 1..24")
    hourly = hourly_series(
        standard,
        class_id,
        values,
        valid=valid,
        overrides=overrides,
        use_device_corrected=use_device_corrected,
        o2_max=o2_max,
        above_o2_max=above_o2_max,
    )
    limits, _ = standard.limits_with(class_id, overrides)
    need = min_valid_hours or (standard.min_valid_hours if standard.period == "day" else 1)
    out = {}
    for var, h in hourly.items():
        per = _daily(h, time_zone) if standard.period == "day" else _hours(h)
        lim = limits[var]
        limit, note = _applicable_max(lim, per["water_temperature"], if_temperature_missing)
        per["limit"] = limit
        per["limit_low"] = lim.range[0] if lim.range is not None else np.nan
        per["limit_high"] = lim.range[1] if lim.range is not None else np.nan
        has_limit = ~np.isnan(limit) if lim.range is None else np.ones(len(per), bool)
        per["assessed"] = (per["n_valid"].to_numpy() >= need) & has_limit
        v = per["value"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            if lim.range is None:
                over = v > limit
            else:
                over = (v < lim.range[0]) | (v > lim.range[1])
            per["ratio"] = v / limit
        per["exceeds"] = per["assessed"] & np.nan_to_num(over, nan=0).astype(bool)
        per["limit_note"] = note
        cols = ["start", "value", "n_valid", "assessed", "limit", "limit_low", "limit_high"]
        cols += ["exceeds", "ratio", "measured", "o2", "source", "water_temperature"]
        out[var] = per[[*cols, "limit_note"]]
    return out


def _hours(h: pd.DataFrame) -> pd.DataFrame:
    per = h[["value", "measured", "o2", "source", "water_temperature"]].copy()
    per.index.name = "end"
    per.insert(0, "start", per.index - _HOUR)
    per.insert(2, "n_valid", per["value"].notna().astype(int))
    return per


def _daily(h: pd.DataFrame, time_zone: str) -> pd.DataFrame:
    """Means over the local days (an hour belongs to the day in which it starts)."""
    local_start = (h.index - _HOUR).tz_convert(time_zone)
    day = local_start.normalize()
    g = h.assign(_day=day)
    rows = []
    for label, part in g.groupby("_day", sort=True):
        ok = part["value"].notna()
        sources = set(part.loc[ok, "source"])
        rows.append(
            {
                "start": label.tz_convert("UTC"),
                "end": (label + pd.DateOffset(days=1)).tz_convert("UTC"),
                "value": part.loc[ok, "value"].mean() if ok.any() else np.nan,
                "n_valid": int(ok.sum()),
                "measured": part.loc[ok, "measured"].mean() if ok.any() else np.nan,
                "o2": part.loc[ok, "o2"].mean() if ok.any() else np.nan,
                "source": "+".join(sorted(sources)),
                # the day's water temperature: the mean of all its valid temperature hours
                "water_temperature": part["water_temperature"].mean(),
            }
        )
    cols = ["start", "end", "value", "n_valid", "measured", "o2", "source", "water_temperature"]
    per = pd.DataFrame(rows, columns=cols)
    per = per.set_index("end")
    per.index = pd.DatetimeIndex(per.index, name="end")
    return per


def assess(
    standard: DischargeStandard,
    class_id: str,
    values: pd.DataFrame,
    *,
    valid: pd.DataFrame,
    time_zone: str,
    overrides: Mapping[str, Any] | None = None,
    use_device_corrected: bool = True,
    o2_max: float | None = None,
    above_o2_max: HighO2Policy = "nan",
    if_temperature_missing: TemperaturePolicy = "general",
    min_valid_hours: int | None = None,
) -> list[Exceedance]:
    """Exceedances of a source's limits.

    Parameters
    ----------
    standard : DischargeStandard
        The standard (its ``period`` decides hourly or daily-mean comparison).
    class_id : str
        Class of the source (``coal_boiler_existing``, ``1A`` ...).
    values : pandas.DataFrame
        Hourly means; index = interval-end times in UTC (naive is taken as UTC; aware is
        converted); columns = canonical variable names [units of ``configs/variables.yml``].
    valid : pandas.DataFrame
        Booleans, same index and columns: True = valid data (HJ 212 flag N and QC valid).
    time_zone : str
        IANA zone of the enterprise (``Asia/Shanghai``) for local days.
    overrides : mapping, optional
        A permit's own limits, variable -> number / limit mapping / None
        (e.g. ``{"stack_dust": 5}`` for a 5 mg m-3 ultra-low dust permit).
    use_device_corrected, o2_max, above_o2_max, if_temperature_missing, min_valid_hours
        See :func:`hourly_series` and :func:`compare`.

    Returns
    -------
    list of Exceedance
        Ordered by period start, then variable.
    """
    cls = standard.get_class(class_id)
    _, overridden = standard.limits_with(class_id, overrides)
    table = compare(
        standard,
        class_id,
        values,
        valid=valid,
        time_zone=time_zone,
        overrides=overrides,
        use_device_corrected=use_device_corrected,
        o2_max=o2_max,
        above_o2_max=above_o2_max,
        if_temperature_missing=if_temperature_missing,
        min_valid_hours=min_valid_hours,
    )
    found = []
    for var, per in table.items():
        units = standard.units.get(var, "")
        for end, row in per[per["exceeds"]].iterrows():
            is_range = not np.isnan(row["limit_low"])
            notes = []
            if var in overridden:
                notes.append("limit set by the permit (override)")
            if row["limit_note"]:
                notes.append(row["limit_note"])
            found.append(
                Exceedance(
                    standard=standard.name,
                    class_id=class_id,
                    variable=var,
                    start=row["start"],
                    end=end,
                    period=standard.period,
                    value=float(row["value"]),
                    limit=None if is_range else float(row["limit"]),
                    limit_range=(float(row["limit_low"]), float(row["limit_high"]))
                    if is_range
                    else None,
                    direction="below" if is_range and row["value"] < row["limit_low"] else "above",
                    ratio=None if is_range else float(row["ratio"]),
                    units=units,
                    basis=_basis(standard, cls, row, time_zone),
                    basis_zh=_basis(standard, cls, row, time_zone, lang="zh"),
                    n_valid=int(row["n_valid"]),
                    reference_o2=cls.reference_o2 if standard.medium == "air" else None,
                    o2=_opt(row["o2"]),
                    measured=_opt(row["measured"]),
                    source=row["source"],
                    water_temperature=_opt(row["water_temperature"]),
                    notes=tuple(notes),
                )
            )
    found.sort(key=lambda e: (e.start, e.variable))
    return found


def _opt(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


#: The phrases of :func:`_basis` by language; ``{n}``, ``{day}``, ``{tz}``, ``{ref}`` filled in.
_BASIS_TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "day": "daily mean of {n} valid hours ({day}, {tz})",
        "hour": "hourly mean",
        "no_ref": ", dry standard state, not corrected (the class sets no reference O2)",
        "device": " of the device's 折算 values (ZsAvg), taken as at {ref} % O2",
        "computed": " corrected to {ref} % O2",
        "uncorrected": ", not corrected to {ref} % O2 (measured O2 at or above o2_max)",
        "mixed": " at {ref} % O2 of ",
        "and": " and ",
        "words": {
            "computed": "values corrected here",
            "device": "the device's 折算 values (ZsAvg)",
            "uncorrected": "uncorrected values (measured O2 at or above o2_max)",
        },
    },
    "zh": {
        "day": "{n} 个有效小时的日均值 ({day}, {tz})",
        "hour": "小时均值",
        "no_ref": ",干基标准状态,未折算(该类别未规定基准氧含量)",
        "device": ",取设备折算值 (ZsAvg),按基准氧含量 {ref} % 计",
        "computed": ",折算到基准氧含量 {ref} %",
        "uncorrected": ",未折算到 {ref} % O2 (实测氧含量不低于 o2_max)",
        "mixed": ",基准氧含量 {ref} %,取",
        "and": "和",
        "words": {
            "computed": "本系统折算值",
            "device": "设备折算值 (ZsAvg)",
            "uncorrected": "未折算值(实测氧含量不低于 o2_max)",
        },
    },
}


def _basis(
    standard: DischargeStandard, cls: DischargeClass, row: pd.Series, tz: str, *, lang: str = "en"
) -> str:
    """Say what an exceedance was judged on (period, valid hours, O2 correction), in ``lang``."""
    t = _BASIS_TEXT[lang]
    if standard.period == "day":
        day = row["start"].tz_convert(tz).date().isoformat()
        text = t["day"].format(n=int(row["n_valid"]), day=day, tz=tz)
    else:
        text = t["hour"]
    if standard.medium != "air":
        return text
    if cls.reference_o2 is None:
        return text + t["no_ref"]
    ref = f"{cls.reference_o2:g}"
    parts = row["source"].split("+")
    if len(parts) == 1 and parts[0] in ("device", "computed", "uncorrected"):
        return text + t[parts[0]].format(ref=ref)
    return text + t["mixed"].format(ref=ref) + t["and"].join(t["words"].get(p, p) for p in parts)
