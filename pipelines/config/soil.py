"""Soil configuration (issue #18): soil standards and ``kind: soil`` networks.

A soil network (``configs/networks/<name>.yml`` with ``kind: soil``) is a set of sampling
campaigns, not a station network: it has no time zone, frequency or stations, so it has a schema
of its own (:class:`SoilNetworkSpec`); :func:`pipelines.config.networks.load_network` hands such a
file to :func:`load_soil_network`. Soil standards (``configs/standards/*.yml`` with
``kind: soil``) are validated by :class:`SoilStandardSpec` through
:func:`pipelines.config.registry.load_standard_file`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipelines.errors import ConfigError

__all__ = [
    "AGRICULTURAL_SUBTYPES",
    "CONSTRUCTION_SUBTYPES",
    "SoilNetworkSpec",
    "SoilSourceSpec",
    "SoilStandardSpec",
    "load_soil_network",
    "soil_network_names",
    "soil_standard",
]

AGRICULTURAL_SUBTYPES = ("paddy", "orchard", "other")
CONSTRUCTION_SUBTYPES = ("type1", "type2")

Number = float | int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SoilStandardSpec(_Strict):
    """A soil screening / intervention standard (GB 15618-2018, GB 36600-2018)."""

    name: str
    kind: Literal["soil"]
    title: str = ""
    land: Literal["agricultural", "construction"]
    source: str = Field(min_length=1)
    units: Literal["mg kg-1"]
    ph_bounds: list[Number] | None = None
    subtypes: list[str] = Field(min_length=1)
    screening: dict[str, dict[str, Number | list[Number]]] = Field(min_length=1)
    intervention: dict[str, dict[str, Number | list[Number]]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _tables(self) -> SoilStandardSpec:
        bands = len(self.ph_bounds) + 1 if self.ph_bounds else None
        if self.ph_bounds and sorted(self.ph_bounds) != list(self.ph_bounds):
            raise ValueError("ph_bounds must increase")
        for table in ("screening", "intervention"):
            for analyte, entry in getattr(self, table).items():
                for sub, values in entry.items():
                    if sub not in self.subtypes:
                        raise ValueError(
                            f"{table}.{analyte}.{sub}: not a subtype of {self.subtypes}"
                        )
                    n = len(values) if isinstance(values, list) else None
                    if n != bands:
                        want = f"{bands} values (one per pH band)" if bands else "one value"
                        raise ValueError(f"{table}.{analyte}.{sub}: give {want}")
                if "other" not in entry and set(entry) != set(self.subtypes):
                    raise ValueError(f"{table}.{analyte}: give every subtype or an 'other' entry")
        for analyte in self.intervention:
            if analyte not in self.screening:
                raise ValueError(f"intervention.{analyte}: no screening value")
        return self


class SoilSourceSpec(_Strict):
    """One input of a soil network.

    ``soil_csv``: long-format CSV files (one row per sample and analyte; columns ``sample_id``,
    ``plot``, ``x``, ``y``, ``depth_top_cm``, ``depth_bottom_cm``, ``land_use``,
    ``land_subtype``, ``ph``, ``date``, ``campaign``, ``analyte``, ``value``, ``unit``,
    ``method``, ``dl``). ``skgstat_meuse``: the Meuse topsoil survey read from the installed
    scikit-gstat package (``skgstat/data/samples/meuse.txt``), with the fixed choices below.
    """

    adapter: Literal["soil_csv", "skgstat_meuse"]
    files: list[str] = Field(default_factory=list)
    encoding: str = "utf-8"
    # skgstat_meuse: pH assigned from the lime class (no pH column), land use, depth, campaign
    ph_from_lime: dict[str, float] = Field(default_factory=dict)
    land_use: Literal["agricultural", "construction"] = "agricultural"
    land_subtype: str = "other"
    # skgstat_meuse: the survey's ``landuse`` code -> land subtype (others: ``land_subtype``)
    subtype_from_landuse: dict[str, str] = Field(default_factory=dict)
    depth_top_cm: float = Field(0.0, ge=0)
    depth_bottom_cm: float = Field(20.0, gt=0)
    campaign: str | None = None
    method: str = "not stated in the data set"

    @field_validator("files", mode="before")
    @classmethod
    def _as_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _adapter_needs(self) -> SoilSourceSpec:
        if self.adapter == "soil_csv" and not self.files:
            raise ValueError("a soil_csv source needs files")
        if self.adapter == "skgstat_meuse" and not self.ph_from_lime:
            raise ValueError("skgstat_meuse: give ph_from_lime ({'0': pH, '1': pH}): no pH column")
        allowed = (
            AGRICULTURAL_SUBTYPES if self.land_use == "agricultural" else CONSTRUCTION_SUBTYPES
        )
        wrong = sorted(set(self.subtype_from_landuse.values()) - set(allowed))
        if wrong:
            raise ValueError(
                f"subtype_from_landuse: {wrong} not {self.land_use} subtypes {list(allowed)}"
            )
        return self


class SoilNetworkSpec(_Strict):
    """A soil sampling network (``kind: soil``): campaigns of samples at points in one CRS.

    ``crs``: the coordinates' CRS (any pyproj string, e.g. ``EPSG:28992``, ``EPSG:4326``);
    ``analytes``: the laboratory's analyte names -> registry variables (``Cd: soil_cd``);
    ``standards``: the standard per land use; ``assumptions``: printed on every output.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    title: str = ""
    kind: Literal["soil"]
    area: str = ""
    crs: str
    campaign: str = "campaign-1"
    analytes: dict[str, str] = Field(default_factory=dict)
    standards: dict[Literal["agricultural", "construction"], str] = Field(
        default_factory=lambda: {"agricultural": "gb15618-2018", "construction": "gb36600-2018"}
    )
    sources: list[SoilSourceSpec] = Field(min_length=1)
    assumptions: list[str] = Field(default_factory=list)
    map_resolution_m: float = Field(50.0, gt=0)
    map_neighbours: int | None = Field(None, ge=4)
    synthetic: bool = False
    path: str = ""

    @field_validator("crs")
    @classmethod
    def _crs(cls, v: str) -> str:
        import pyproj

        try:
            pyproj.CRS.from_user_input(v)
        except pyproj.exceptions.CRSError as exc:
            raise ValueError(f"unknown CRS {v!r}: {exc}") from exc
        return v

    # what the station-network commands read of every network (qingyuan networks, validate ...)
    @property
    def stations(self) -> list[Any]:
        """A soil network has no stations (its points are samples, in the soil store)."""
        return []

    @property
    def frequency(self) -> str:
        """Sampling campaigns, not a regular frequency."""
        return "campaign"

    @property
    def freq(self) -> pd.Timedelta:
        """No regular interval: NaT."""
        return pd.NaT


def load_soil_network(path: Path, data: Any) -> SoilNetworkSpec:
    """Validate a parsed ``kind: soil`` network file; check analytes against the registry.

    Raises
    ------
    ConfigError
        Naming file, line and field: unknown analyte variable, unknown standard, bad CRS ...
    """
    from pipelines.config.registry import load_variables, standard_files
    from pipelines.config.yaml_io import validate_model

    net = validate_model(SoilNetworkSpec, data, path)
    net.path = str(path)
    registry = load_variables()["variables"]
    lines = getattr(data.get("analytes"), "lines", {})
    for lab, var in net.analytes.items():
        if var not in registry or registry[var].get("kind") != "soil":
            raise ConfigError(
                str(path),
                lines.get(lab),
                f"analytes.{lab}",
                f"unknown soil variable {var!r} (see configs/variables.yml, kind: soil)",
            )
    known = standard_files()
    for land, name in net.standards.items():
        if name not in known:
            raise ConfigError(
                str(path),
                getattr(data.get("standards"), "lines", {}).get(land),
                f"standards.{land}",
                f"no standard {name!r}; known: {sorted(known)}",
            )
    return net


def soil_network_names() -> list[str]:
    """Names of the ``kind: soil`` networks of ``configs/networks``."""
    from pipelines.config.locations import config_dir
    from pipelines.config.yaml_io import load_yaml

    out = []
    for p in sorted((config_dir() / "networks").glob("*.yml")):
        data = load_yaml(p)
        if isinstance(data, dict) and data.get("kind") == "soil":
            out.append(p.stem)
    return out


def soil_standard(name: str) -> Any:
    """Return a soil standard (:class:`features.soil.standards.SoilStandard`) by name."""
    from features.soil.standards import SoilStandard
    from pipelines.config.registry import _load_standard

    cfg = _load_standard(name)
    if cfg.get("kind") != "soil":
        raise ConfigError(str(name), None, "kind", f"{name!r} is not a soil standard")
    return SoilStandard.from_config(cfg)
