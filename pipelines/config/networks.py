"""Station networks (``configs/networks/<name>.yml``): schema, loader and input-file patterns.

A network names its time zone and time label, its stations and its sources (an adapter of
:mod:`pipelines.sources` each, with column mappings onto the variable registry). Every problem
is reported with file, line and field (:class:`~pipelines.errors.ConfigError`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import zoneinfo
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.units import UnitError, convert
from pipelines.config.forecast import BacktestWindow
from pipelines.config.locations import config_dir, project_root
from pipelines.config.registry import load_variables
from pipelines.config.stations_file import StationsFileSpec, read_stations_file
from pipelines.config.yaml_io import load_yaml, validate_model
from pipelines.errors import ConfigError

__all__ = [
    "ColumnSpec",
    "EnterpriseSpec",
    "ForecastWeatherSpec",
    "NetworkSpec",
    "SourceSpec",
    "StationSpec",
    "SyntheticFeedSpec",
    "WeatherFeedSpec",
    "list_networks",
    "load_network",
    "resolve_files",
]


class ColumnSpec(BaseModel):
    """How one source column maps onto a canonical variable."""

    model_config = ConfigDict(extra="forbid")
    variable: str
    units: str
    value_map: str | dict[str, float] | None = None
    flag_column: str | None = None


class SourceSpec(BaseModel):
    """One input source of a network; adapter-specific options are validated by the adapter."""

    model_config = ConfigDict(extra="allow")
    adapter: str
    files: list[str] = Field(default_factory=list)
    encoding: str = "utf-8"
    missing_values: list[str] = Field(default_factory=lambda: ["", "NA", "NaN", "nan", "-", "—"])
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)

    def option(self, name: str, default: Any = None) -> Any:
        """Adapter-specific option (an extra key of the source block)."""
        return (self.model_extra or {}).get(name, default)


class WeatherFeedSpec(BaseModel):
    """One weather-forecast (NWP) feed of a network (read by :mod:`pipelines.nwp`).

    ``files`` are globs relative to the network YAML (as for sources); ``latency_hours`` is how
    long after its issue time a run is available [h]; ``columns`` gives the units of each
    variable column of a point table (``format: points``); ``step_hours`` [h], when given, is the
    spacing every run's steps must have without gaps; ``max_distance_km`` [km] bounds the
    nearest-point match of a point table with ``lat``/``lon`` columns.
    """

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    format: Literal["grib2", "netcdf", "points"]
    files: list[str] = Field(default_factory=list)
    latency_hours: float = Field(0.0, ge=0)
    step_hours: float | None = Field(None, gt=0)
    columns: dict[str, str] = Field(default_factory=dict)
    max_distance_km: float = Field(50.0, gt=0)
    synthetic: SyntheticFeedSpec | None = None

    @field_validator("files", mode="before")
    @classmethod
    def _as_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _files_or_synthetic(self) -> WeatherFeedSpec:
        if self.synthetic is None and not self.files:
            raise ValueError("give 'files' (the feed's files) or 'synthetic' (a benchmark feed)")
        if self.synthetic is not None and self.files:
            raise ValueError("a synthetic feed is generated into the data cache: drop 'files'")
        if self.synthetic is not None and self.format == "points":
            raise ValueError("a synthetic feed is written as grib2 or netcdf, not points")
        return self


class SyntheticFeedSpec(BaseModel):
    """A synthetic NWP feed (track b of the benchmark): made from the observed station weather.

    Generated on first use into ``<store>/<network>/nwp-cache/<feed>/`` by
    :mod:`pipelines.nwp.synthetic` (observed weather plus published-size errors), then read
    through the same adapters as a real feed. Every forecast, bulletin and CAP message made
    with it says so.
    """

    model_config = ConfigDict(extra="forbid")
    seed: int = 20161216
    run_hours: list[int] = Field(default_factory=lambda: [0, 12])
    max_step_h: int = Field(120, ge=24, le=384)  # >= latency + run spacing + forecast leads
    resolution_deg: float = Field(0.25, gt=0)
    margin_deg: float = Field(0.5, ge=0)


class ForecastWeatherSpec(BaseModel):
    """Which weather-forecast feed the network's learned forecasters use, and what if it is late.

    ``fallback``: ``refuse`` (no forecast without the feed: the forecast job fails naming the
    feed and issue time) or ``no_weather`` (the companion models trained without forecast weather,
    registered as ``<network>-<target>-no-weather``, forecast instead; the forecast file, the
    warnings and the log say so).
    """

    model_config = ConfigDict(extra="forbid")
    feed: str
    fallback: Literal["refuse", "no_weather"] = "refuse"


class StationSpec(BaseModel):
    """A monitoring station; in a ``kind: source`` network, one monitored stack or outfall.

    The source fields (``mn`` … ``reach_fraction``) are for pollution-source networks only:
    the HJ 212 data logger's MN and credentials, the enterprise, the medium, the stack height and
    the discharge standard (``configs/standards/``, ``kind: discharge``) with its class and any
    permit limits that replace the standard's (``limits``: variable -> limit in registry units).
    """

    model_config = ConfigDict(extra="allow")
    id: str
    name: str | None = None
    code: str | None = None
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    altitude: float | None = None
    station_class: str | None = None  # e.g. national, provincial, township: QC ranges may differ
    mn: str | None = Field(None, min_length=1, max_length=64)
    enterprise: str | None = None
    medium: Literal["air", "water"] | None = None
    stack_height_m: float | None = Field(None, ge=0, le=500)
    standard: str | None = None
    standard_class: str | None = None
    limits: dict[str, float] = Field(default_factory=dict)
    password: str | None = Field(None, min_length=1, max_length=64)
    password_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    accept_crc: list[Literal["hj212", "modbus", "modbus_le"]] = Field(
        default_factory=lambda: ["hj212"]
    )
    river: str | None = None
    reach: str | None = None
    reach_fraction: float = Field(0.5, ge=0, le=1)

    def monitor_password(self) -> str | None:
        """Return the logger's password: env. variable ``password_env`` when set, else ``password``."""
        import os

        if self.password_env and os.environ.get(self.password_env):
            return os.environ[self.password_env]
        return self.password

    @field_validator("id", "code", mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) else v


class EnterpriseSpec(BaseModel):
    """An emitting enterprise of a ``kind: source`` network (its stacks and outfalls are stations)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    name: str
    name_en: str = ""
    industry: str = ""
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    synthetic: bool = False


class DuplicatePolicy(BaseModel):
    """How rows of the same station and time (re-sends, revised snapshots) are merged.

    The *later* row wins: later in the file, and files in the order of ``file_order`` (``name``:
    their names sorted, right when the names carry the snapshot time; ``modified``: their
    modification times). ``blank_in_later``: a value the later row leaves blank keeps the earlier
    row's value (``keep_earlier``) or is cleared (``blank``: the revision withdrew it).
    """

    model_config = ConfigDict(extra="forbid")
    file_order: Literal["name", "modified"] = "name"
    blank_in_later: Literal["keep_earlier", "blank"] = "keep_earlier"


class NetworkSpec(BaseModel):
    """A station network as described by ``configs/networks/<name>.yml``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    title: str = ""
    kind: Literal["air", "water", "source"]
    time_zone: str
    time_label: Literal["interval_end", "interval_start", "instant"]
    frequency: str
    area: str = ""
    waterbody: Literal["river", "lake"] = "river"
    future_tolerance: str = "2h"
    # rows before this local date are refused (a logger clock reset to 1970, a mistyped year):
    # otherwise one such row opens a store partition decades back and moves first_time there
    earliest_time: dt.date = dt.date(1980, 1, 1)
    snap_tolerance: str = "0min"
    duplicates: DuplicatePolicy = Field(default_factory=DuplicatePolicy)
    stations_file: StationsFileSpec | None = None
    sources: list[SourceSpec]
    stations: list[StationSpec] = Field(min_length=1)
    qc: dict[str, Any] = Field(default_factory=dict)
    weather_forecasts: list[WeatherFeedSpec] = Field(default_factory=list)
    forecast_weather: ForecastWeatherSpec | None = None
    enterprises: list[EnterpriseSpec] = Field(default_factory=list)
    # the network's own backtest window (local days); wins over configs/forecast.yml backtest.<name>
    backtest: BacktestWindow | None = None
    synthetic: bool = False
    path: str = ""

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: long name
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("frequency", "future_tolerance", "snap_tolerance")
    @classmethod
    def _duration(cls, v: str) -> str:
        try:
            td = pd.Timedelta(v)
        except ValueError as exc:
            raise ValueError(f"not a duration: {v!r} (use e.g. 1h, 15min, 4h)") from exc
        if td < pd.Timedelta(0):
            raise ValueError("must not be negative")
        return v

    @field_validator("frequency")
    @classmethod
    def _positive(cls, v: str) -> str:
        if pd.Timedelta(v) <= pd.Timedelta(0):
            raise ValueError("must be positive")
        return v

    @model_validator(mode="after")
    def _unique_stations(self) -> NetworkSpec:
        seen: set[str] = set()
        for st in self.stations:
            if st.id in seen:
                raise ValueError(f"station id {st.id!r} appears twice")
            seen.add(st.id)
        feeds: set[str] = set()
        for feed in self.weather_forecasts:
            if feed.name in feeds:
                raise ValueError(f"weather_forecasts: feed name {feed.name!r} appears twice")
            feeds.add(feed.name)
        if self.kind != "source" and self.enterprises:
            raise ValueError("enterprises: only a kind: source network lists enterprises")
        if self.forecast_weather is not None and self.forecast_weather.feed not in feeds:
            raise ValueError(
                f"forecast_weather.feed: {self.forecast_weather.feed!r} is not a feed of "
                f"weather_forecasts (have: {sorted(feeds)})"
            )
        return self

    def enterprise(self, eid: str) -> EnterpriseSpec:
        """Return the enterprise of that id."""
        return next(e for e in self.enterprises if e.id == eid)

    def weather_feed(self) -> WeatherFeedSpec | None:
        """Return the feed the forecasters use (``forecast_weather.feed``), or None."""
        if self.forecast_weather is None:
            return None
        return next(f for f in self.weather_forecasts if f.name == self.forecast_weather.feed)

    @property
    def freq(self) -> pd.Timedelta:
        """Sampling interval."""
        return pd.Timedelta(self.frequency)

    def station_ids(self) -> list[str]:
        """Station ids in configuration order."""
        return [s.id for s in self.stations]

    def station_lookup(self) -> dict[str, str]:
        """Map id, code and name of every station to its id (for source station columns)."""
        out: dict[str, str] = {}
        for s in self.stations:
            for key in (s.id, s.code, s.name):
                if key:
                    out[str(key)] = s.id
        return out


def _resolve_network_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yml", ".yaml") or p.exists():
        return p.resolve()
    return config_dir() / "networks" / f"{name_or_path}.yml"


def list_networks() -> list[str]:
    """Names of the station networks in ``configs/networks``.

    ``kind: soil`` files (sampling campaigns, no stations) are left out: every caller of this
    list reads stations, time zones and the station store; they are listed by
    :func:`pipelines.config.soil.soil_network_names`.
    """
    out = []
    for p in sorted((config_dir() / "networks").glob("*.yml")):
        try:
            data = load_yaml(p)
        except ConfigError:
            data = None  # a broken file is still a network name: loading it reports the error
        if not (isinstance(data, dict) and data.get("kind") == "soil"):
            out.append(p.stem)
    return out


def _check_option_names(
    src: SourceSpec, node: Any, path: Path, index: int, known: frozenset[str] | None
) -> None:
    """Refuse a source key its adapter does not read (a misspelt option would be ignored)."""
    if known is None:  # an adapter registered without its list of options
        return
    for key in src.model_extra or {}:
        if key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            str(path),
            getattr(node, "lines", {}).get(key, getattr(node, "line", None)),
            f"sources.{index}.{key}",
            f"not an option of the {src.adapter} adapter{hint} (it reads: "
            f"files, encoding, missing_values, columns, {', '.join(sorted(known))})",
        )


def load_network(name_or_path: str) -> NetworkSpec:
    """Load and validate a network by name (``configs/networks/NAME.yml``) or by path.

    A ``kind: soil`` file is a :class:`~pipelines.config.soil.SoilNetworkSpec` (sampling
    campaigns: no stations, time zone or frequency).

    Raises
    ------
    ConfigError
        Naming file, line and field of the first problem: unknown variable, unit that cannot be
        converted to the registry's, unknown adapter, bad time zone, duplicate station ...
    """
    path = _resolve_network_path(name_or_path)
    if not path.is_file():
        known = ", ".join(list_networks())
        raise ConfigError(str(path), None, "", f"no such network (known: {known})")
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(str(path), 1, "", "a network file must be a mapping")
    if data.get("kind") == "soil":  # sampling campaigns, a schema of their own (issue #18)
        from pipelines.config.soil import load_soil_network

        return load_soil_network(path, data)  # type: ignore[return-value]
    if isinstance(data.get("stations_file"), dict):  # stations listed in a CSV/XLSX file
        spec = validate_model(StationsFileSpec, data["stations_file"], path)
        listed = read_stations_file(spec, path, data["stations_file"], StationSpec)
        data["stations"] = list(data.get("stations") or []) + listed
    net = validate_model(NetworkSpec, data, path)
    net.path = str(path)
    registry = load_variables()["variables"]
    from pipelines.sources import ADAPTERS

    for i, src in enumerate(net.sources):
        src_node = data["sources"][i]
        if src.adapter not in ADAPTERS:
            raise ConfigError(
                str(path),
                src_node.lines.get("adapter"),
                f"sources.{i}.adapter",
                f"unknown adapter {src.adapter!r}; known: {sorted(ADAPTERS)}",
            )
        for col, spec in src.columns.items():
            line = src_node["columns"].lines.get(col) if "columns" in src_node else None
            field = f"sources.{i}.columns.{col}"
            if spec.variable not in registry:
                raise ConfigError(
                    str(path),
                    line,
                    field + ".variable",
                    f"unknown variable {spec.variable!r} (see configs/variables.yml)",
                )
            meta = registry[spec.variable]
            try:
                convert(
                    np.array([1.0]), spec.units, meta["units"], molar_mass=meta.get("molar_mass")
                )
            except UnitError as exc:
                raise ConfigError(str(path), line, field + ".units", str(exc)) from exc
        _check_option_names(src, src_node, path, i, getattr(ADAPTERS[src.adapter], "OPTIONS", None))
        ADAPTERS[src.adapter].validate_options(src, path, src_node)
    if net.kind == "source":
        _check_source_stations(net, data, path, registry)
    for i, feed in enumerate(net.weather_forecasts):
        node = data["weather_forecasts"][i]
        for col, units in feed.columns.items():
            line = node["columns"].lines.get(col) if "columns" in node else None
            field = f"weather_forecasts.{i}.columns.{col}"
            if col not in registry:
                raise ConfigError(
                    str(path), line, field, f"unknown variable {col!r} (see configs/variables.yml)"
                )
            try:
                convert(np.array([1.0]), units, registry[col]["units"])
            except UnitError as exc:
                raise ConfigError(str(path), line, field, str(exc)) from exc
    return net


def _check_source_stations(
    net: NetworkSpec, data: Any, path: Path, registry: dict[str, Any]
) -> None:
    """Check a source network's stations: MN, password, enterprise, standard, class, limits."""
    from pipelines.config.registry import discharge_standards

    standards = discharge_standards()
    ents = [e.id for e in net.enterprises]
    if len(set(ents)) != len(ents):
        dup = next(e for e in ents if ents.count(e) > 1)
        raise ConfigError(str(path), None, "enterprises", f"enterprise id {dup!r} appears twice")
    mns: dict[str, str] = {}
    for i, st in enumerate(net.stations):
        node = data["stations"][i]
        lines = getattr(node, "lines", {})
        where = f"stations.{i}"
        at = getattr(node, "line", None)
        for name in ("mn", "enterprise", "medium", "standard", "standard_class"):
            if getattr(st, name) is None:
                raise ConfigError(
                    str(path), at, f"{where}.{name}", f"a source station ({st.id}) needs it"
                )
        if st.enterprise not in ents:
            raise ConfigError(
                str(path),
                lines.get("enterprise", at),
                f"{where}.enterprise",
                f"{st.enterprise!r} is not in enterprises ({ents})",
            )
        if st.mn in mns:
            raise ConfigError(
                str(path), lines.get("mn", at), f"{where}.mn", f"MN {st.mn} is also {mns[st.mn]}'s"
            )
        mns[st.mn] = st.id
        if st.password is None and st.password_env is None:
            raise ConfigError(
                str(path), at, f"{where}.password", "give the logger's password or password_env"
            )
        std = standards.get(st.standard or "")
        if std is None:
            raise ConfigError(
                str(path),
                lines.get("standard"),
                f"{where}.standard",
                f"no discharge standard {st.standard!r}; known: {sorted(standards)}",
            )
        if std.medium != st.medium:
            raise ConfigError(
                str(path),
                lines.get("standard"),
                f"{where}.standard",
                f"{std.name} is a {std.medium} standard; {st.id} is a {st.medium} station",
            )
        if st.standard_class not in std.classes:
            raise ConfigError(
                str(path),
                lines.get("standard_class"),
                f"{where}.standard_class",
                f"{std.name} has no class {st.standard_class!r}; known: {sorted(std.classes)}",
            )
        for var, value in st.limits.items():
            if var not in registry or value < 0:
                raise ConfigError(
                    str(path),
                    lines.get("limits"),
                    f"{where}.limits.{var}",
                    "unknown variable (see configs/variables.yml)"
                    if var not in registry
                    else "a limit cannot be negative",
                )


def check_input_files(net: NetworkSpec) -> int:
    """Refuse a source file pattern that matches no file (a typo would only fail at ingest).

    Patterns under ``{store}`` (files the system writes itself, e.g. the HJ 212 receiver's log)
    are not checked. Returns the number of files matched.

    Raises
    ------
    ConfigError
        Naming the network file, the line of the source's ``files`` and the pattern.
    """
    data = load_yaml(Path(net.path)) if net.path else {}
    matched = 0
    for i, src in enumerate(net.sources):
        for pattern in src.files:
            if "{store}" in pattern:
                continue
            hits = resolve_files([pattern], net.path or ".")
            if not hits:
                node = (data.get("sources") or [{}])[i] if isinstance(data, dict) else {}
                raise ConfigError(
                    str(net.path),
                    getattr(node, "lines", {}).get("files", getattr(node, "line", None)),
                    f"sources.{i}.files",
                    f"{pattern!r} matches no file (relative patterns are looked up beside the "
                    "network file, in the current folder and in the project folder)",
                )
            matched += len(hits)
    return matched


def resolve_files(patterns: list[str], network_path: str) -> list[Path]:
    """Expand file patterns (globs with ``{a,b}`` alternatives) to existing files.

    Relative patterns are tried against the network file's directory, the current directory and
    the project root, in that order; the first that matches wins.
    """
    import glob as _glob

    def braces(pat: str) -> list[str]:
        m = re.search(r"\{([^{}]*)\}", pat)
        if not m:
            return [pat]
        return [
            x
            for alt in m.group(1).split(",")
            for x in braces(pat[: m.start()] + alt + pat[m.end() :])
        ]

    bases = [Path(network_path).parent, Path.cwd(), project_root()]
    found: list[Path] = []
    for pattern in patterns:
        hits: list[Path] = []
        for pat in braces(pattern):
            if Path(pat).is_absolute():
                hits += [Path(h) for h in sorted(_glob.glob(pat))]
                continue
            for base in bases:
                matched = sorted(_glob.glob(str(base / pat)))
                if matched:
                    hits += [Path(h) for h in matched]
                    break
        found += hits
    return list(dict.fromkeys(p.resolve() for p in found))
