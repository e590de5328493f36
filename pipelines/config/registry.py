"""The variable registry, the QC configuration and the standards (AQI editions, water classes).

- ``configs/variables.yml``: canonical names, units and CF metadata of every variable
  (:class:`VariablesFile`).
- ``configs/qc.yml``: which QC checks run with which parameters (:class:`QcFile`); a network may
  override any part under its ``qc:`` key.
- ``configs/standards/*.yml``: AQI editions (:class:`AqiStandardSpec`, ``inherits`` another
  edition and overrides parts of it), surface-water classes (:class:`WaterStandardSpec`) and
  discharge limits of pollution sources (``kind: discharge``, :class:`DischargeStandardSpec`).

Each file is validated on load; a problem is reported with file, line and field.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.aqi import AqiStandard
from features.discharge import CORRECTED_SUFFIX, DischargeStandard
from features.units import UnitError, convert
from features.water_class import WaterStandard
from pipelines.config.locations import config_dir
from pipelines.config.yaml_io import (
    deep_merge,
    line_of,
    load_validated,
    load_yaml,
    validate_model,
)
from pipelines.errors import ConfigError

__all__ = [
    "AqiStandardSpec",
    "DischargeStandardSpec",
    "QcFile",
    "VariableSpec",
    "VariablesFile",
    "WaterStandardSpec",
    "aqi_standards",
    "discharge_standard",
    "discharge_standards",
    "load_qc",
    "load_standard_file",
    "load_variables",
    "standard_files",
    "water_standard",
]

Number = int | float  # ints stay ints (a threshold of 75 is not turned into 75.0)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- variables.yml
def _span(v: list[Number] | None) -> list[Number] | None:
    if v is not None and (len(v) != 2 or v[0] > v[1]):
        raise ValueError("give [low, high] with low <= high")
    return v


class RunningMean(_Strict):
    """What a published running-mean variable averages: the variable and the window."""

    of: str
    averaging: Literal["8h"]


class VariableSpec(_Strict):
    """One canonical variable of the registry."""

    long_name: str
    units: str
    symbol: str | None = None
    kind: Literal["air", "met", "water", "source", "soil"] | None = None
    standard_name: str | None = None
    cf_units: str | None = None
    cell_methods: str | None = None
    molar_mass: float | None = Field(None, gt=0)
    valid_range: list[Number] | None = None
    suspect_range: list[Number] | None = None
    # a published running mean of another variable (O3-8h): {of: o3, averaging: 8h}; the daily
    # statistic comes from it when the hourly variable itself is not in the store
    running_mean: RunningMean | None = None

    @field_validator("units")
    @classmethod
    def _convertible(cls, v: str) -> str:
        try:
            convert(np.array([1.0]), v, v)
        except UnitError as exc:
            raise ValueError(str(exc)) from exc
        return v

    _ranges = field_validator("valid_range", "suspect_range")(_span)


class ReferenceConditions(_Strict):
    """Reference state for ppb/ppm <-> ug m-3 conversion of gases (GB 3095, US EPA)."""

    temperature_K: float = Field(298.15, gt=0)
    pressure_Pa: float = Field(101325.0, gt=0)


class VariablesFile(_Strict):
    """``configs/variables.yml``."""

    reference_conditions: ReferenceConditions = Field(default_factory=ReferenceConditions)
    variables: dict[str, VariableSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _running_means(self) -> VariablesFile:
        for name, spec in self.variables.items():
            rm = spec.running_mean
            if rm is None:
                continue
            if rm.of not in self.variables:
                raise ValueError(f"variables.{name}.running_mean.of: unknown variable {rm.of!r}")
            if self.variables[rm.of].units != spec.units:
                raise ValueError(
                    f"variables.{name}.running_mean: units {spec.units!r} differ from "
                    f"{rm.of}'s {self.variables[rm.of].units!r}"
                )
        return self


@lru_cache(maxsize=4)
def _variables(cfg_dir: str) -> dict[str, Any]:
    spec, _ = load_validated(VariablesFile, Path(cfg_dir) / "variables.yml")
    return spec.model_dump(exclude_none=True)


def load_variables() -> dict[str, Any]:
    """Return the variable registry (``configs/variables.yml``) as a plain dict."""
    return _variables(str(config_dir()))


# --------------------------------------------------------------------------- qc.yml
def _flag(v: str | None) -> str | None:
    from features.qc.flags import FLAG_CODES

    if v is not None and v not in FLAG_CODES:
        raise ValueError(f"unknown status {v!r}; known: {sorted(FLAG_CODES)}")
    return v


class _Check(_Strict):
    enabled: bool = True
    variables: list[str] | None = None  # None: every variable


class _RangeOverride(_Strict):
    """Ranges of one variable replacing the registry's; a missing one is inherited."""

    valid: list[Number] | None = None
    suspect: list[Number] | None = None
    _ranges = field_validator("valid", "suspect")(_span)


class GrossRangeCheck(_Check):
    """Outside the valid range: invalid; outside the suspect range: suspect.

    Ranges come from ``variables.yml``; ``ranges`` replaces them for this configuration (a
    network's ``qc:`` block), ``station_classes`` for the stations of one ``station_class``
    (e.g. township stations with cheaper sensors): variable -> ``{valid, suspect}``.
    """

    ranges: dict[str, _RangeOverride] = Field(default_factory=dict)
    station_classes: dict[str, dict[str, _RangeOverride]] = Field(default_factory=dict)


class _SentinelValue(_Strict):
    value: Number
    flag: str = "qc_invalid"
    _known = field_validator("flag")(_flag)


class SentinelCheck(_Check):
    """Exact marker values that mean "no real measurement"."""

    values: list[Number] = Field(default_factory=list)
    flag: str = "qc_invalid"
    per_variable: dict[str, list[_SentinelValue]] = Field(default_factory=dict)
    _known = field_validator("flag")(_flag)


class SpikeCheck(_Check):
    """Robust z-score spike test (own history, or residual from the neighbours)."""

    window: str
    min_periods: int = Field(ge=1)
    threshold: float = Field(8.0, gt=0)
    min_scale: dict[str, Number] = Field(default_factory=dict)
    radius_km: Number | None = Field(None, gt=0)  # spike_neighbour only
    min_neighbours: int | None = Field(None, ge=1)
    max_neighbours: int | None = Field(None, ge=1)


class SpikeSelfCheck(SpikeCheck):
    window: str = "7D"
    min_periods: int = Field(24, ge=1)


class SpikeNeighbourCheck(SpikeCheck):
    window: str = "30D"
    min_periods: int = Field(48, ge=1)
    radius_km: Number = Field(50, gt=0)
    min_neighbours: int = Field(2, ge=1)
    max_neighbours: int = Field(10, ge=1)


class _FlatLineRule(_Strict):
    duration: str | None = None
    tolerance: Number | None = Field(None, ge=0)
    min_value: Number | None = None


class _FlatLineDefaults(_FlatLineRule):
    duration: str = "8h"
    tolerance: Number = Field(0.0, ge=0)


class FlatLineCheck(_Check):
    """Same value (within tolerance) for at least ``duration``."""

    defaults: _FlatLineDefaults = Field(default_factory=_FlatLineDefaults)
    per_variable: dict[str, _FlatLineRule] = Field(default_factory=dict)


class PmInversionCheck(_Check):
    """PM2.5 > PM10 + tolerance: suspect but valid."""

    tolerance: Number = Field(0.0, ge=0)


class CompletenessCheck(_Check):
    """Values in local days with fewer valid values than ``min_fraction`` of the day."""

    min_fraction: float = Field(0.8333, gt=0, le=1)


class QcChecks(BaseModel):
    """The ``checks:`` block; further keys are checks registered by plug-ins (``enabled`` + params)."""

    model_config = ConfigDict(extra="allow")
    gross_range: GrossRangeCheck | None = None
    sentinel: SentinelCheck | None = None
    spike_self: SpikeSelfCheck | None = None
    spike_neighbour: SpikeNeighbourCheck | None = None
    flat_line: FlatLineCheck | None = None
    pm_inversion: PmInversionCheck | None = None
    completeness: CompletenessCheck | None = None


class QcFile(_Strict):
    """``configs/qc.yml`` (and, merged with it, a network's ``qc:`` overrides)."""

    valid_statuses: list[str] = Field(default_factory=lambda: ["N", "S", "qc_suspect"])
    checks: QcChecks = Field(default_factory=QcChecks)

    @field_validator("valid_statuses")
    @classmethod
    def _statuses(cls, v: list[str]) -> list[str]:
        for status in v:
            _flag(status)
        return v


def load_qc(network: Any = None) -> dict[str, Any]:
    """QC configuration (``configs/qc.yml``) merged with the network's ``qc:`` overrides.

    Parameters
    ----------
    network : NetworkSpec, optional
        Its ``qc`` mapping overrides any part of the file (mappings merge, lists replace).

    Raises
    ------
    ConfigError
        Naming ``qc.yml`` (or the network file, for a bad override), line and field.
    """
    from features.qc.checks import CHECKS

    path = config_dir() / "qc.yml"
    base, data = load_validated(QcFile, path)
    if network is not None and network.qc:
        where = network.path or path
        merged = deep_merge(data, network.qc)
        base = validate_model(QcFile, merged, where)
    else:
        where, merged = path, data
    out = base.model_dump(exclude_none=True)
    order = list(merged.get("checks") or {})
    out["checks"] = {k: out["checks"][k] for k in order if k in out["checks"]}
    for name, params in out["checks"].items():
        if name not in CHECKS and name != "completeness":
            line = getattr(merged.get("checks"), "lines", {}).get(name)
            raise ConfigError(
                str(where), line, f"checks.{name}", f"unknown QC check; known: {sorted(CHECKS)}"
            )
        if not isinstance(params, dict):
            raise ConfigError(str(where), None, f"checks.{name}", "must be a mapping")
    _check_range_variables(out["checks"].get("gross_range") or {}, merged, where)
    return out


def _check_range_variables(params: dict[str, Any], merged: Any, where: Any) -> None:
    """Refuse a range override for a variable the registry does not have."""
    variables = load_variables()["variables"]
    blocks = [(("checks", "gross_range", "ranges"), params.get("ranges") or {})]
    blocks += [
        (("checks", "gross_range", "station_classes", cls), rules)
        for cls, rules in (params.get("station_classes") or {}).items()
    ]
    for loc, rules in blocks:
        for var in rules:
            if var not in variables:
                close = difflib.get_close_matches(var, list(variables), n=1)
                raise ConfigError(
                    str(where),
                    line_of(merged, (*loc, var)),
                    ".".join((*loc, var)),
                    f"unknown variable {var!r} (not in variables.yml)"
                    + (f"; did you mean {close[0]!r}?" if close else ""),
                )


# --------------------------------------------------------------------------- standards/*.yml
class _PollutantScaleSpec(_Strict):
    variable: str
    averaging: str
    units: str
    breakpoints: list[Number | None] | None = None
    rows: list[list[Number]] | None = None
    above_table: str | None = None
    truncate: Number | None = None

    @model_validator(mode="after")
    def _table(self) -> _PollutantScaleSpec:
        if (self.breakpoints is None) == (self.rows is None):
            raise ValueError("give exactly one of breakpoints / rows")
        if self.rows is not None and any(len(r) != 4 for r in self.rows):
            raise ValueError("rows are [C_low, C_high, I_low, I_high]")
        return self


class _CategorySpec(_Strict):
    max: Number
    level: int
    name: str
    colour: str
    effects: dict[str, str] | None = None
    advice: dict[str, str] | None = None


class _ValiditySpec(_Strict):
    min_hours_24h: int | None = Field(None, ge=0)
    min_hours_8h: int | None = Field(None, ge=0)
    min_hours_1h_max: int | None = Field(None, ge=0)
    mda8_min_windows: int | None = Field(None, ge=0)
    mda8_limit_override: Number | None = None


class AqiStandardSpec(_Strict):
    """One AQI edition (after merging the edition it ``inherits``)."""

    name: str
    title: str | None = None
    effective_from: dt.date
    effective_to: dt.date | None = None
    rounding: Literal["ceil", "round", "none"] = "ceil"
    max_index: int = Field(500, gt=0)
    iaqi_levels: list[Number] | None = None
    pollutants: dict[str, _PollutantScaleSpec] = Field(min_length=1)
    daily_report: list[str] = Field(default_factory=list)
    realtime_report: list[str] = Field(default_factory=list)
    realtime_pm_averaging: Literal["1h", "24h_moving"] = "1h"
    categories: list[_CategorySpec] = Field(default_factory=list)
    validity: _ValiditySpec = Field(default_factory=_ValiditySpec)

    @model_validator(mode="after")
    def _consistent(self) -> AqiStandardSpec:
        for report in ("daily_report", "realtime_report"):
            for key in getattr(self, report):
                if key not in self.pollutants:
                    raise ValueError(f"{report}: {key!r} is not one of the pollutants")
        for key, p in self.pollutants.items():
            if p.breakpoints is not None and (
                self.iaqi_levels is None or len(p.breakpoints) != len(self.iaqi_levels)
            ):
                raise ValueError(f"pollutants.{key}: one breakpoint per entry of iaqi_levels")
        return self


class _WaterParameterSpec(_Strict):
    direction: Literal["min", "max", "range"]
    limits: list[Number] | None = None
    lake_limits: list[Number] | None = None
    range: list[Number] | None = None
    waterbody: list[Literal["river", "lake"]] | None = None

    @model_validator(mode="after")
    def _limits(self) -> _WaterParameterSpec:
        if self.direction == "range" and self.range is None:
            raise ValueError("direction range needs range: [low, high]")
        if self.direction != "range" and self.limits is None:
            raise ValueError(f"direction {self.direction} needs limits (one per class I..V)")
        return self


class WaterStandardSpec(_Strict):
    """A surface-water class standard (GB 3838-2002)."""

    name: str
    title: str | None = None
    classes: list[str] = Field(min_length=2)
    parameters: dict[str, _WaterParameterSpec] = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)


class _DischargeLimitSpec(_Strict):
    """``{max: x}``, ``{range: [lo, hi]}`` or ``{max: x, cold_max: y, cold_at_or_below_degC: t}``."""

    max: Number | None = Field(None, gt=0)
    range: list[Number] | None = None
    cold_max: Number | None = Field(None, gt=0)
    cold_at_or_below_degC: Number | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> _DischargeLimitSpec:
        if (self.max is None) == (self.range is None):
            raise ValueError("give exactly one of max / range")
        if self.range is not None and (
            len(self.range) != 2 or self.range[0] < 0 or self.range[0] > self.range[1]
        ):
            raise ValueError("range is [low, high] with 0 <= low <= high")
        if (self.cold_max is None) != (self.cold_at_or_below_degC is None):
            raise ValueError("cold_max and cold_at_or_below_degC go together")
        if self.cold_max is not None:
            if self.max is None:
                raise ValueError("cold_max needs max (not range)")
            if self.cold_max < self.max:
                raise ValueError("cold_max is the relaxed cold-water limit: it is not below max")
        return self


class _DischargeClassSpec(_Strict):
    title: str
    reference_o2: Number | None = Field(None, ge=0, lt=21)
    notes: str | None = None
    limits: dict[str, _DischargeLimitSpec] = Field(min_length=1)


class _DischargeAveragingSpec(_Strict):
    period: Literal["hour", "day"]
    min_valid_hours: int = Field(1, ge=1, le=24)

    @model_validator(mode="after")
    def _hourly(self) -> _DischargeAveragingSpec:
        if self.period == "hour" and self.min_valid_hours != 1:
            raise ValueError("min_valid_hours is for daily means (period: day)")
        return self


class DischargeStandardSpec(_Strict):
    """Discharge limits of pollution sources (GB 13223, GB 13271, GB 18918, GB 8978 ...).

    ``medium: air`` limits are mg m-3 of dry flue gas at standard state, corrected to each class's
    ``reference_o2`` (null: not corrected); ``medium: water`` limits are mg L-1 (pH a range).
    Limits are keyed by canonical variables of ``configs/variables.yml``
    (checked by :func:`load_standard_file`).
    """

    name: str
    kind: Literal["discharge"]
    title: str
    medium: Literal["air", "water"]
    averaging: _DischargeAveragingSpec
    classes: dict[str, _DischargeClassSpec] = Field(min_length=1)


#: units every limit of a medium is in (pH: "1")
_DISCHARGE_UNITS = {"air": ("mg m-3",), "water": ("mg L-1", "1")}


def _check_discharge(spec: DischargeStandardSpec, data: dict, path: Path) -> None:
    """Check across fields and files: medium, reference O2, variables and their units."""
    cfg_dir = path.parent.parent
    if (cfg_dir / "variables.yml").is_file():
        variables = _variables(str(cfg_dir.resolve()))["variables"]
    else:
        variables = load_variables()["variables"]
    for cid, cls in spec.classes.items():
        where = ("classes", cid)
        if spec.medium == "water" and cls.reference_o2 is not None:
            raise ConfigError(
                str(path),
                line_of(data, (*where, "reference_o2")),
                f"classes.{cid}.reference_o2",
                "a water class has no reference O2 (leave it out or null)",
            )
        if spec.medium == "air" and "reference_o2" not in cls.model_fields_set:
            raise ConfigError(
                str(path),
                line_of(data, where),
                f"classes.{cid}.reference_o2",
                "a flue-gas class needs reference_o2 [%] (null: limits are not corrected)",
            )
        for var, lim in cls.limits.items():
            loc = (*where, "limits", var)
            field = f"classes.{cid}.limits.{var}"
            line = line_of(data, loc)
            if var not in variables:
                close = difflib.get_close_matches(var, list(variables), n=1)
                raise ConfigError(
                    str(path),
                    line,
                    field,
                    f"unknown variable {var!r} (not in variables.yml)"
                    + (f"; did you mean {close[0]!r}?" if close else ""),
                )
            if var.endswith(CORRECTED_SUFFIX):
                raise ConfigError(
                    str(path),
                    line,
                    field,
                    f"limits are keyed by the measured variable "
                    f"({var.removesuffix(CORRECTED_SUFFIX)!r}), not its corrected form",
                )
            units = variables[var]["units"]
            if units not in _DISCHARGE_UNITS[spec.medium]:
                raise ConfigError(
                    str(path),
                    line,
                    field,
                    f"{var} is in {units!r} (variables.yml); {spec.medium} limits are in "
                    f"{' or '.join(repr(u) for u in _DISCHARGE_UNITS[spec.medium])}",
                )
            if lim.cold_max is not None and spec.medium != "water":
                raise ConfigError(
                    str(path),
                    line_of(data, (*loc, "cold_max")),
                    f"{field}.cold_max",
                    "a cold-water limit is for wastewater (medium: water)",
                )


_State = tuple[str, tuple[tuple[str, str], ...]]


def _standards_state(cfg_dir: Path) -> _State:
    """Return the standards folder's identity: its path and each file's name and content hash."""
    folder = cfg_dir / "standards"
    return str(folder.resolve()), tuple(
        (p.name, hashlib.blake2b(p.read_bytes(), digest_size=16).hexdigest())
        for p in sorted(folder.glob("*.yml"))
    )


@lru_cache(maxsize=8)
def _standard_files(state: _State) -> dict[str, Path]:
    folder = Path(state[0])
    out = {}
    for name, _ in state[1]:
        p = folder / name
        data = load_yaml(p)
        if not isinstance(data, dict) or "name" not in data:
            raise ConfigError(str(p), getattr(data, "line", None), "name", "Field required")
        out[data["name"]] = p
    return out


def standard_files(cfg_dir: Path | None = None) -> dict[str, Path]:
    """Map each standard name (the ``name`` field) to its file in ``configs/standards/``.

    Parsed once per state of the folder (file names and contents): a warning
    job asks for the standards once per area, and a replay thousands of times.
    """
    return dict(_standard_files(_standards_state(cfg_dir or config_dir())))


def load_standard_file(
    path: Path, files: dict[str, Path] | None = None, *, _seen: tuple[str, ...] = ()
) -> BaseModel:
    """Validate one standards file, merged with the edition it ``inherits`` (itself validated).

    Parameters
    ----------
    path : pathlib.Path
        The file.
    files : dict, optional
        Standard name -> file (default: :func:`standard_files` of the file's configuration).

    Returns
    -------
    AqiStandardSpec, WaterStandardSpec or DischargeStandardSpec
        A file with ``kind: discharge`` is a :class:`DischargeStandardSpec` (its variables are
        checked against ``variables.yml`` of the same configuration directory); otherwise one
        with ``parameters`` is a :class:`WaterStandardSpec`, any other an
        :class:`AqiStandardSpec`.

    Raises
    ------
    ConfigError
        Naming the file at fault (the inherited one when the problem is there), line and field.
    """
    path = Path(path)
    files = files if files is not None else standard_files(path.parent.parent)
    data = load_yaml(path)
    if not isinstance(data, dict) or "name" not in data:
        raise ConfigError(str(path), getattr(data, "line", None), "name", "Field required")
    parent = data.pop("inherits", None)
    if parent is not None:
        line = data.lines.get("inherits")
        if parent not in files:
            raise ConfigError(
                str(path), line, "inherits", f"no standard {parent!r}; known: {sorted(files)}"
            )
        if parent in _seen or parent == data["name"]:
            raise ConfigError(str(path), line, "inherits", f"inheritance cycle via {parent!r}")
        base = load_standard_file(files[parent], files, _seen=(*_seen, data["name"]))
        data = deep_merge(base.model_dump(exclude_unset=True), data)
    kind = data.get("kind")
    if kind == "discharge":
        spec = validate_model(DischargeStandardSpec, data, path)
        _check_discharge(spec, data, path)
        return spec
    if kind == "soil":  # GB 15618 / GB 36600 (issue #18)
        from pipelines.config.soil import SoilStandardSpec

        return validate_model(SoilStandardSpec, data, path)
    if kind is not None:
        raise ConfigError(
            str(path),
            data.lines.get("kind"),
            "kind",
            f"unknown kind {kind!r}; known: 'discharge', 'soil' (AQI and water-class files have "
            "no kind)",
        )
    model = WaterStandardSpec if "parameters" in data else AqiStandardSpec
    return validate_model(model, data, path)


def _load_standard(name: str) -> dict[str, Any]:
    return copy.deepcopy(_validated_standard(name, _standards_state(config_dir())))


@lru_cache(maxsize=64)
def _validated_standard(name: str, state: _State) -> dict:
    """Return one standard validated, cached per state of the standards folder."""
    files = dict(_standard_files(state))
    if name not in files:
        raise ConfigError(
            str(config_dir() / "standards"),
            None,
            "name",
            f"no standard {name!r}; known: {sorted(files)}",
        )
    return load_standard_file(files[name], files).model_dump(exclude_none=True)


def aqi_standards(family: str = "hj633") -> list[AqiStandard]:
    """All editions of an AQI family (``hj633`` or ``us-epa``), oldest first."""
    names = [n for n in standard_files() if n.startswith(family)]
    if not names:
        raise ConfigError(
            str(config_dir() / "standards"), None, "name", f"no AQI standard family {family!r}"
        )
    return list(_aqi_standards(tuple(names), _standards_state(config_dir())))


@lru_cache(maxsize=8)
def _aqi_standards(names: tuple[str, ...], state: _State) -> tuple[AqiStandard, ...]:
    stds = [AqiStandard.from_config(_load_standard(n)) for n in names]
    return tuple(sorted(stds, key=lambda s: s.effective_from))


def water_standard(name: str = "gb3838-2002") -> WaterStandard:
    """Return the surface-water class standard."""
    return WaterStandard.from_config(_load_standard(name))


def _discharge_names() -> list[str]:
    return [
        name
        for name, path in standard_files().items()
        if (load_yaml(path) or {}).get("kind") == "discharge"
    ]


def discharge_standard(name: str) -> DischargeStandard:
    """Return a discharge-limit standard (``gb13223-2011``, ``gb18918-2002`` ...).

    The units of every limited variable (from ``configs/variables.yml``) are attached.

    Raises
    ------
    ConfigError
        No such standard, not a discharge standard, or an invalid file (file, line, field).
    """
    cfg = _load_standard(name)
    if cfg.get("kind") != "discharge":
        raise ConfigError(
            str(standard_files()[name]),
            None,
            "kind",
            f"{name!r} is not a discharge standard; known: {sorted(_discharge_names())}",
        )
    variables = load_variables()["variables"]
    used = {v for c in cfg["classes"].values() for v in c["limits"]}
    cfg["units"] = {v: variables[v]["units"] for v in sorted(used)}
    return DischargeStandard.from_config(cfg)


def discharge_standards() -> dict[str, DischargeStandard]:
    """Every discharge-limit standard of ``configs/standards/``, by name."""
    return {name: discharge_standard(name) for name in sorted(_discharge_names())}
