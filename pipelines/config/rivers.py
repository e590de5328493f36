"""River networks from ``configs/rivers/<name>.yml`` (validated; errors name file, line, field).

A river file lists sections (usually the stations of a water network) with their river, the
``downstream`` section, the distance to it, and the travel time (``travel_time_h``, or
``velocity_m_s`` with the distance; else the file's ``default_velocity_m_s``). Distances may be
omitted when both sections have coordinates: the straight line times ``sinuosity``. Unknown
links, cycles and sections missing from the linked station network are refused.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from features.geo import local_xy_km
from features.river_network import RiverNetwork, Section
from pipelines.config.locations import config_dir
from pipelines.config.networks import load_network
from pipelines.config.yaml_io import load_yaml, validate_model
from pipelines.errors import ConfigError

__all__ = ["list_rivers", "load_river_network", "section_targets"]


class _SectionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .nan, .inf: not a length
    id: str
    name: str = ""
    river: str = ""
    downstream: str | None = None
    distance_km: float | None = Field(None, gt=0)
    velocity_m_s: float | None = Field(None, gt=0)
    travel_time_h: float | None = Field(None, gt=0)
    flow_m3_s: float | None = Field(None, gt=0)
    target_class: str | None = Field(None, pattern=r"^(I|II|III|IV|V)$")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)


class _RiverSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str
    title: str = ""
    network: str | None = None
    default_velocity_m_s: float = Field(0.3, gt=0)
    sinuosity: float = Field(1.3, ge=1)
    sections: list[_SectionSpec] = Field(min_length=1)


def list_rivers() -> list[str]:
    """Names of the river files."""
    return sorted(p.stem for p in (config_dir() / "rivers").glob("*.yml"))


def load_river_network(name_or_path: str) -> RiverNetwork:
    """Load and check a river network (by name or path)."""
    path = Path(name_or_path)
    if path.suffix not in (".yml", ".yaml"):
        path = config_dir() / "rivers" / f"{name_or_path}.yml"
    if not path.is_file():
        raise ConfigError(
            str(path), None, "name", f"no river network {name_or_path!r} (known: {list_rivers()})"
        )
    raw = load_yaml(path)
    spec = validate_model(_RiverSpec, raw, path)
    nodes = raw.get("sections", [])

    def line(i: int, key: str) -> int | None:
        node = nodes[i] if i < len(nodes) else None
        return getattr(node, "lines", {}).get(key) if node is not None else None

    first: dict[str, int] = {}
    for i, s in enumerate(spec.sections):  # sections are keyed by id: a second one would vanish
        if s.id in first:
            raise ConfigError(
                str(path),
                line(i, "id"),
                f"sections.{i}.id",
                f"section {s.id!r} appears twice (also sections.{first[s.id]})",
            )
        first[s.id] = i
    coords = {}
    if spec.network:
        net = load_network(spec.network)
        by_id = {s.id: s for s in net.stations}
        for i, s in enumerate(spec.sections):
            if s.id not in by_id:
                raise ConfigError(
                    str(path),
                    line(i, "id"),
                    f"sections.{i}.id",
                    f"{s.id!r} is not a station of network {net.name}",
                )
            coords[s.id] = (by_id[s.id].lat, by_id[s.id].lon)
    for s in spec.sections:
        if s.lat is not None and s.lon is not None:
            coords[s.id] = (s.lat, s.lon)
    ids = {s.id for s in spec.sections}
    out = []
    for i, s in enumerate(spec.sections):
        if s.downstream is not None and s.downstream not in ids:
            raise ConfigError(
                str(path),
                line(i, "downstream"),
                f"sections.{i}.downstream",
                f"{s.downstream!r} is not a section of this file",
            )
        dist = s.distance_km
        if dist is None and s.downstream is not None:
            if s.id in coords and s.downstream in coords:
                (la1, lo1), (la2, lo2) = coords[s.id], coords[s.downstream]
                x, y = local_xy_km([la1, la2], [lo1, lo2])  # around their midpoint [km]
                dist = spec.sinuosity * math.hypot(x[1] - x[0], y[1] - y[0])
            else:
                raise ConfigError(
                    str(path),
                    line(i, "id"),
                    f"sections.{i}.distance_km",
                    "give distance_km (no coordinates to derive it)",
                )
        dist = dist or 0.0
        tt = s.travel_time_h
        if tt is None:
            tt = dist * 1000 / (s.velocity_m_s or spec.default_velocity_m_s) / 3600
        la, lo = coords.get(s.id, (None, None))
        out.append(
            Section(
                s.id,
                s.river,
                s.name,
                s.downstream,
                dist,
                tt if s.downstream else 0.0,
                s.flow_m3_s,
                s.target_class,
                la,
                lo,
            )
        )
    try:
        return RiverNetwork(spec.name, {s.id: s for s in out})
    except ValueError as exc:
        raise ConfigError(str(path), None, "sections", str(exc)) from exc


def section_targets(network: str) -> dict[str, str]:
    """Target class of every section of the network's river file (``configs/rivers``), if any."""
    if network not in list_rivers():
        return {}
    rn = load_river_network(network)
    return {k: s.target_class for k, s in rn.sections.items() if s.target_class}
