"""Warning schemes and city warning settings from ``configs/warnings/*.yml``.

A *scheme* file (``national_2018.yml``, ``mee_2017.yml``) holds levels, decision settings and
measures. A *city* file (``beijing.yml``) names a network, inherits a scheme (overriding any part
of it) and adds areas (groups of stations), the CAP sender, webhook subscribers and operational
limits. Every file is validated on load; a problem is reported with file, line and field.

The defaults of every setting live in the schemas below only: the loaded scheme's ``decision``,
``verification`` and ``water`` blocks hold every key, so the code reading them has no fallbacks.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.warnings.rules import WarningScheme
from pipelines.config import _deep_merge, _validate, load_network, load_yaml, plain
from pipelines.config.locations import config_dir
from pipelines.errors import ConfigError

__all__ = [
    "AreaSpec",
    "CitySettings",
    "OutboxSettings",
    "list_warning_configs",
    "load_warning_config",
]


class _ConditionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    aqi_above: float | None = None
    aqi_at_least: float | None = None
    days: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _one_limit(self) -> _ConditionSpec:
        if (self.aqi_above is None) == (self.aqi_at_least is None):
            raise ValueError("give exactly one of aqi_above / aqi_at_least")
        return self


class _LevelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    rank: int
    names: dict[str, str] = Field(default_factory=dict)
    colour: str = "#888888"
    cap_severity: Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"] = "Unknown"
    any_of: list[list[_ConditionSpec]] = Field(default_factory=list)  # air levels need one


class _ThresholdSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    variable: str
    below: float | None = None
    above: float | None = None
    units: str
    readings: int = Field(1, ge=1)
    level: str

    @model_validator(mode="after")
    def _one_bound(self) -> _ThresholdSpec:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of below / above")
        return self


class _WaterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    standard: str = "gb3838-2002"
    class_level: str | None = None
    class_window_hours: float = Field(24, gt=0)
    review_hours: float = Field(24, gt=0)
    max_data_age_hours: float = Field(12, gt=0)
    thresholds: list[_ThresholdSpec] = Field(default_factory=list)


class _SupervisionSpec(BaseModel):
    """``supervision:`` block of a ``kind: source`` file (features.warnings.supervision)."""

    model_config = ConfigDict(extra="forbid")
    exceedance_level: str
    severe_level: str | None = None
    severe_ratio: float = Field(2.0, gt=1)  # value >= this x the limit: the severe level
    data_level: str | None = None  # offline, flagged, flat, inconsistent
    offline_hours: float = Field(2, gt=0)
    flagged_hours: float = Field(4, gt=0)
    flagged_statuses: list[Literal["F", "M", "S", "D", "C", "B", "T"]] = Field(
        default_factory=lambda: ["F", "M", "S", "D", "C", "B"]
    )
    flat_hours: float = Field(6, gt=1)
    flat_tolerance: float = Field(0.0, ge=0, lt=1)  # relative
    flat_variables: list[str] = Field(default_factory=list)
    lookback_hours: float = Field(24, gt=0)
    review_hours: float = Field(24, gt=0)
    max_data_age_hours: float = Field(6, gt=0)


class _DecisionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confidence: float = Field(0.5, gt=0, le=1)
    upper_bound_from_days: int = Field(3, ge=1)
    upper_quantile: float = Field(0.9, gt=0, lt=1)
    min_lead_hours: float = Field(24, ge=0)
    lift_clear_hours: float = Field(36, ge=0)
    merge_gap_days: int = Field(1, ge=0)


class _VerificationSpec(BaseModel):
    """How a replay scores the warnings: what counts as an observed heavy episode."""

    model_config = ConfigDict(extra="forbid")
    heavy_aqi_above: float = Field(200, gt=0)  # a heavy day: observed daily AQI above this
    episode_min_days: int = Field(2, ge=1)  # an episode: at least this many heavy days in a row
    warned_ahead_hours: float = Field(24, ge=0)  # "warned in time": this long before the start


class OutboxSettings(BaseModel):
    """Webhook delivery retries of a city (``outbox:`` block)."""

    model_config = ConfigDict(extra="forbid")
    max_attempts: int = Field(8, ge=1)  # attempts before a row is marked dead
    backoff_s: float = Field(30, ge=0)  # delay before the first retry [s], doubling


class AreaSpec(BaseModel):
    """An area: a named group of stations whose mean concentrations give its daily AQI."""

    model_config = ConfigDict(extra="forbid")
    id: str
    names: dict[str, str] = Field(default_factory=dict)
    stations: list[str] | Literal["all"] = "all"
    geocode: dict[str, str] = Field(default_factory=dict)
    # water areas (sections): the GB 3838 class the section must meet
    target_class: Literal["I", "II", "III", "IV", "V"] | None = None


class _SubscriberSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    formats: list[Literal["cap", "json"]] = Field(default_factory=lambda: ["cap"])
    timeout_s: float = Field(10, gt=0)


class _ReplaySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    train_end: dt.date
    start: dt.date
    end: dt.date
    model: str = "lightgbm"
    issue_hour: int = Field(0, ge=0, le=23)


class _FileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    title: str | None = None
    inherits: str | None = None
    kind: Literal["air", "water", "source"] | None = None
    aqi_family: str | None = None
    water: _WaterSpec | None = None
    supervision: _SupervisionSpec | None = None
    levels: list[_LevelSpec] | None = None
    decision: _DecisionSpec | None = None
    verification: _VerificationSpec | None = None
    measures: dict[str, dict[str, str]] | None = None
    network: str | None = None
    operational: bool | None = None
    sender: str | None = None
    sender_name: dict[str, str] | None = None
    cap_status: Literal["Actual", "Exercise", "System", "Test", "Draft"] | None = None
    areas: list[AreaSpec] | None = None
    subscribers: list[_SubscriberSpec] | None = None
    max_forecast_age_hours: float | None = Field(None, gt=0)
    outbox: OutboxSettings | None = None
    replay: _ReplaySpec | None = None
    confirmation: Literal["none", "required"] | None = None
    bulletin_charts: Literal["all", "at_risk"] | None = None


class CitySettings(BaseModel):
    """Operational settings of one city (the non-scheme part of a city file)."""

    name: str
    network: str
    operational: bool = True  # False: never run by the scheduler or `qingyuan run` unless named
    sender: str = "qingyuan@localhost"
    sender_name: dict[str, str] = Field(default_factory=lambda: {"zh": "清源", "en": "Qingyuan"})
    cap_status: str = "Actual"
    areas: list[AreaSpec]
    subscribers: list[_SubscriberSpec] = Field(default_factory=list)
    max_forecast_age_hours: float = 30.0
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    replay: dict[str, Any] | None = None
    # "required": every lifecycle step that sends a message (issue, upgrade, downgrade, extend,
    # lift) is held for decision staff to confirm before release (pipelines.warnings.confirm)
    confirmation: Literal["none", "required"] = "none"
    # the bulletin's daily-AQI chart per area: "all" areas with an outlook, or "at_risk" ones
    # only (a warning in force, or the upper quantile reaching the lowest warning threshold on
    # some day) - for schemes with hundreds of areas, where a chart each makes an unreadable page
    bulletin_charts: Literal["all", "at_risk"] = "all"


def _files() -> dict[str, Path]:
    out = {}
    for p in sorted((config_dir() / "warnings").glob("*.yml")):
        data = load_yaml(p)
        name = data.get("name") if isinstance(data, dict) else None
        out[str(name or p.stem)] = p
        out.setdefault(p.stem, p)
    return out


def list_warning_configs() -> list[str]:
    """Names of the warning files (schemes and cities)."""
    return sorted({str(load_yaml(p).get("name", p.stem)) for p in set(_files().values())})


def _raw(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    files = _files()
    path = Path(name) if Path(name).suffix in (".yml", ".yaml") else files.get(name)
    if path is None or not path.is_file():
        raise ConfigError(
            str(config_dir() / "warnings" / f"{name}.yml"),
            None,
            "name",
            f"no warning scheme or city {name!r} (known: {', '.join(list_warning_configs())})",
        )
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(str(path), 1, "", "a warning file must be a mapping")
    _validate(_FileSpec, data, path)
    parent = data.get("inherits")
    if parent:
        if parent in seen:
            raise ConfigError(str(path), data.lines.get("inherits"), "inherits", "circular")
        base = _raw(str(parent), (*seen, name))
        # an empty block (``decision:`` with every key commented out) overrides nothing
        override = {
            k: v
            for k, v in plain(data).items()
            if v is not None or not isinstance(base.get(k), dict)
        }
        merged = _deep_merge(base, override)
        if "levels" in data:  # levels replace the parent's wholesale
            merged["levels"] = plain(data["levels"])
        merged["_path"] = str(path)
        return merged
    out = plain(data)
    out["_path"] = str(path)
    return out


def _check_kind(cfg: dict[str, Any], path: Path) -> None:
    """Air levels need AQI conditions; water files need a ``water`` block naming real levels."""
    raw = load_yaml(path)
    names = [lv["name"] for lv in cfg["levels"]]
    if cfg.get("kind", "air") == "air":
        for i, lv in enumerate(cfg["levels"]):
            if not lv.get("any_of"):
                raise ConfigError(
                    str(path), None, f"levels.{i}.any_of", "an air warning level needs conditions"
                )
        return
    if cfg.get("kind") == "source":
        _check_supervision(cfg, path, raw, names)
        return
    water = cfg.get("water")
    if not water:
        raise ConfigError(str(path), None, "water", "a water warning file needs a water: block")
    node = raw.get("water", {}) if isinstance(raw, dict) else {}
    lines = getattr(node, "lines", {})
    if water.get("class_level") and water["class_level"] not in names:
        raise ConfigError(
            str(path),
            lines.get("class_level"),
            "water.class_level",
            f"{water['class_level']!r} is not a level of this file ({names})",
        )
    from features.units import UnitError, convert
    from pipelines.config import load_variables

    registry = load_variables()["variables"]
    for i, t in enumerate(water.get("thresholds", [])):
        field = f"water.thresholds.{i}"
        if t["level"] not in names:
            raise ConfigError(
                str(path),
                lines.get("thresholds"),
                f"{field}.level",
                f"{t['level']!r} is not a level of this file ({names})",
            )
        var = registry.get(t["variable"])
        if var is None:
            raise ConfigError(
                str(path),
                lines.get("thresholds"),
                f"{field}.variable",
                f"unknown variable {t['variable']!r} (see configs/variables.yml)",
            )
        try:
            convert(np.array([1.0]), t["units"], var["units"])
        except UnitError as exc:
            raise ConfigError(
                str(path), lines.get("thresholds"), f"{field}.units", str(exc)
            ) from exc


def _check_supervision(cfg: dict[str, Any], path: Path, raw: Any, names: list[str]) -> None:
    """Check that a source file has a ``supervision`` block whose levels and variables exist."""
    sup = cfg.get("supervision")
    if not sup:
        raise ConfigError(
            str(path), None, "supervision", "a kind: source warning file needs a supervision: block"
        )
    node = raw.get("supervision", {}) if isinstance(raw, dict) else {}
    lines = getattr(node, "lines", {})
    for key in ("exceedance_level", "severe_level", "data_level"):
        if sup.get(key) is not None and sup[key] not in names:
            raise ConfigError(
                str(path),
                lines.get(key),
                f"supervision.{key}",
                f"{sup[key]!r} is not a level of this file ({names})",
            )
    from pipelines.config import load_variables

    registry = load_variables()["variables"]
    for v in sup.get("flat_variables", []):
        if v not in registry:
            raise ConfigError(
                str(path),
                lines.get("flat_variables"),
                "supervision.flat_variables",
                f"unknown variable {v!r} (see configs/variables.yml)",
            )


def _check_unique(cfg: dict[str, Any], path: Path, block: str, key: str) -> None:
    """Refuse two levels of one name, or two areas of one id (the second would be unreachable)."""
    seen: dict[Any, int] = {}
    for i, item in enumerate(cfg.get(block) or []):
        if item[key] in seen:
            node = load_yaml(path).get(block)
            lines = getattr(node, "lines", [])  # None when the block is inherited
            raise ConfigError(
                str(path),
                lines[i] if i < len(lines) else None,
                f"{block}.{i}.{key}",
                f"{item[key]!r} appears twice (also {block}.{seen[item[key]]})",
            )
        seen[item[key]] = i


def load_warning_config(name: str) -> tuple[WarningScheme, CitySettings | None]:
    """Load a scheme or a city file (by name or path), inheritance resolved.

    Returns
    -------
    scheme : WarningScheme
    city : CitySettings or None
        None for a scheme file without a ``network``.

    Raises
    ------
    ConfigError
        Naming file, line and field: unknown key, missing condition limit, a level without
        conditions, an area station the network does not have, ...
    """
    cfg = _raw(name)
    path = Path(cfg.pop("_path"))
    if not cfg.get("levels"):
        raise ConfigError(str(path), None, "levels", "no levels (give them or inherit a scheme)")
    _check_unique(cfg, path, "levels", "name")
    _check_unique(cfg, path, "areas", "id")
    ranks = [lv["rank"] for lv in cfg["levels"]]
    if ranks != sorted(ranks, reverse=True):
        raise ConfigError(
            str(path), None, "levels", "list levels least severe first (rank decreasing)"
        )
    cfg["decision"] = _DecisionSpec(**(cfg.get("decision") or {})).model_dump()
    cfg["verification"] = _VerificationSpec(**(cfg.get("verification") or {})).model_dump()
    cfg["measures"] = cfg.get("measures") or {}  # an empty block: no measures
    _check_kind(cfg, path)
    if cfg.get("water"):
        cfg["water"] = _WaterSpec(**cfg["water"]).model_dump()
    if cfg.get("supervision"):
        cfg["supervision"] = _SupervisionSpec(**cfg["supervision"]).model_dump()
    scheme = WarningScheme.from_config(cfg)
    if not cfg.get("network"):
        return scheme, None
    raw = load_yaml(path)
    if not cfg.get("areas"):
        raise ConfigError(str(path), None, "areas", "a city file needs at least one area")
    net = load_network(cfg["network"])
    ids = {s.id for s in net.stations}
    for i, area in enumerate(cfg["areas"]):
        stations = area.get("stations", "all")
        if stations != "all":
            unknown = sorted(set(stations) - ids)
            if unknown:
                node = raw.get("areas", [{}])[i] if "areas" in raw else {}
                line = node.lines.get("stations") if hasattr(node, "lines") else None
                raise ConfigError(
                    str(path),
                    line,
                    f"areas.{i}.stations",
                    f"stations not in network {net.name}: {unknown}",
                )
    keys = set(CitySettings.model_fields)
    city = CitySettings(**{k: v for k, v in cfg.items() if k in keys and v is not None})
    return scheme, city
