"""Load and validate the YAML configuration: variable registry, QC, standards and networks.

Every validation error names the file, the line and the field (:class:`ConfigError`).
"""

from __future__ import annotations

import copy
import hashlib
import re
import zoneinfo
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from features.aqi import AqiStandard
from features.units import UnitError, convert
from features.water_class import WaterStandard
from pipelines.errors import ConfigError
from qingyuan.paths import config_dir, project_root

__all__ = [
    "ColumnSpec",
    "NetworkSpec",
    "SourceSpec",
    "StationSpec",
    "aqi_standards",
    "list_networks",
    "load_network",
    "load_qc",
    "load_variables",
    "load_yaml",
    "plain",
    "water_standard",
]


# --------------------------------------------------------------------------- YAML with line numbers
class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    lines = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, str | int):
            lines[key] = key_node.start_mark.line + 1
    mapping = _LinedDict(mapping)
    mapping.lines = lines
    mapping.line = node.start_mark.line + 1
    return mapping


class _LinedDict(dict):
    lines: dict
    line: int


class _LinedList(list):
    lines: list[int]
    line: int


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode, deep: bool = False) -> list:
    seq = _LinedList(yaml.SafeLoader.construct_sequence(loader, node, deep=deep))
    seq.lines = [n.start_mark.line + 1 for n in node.value]
    seq.line = node.start_mark.line + 1
    return seq


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


_YAML_CACHE: dict[tuple[str, str], Any] = {}


def load_yaml(path: Path) -> Any:
    """Parse a YAML file, keeping line numbers for error messages.

    Parsed files are cached by path and content hash (a scheduled run or a replay
    reads the same standards thousands of times); callers get a deep copy, so they may mutate it.

    Raises
    ------
    ConfigError
        If the file is missing or is not valid YAML.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), None, "", "file not found")
    raw = path.read_bytes()
    key = (str(path.resolve()), hashlib.blake2b(raw, digest_size=16).hexdigest())
    if key not in _YAML_CACHE:
        try:
            _YAML_CACHE[key] = yaml.load(raw.decode("utf-8"), Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else None
            raise ConfigError(str(path), line, "", f"invalid YAML: {exc.problem}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(str(path), None, "", f"not UTF-8: {exc}") from exc
    return copy.deepcopy(_YAML_CACHE[key])


def _line_of(data: Any, loc: tuple) -> int | None:
    """Best line number for a pydantic error location inside ``data``."""
    node, line = data, getattr(data, "line", None)
    for part in loc:
        if isinstance(node, dict) and part in node:
            line = getattr(node, "lines", {}).get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            lines = getattr(node, "lines", [])
            line = lines[part] if part < len(lines) else line
            node = node[part]
        else:
            break
    return line


def _validate(model: type[BaseModel], data: Any, path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if p != "__root__")
        field = ".".join(str(p) for p in loc) or "(top level)"
        raise ConfigError(str(path), _line_of(data, loc), field, err["msg"]) from exc


# --------------------------------------------------------------------------- schemas
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


class StationSpec(BaseModel):
    """A monitoring station."""

    model_config = ConfigDict(extra="allow")
    id: str
    name: str | None = None
    code: str | None = None
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    altitude: float | None = None

    @field_validator("id", "code", mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) else v


class NetworkSpec(BaseModel):
    """A station network as described by ``configs/networks/<name>.yml``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    title: str = ""
    kind: Literal["air", "water"]
    time_zone: str
    time_label: Literal["interval_end", "interval_start", "instant"]
    frequency: str
    area: str = ""
    waterbody: Literal["river", "lake"] = "river"
    future_tolerance: str = "2h"
    snap_tolerance: str = "0min"
    sources: list[SourceSpec]
    stations: list[StationSpec] = Field(min_length=1)
    qc: dict[str, Any] = Field(default_factory=dict)
    path: str = ""

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
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
        return self

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


# --------------------------------------------------------------------------- loaders
@lru_cache(maxsize=4)
def _variables(cfg_dir: str) -> dict[str, Any]:
    path = Path(cfg_dir) / "variables.yml"
    data = load_yaml(path)
    if not isinstance(data, dict) or "variables" not in data:
        raise ConfigError(str(path), None, "variables", "missing 'variables' mapping")
    for name, meta in data["variables"].items():
        line = data["variables"].lines.get(name)
        for key in ("long_name", "units"):
            if key not in meta:
                raise ConfigError(str(path), line, f"variables.{name}.{key}", "required")
        try:
            convert(np.array([1.0]), meta["units"], meta["units"])
        except UnitError as exc:
            raise ConfigError(str(path), line, f"variables.{name}.units", str(exc)) from exc
    return plain(data)


def plain(obj: Any) -> Any:
    """Copy of parsed YAML as plain dicts and lists (without line bookkeeping)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    return obj


def load_variables() -> dict[str, Any]:
    """Return the variable registry (``configs/variables.yml``) as a plain dict."""
    return _variables(str(config_dir()))


def _deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_qc(network: NetworkSpec | None = None) -> dict[str, Any]:
    """QC configuration (``configs/qc.yml``) merged with the network's ``qc:`` overrides."""
    path = config_dir() / "qc.yml"
    base = plain(load_yaml(path))
    merged = _deep_merge(base, network.qc if network else {})
    from features.qc.checks import CHECKS
    from features.qc.flags import FLAG_CODES

    for name in merged.get("checks", {}):
        if name not in CHECKS and name != "completeness":
            raise ConfigError(
                str(path), None, f"checks.{name}", f"unknown QC check; known: {sorted(CHECKS)}"
            )
    for status in merged.get("valid_statuses", []):
        if status not in FLAG_CODES:
            raise ConfigError(str(path), None, "valid_statuses", f"unknown status {status!r}")
    return merged


def _resolve_network_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yml", ".yaml") or p.exists():
        return p.resolve()
    return config_dir() / "networks" / f"{name_or_path}.yml"


def list_networks() -> list[str]:
    """Names of the networks in ``configs/networks``."""
    return sorted(p.stem for p in (config_dir() / "networks").glob("*.yml"))


def load_network(name_or_path: str) -> NetworkSpec:
    """Load and validate a network by name (``configs/networks/NAME.yml``) or by path.

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
    net = _validate(NetworkSpec, data, path)
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
        ADAPTERS[src.adapter].validate_options(src, path, src_node)
    return net


def _standard_files() -> dict[str, Path]:
    out = {}
    for p in sorted((config_dir() / "standards").glob("*.yml")):
        data = load_yaml(p)
        out[data["name"]] = p
    return out


def _load_standard(name: str) -> dict[str, Any]:
    files = _standard_files()
    if name not in files:
        raise ConfigError(
            str(config_dir() / "standards"),
            None,
            "name",
            f"no standard {name!r}; known: {sorted(files)}",
        )
    data = plain(load_yaml(files[name]))
    if "inherits" in data:
        data = _deep_merge(
            _load_standard(data["inherits"]), {k: v for k, v in data.items() if k != "inherits"}
        )
    return data


def aqi_standards(family: str = "hj633") -> list[AqiStandard]:
    """All editions of an AQI family (``hj633`` or ``us-epa``), oldest first."""
    names = [n for n in _standard_files() if n.startswith(family)]
    if not names:
        raise ConfigError(
            str(config_dir() / "standards"), None, "name", f"no AQI standard family {family!r}"
        )
    stds = [AqiStandard.from_config(_load_standard(n)) for n in names]
    return sorted(stds, key=lambda s: s.effective_from)


def water_standard(name: str = "gb3838-2002") -> WaterStandard:
    """Return the surface-water class standard."""
    return WaterStandard.from_config(_load_standard(name))


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
