"""``configs/scenarios/<city>.yml``: emission-inventory classes mapped to PMF factors.

One file per city (``qingyuan scenario --network NAME``): the warning file and area whose scheme
decides the level, the PMF solution whose factors stand for the classes, how the class share is
read from it (:func:`features.scenario.class_share`) and its uncertainty (bootstrap / DISP).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipelines.config.locations import config_dir
from pipelines.config.yaml_io import load_validated
from pipelines.errors import ConfigError

__all__ = ["ScenarioSpec", "list_scenario_configs", "load_scenario_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Pmf(_Strict):
    solution: str  # a `qingyuan trace pmf` output folder, relative to the project root
    total: str  # the solution's total variable (a species)


class _Share(_Strict):
    # hour_of_day: ratio of sums per local hour; recent: one ratio; by_wind: ratio of sums over
    # the samples whose (observed) wind came from the sector of the hour's forecast wind
    method: Literal["hour_of_day", "recent", "by_wind"] = "hour_of_day"
    sectors: int = Field(8, ge=4, le=36)  # by_wind: direction sectors
    window_days: float | None = Field(None, gt=0)  # samples of the last ... days [d]
    interval: Literal["bootstrap", "disp", "both", "none"] = "both"
    dq_max: float = Field(4, gt=0)  # DISP interval at this dQmax
    # record: each Monte-Carlo draw also takes a run of the PMF record's hour-to-hour deviations
    # of the class share from the method's share (one hour's mix departs from the typical one);
    # none: the share of every hour is the method's (bands then cover only the bootstrap / DISP)
    variability: Literal["record", "none"] = "record"


class _Response(_Strict):
    lag_hours: float = Field(0, ge=0)  # [h]
    ramp_hours: float = Field(0, ge=0)  # [h]


class _Class(_Strict):
    names: dict[str, str] = Field(default_factory=dict)
    # factor numbers (1..p), column names (factor_3) or marker:<species> (the factor with the
    # largest share of that species in the solution's profiles)
    factors: list[int | str] = Field(min_length=1)

    @field_validator("factors")
    @classmethod
    def _as_names(cls, v: list[int | str]) -> list[int | str]:
        for f in v:
            if isinstance(f, int) and f < 1:
                raise ValueError(f"factor numbers start at 1 (got {f})")
        if len({str(f) for f in v}) != len(v):
            raise ValueError("a factor is listed twice")
        return v

    def columns(self) -> list[str]:
        """Return the factors as contribution-table columns (``3`` -> ``factor_3``).

        ``marker:<species>`` entries stay as they are: the pipeline resolves them to the factor
        holding the largest share of that species (:func:`pipelines.scenario.resolve_factors`).
        """
        return [f"factor_{f}" if isinstance(f, int) else str(f) for f in self.factors]


class _BundledPmf(_Strict):
    """``bundled_pmf``: how ``qingyuan run`` fits ``pmf.solution`` from the station store."""

    variables: list[str] = Field(min_length=3)  # species: hourly area means of these variables
    start: dt.date
    end: dt.date  # last day (inclusive); keep it before the scenario's forecast (no look-ahead)
    factors: int = Field(3, ge=2)
    starts: int = Field(20, ge=1)
    bootstrap: int = Field(20, ge=0)
    error_fraction: float = Field(0.1, gt=0, lt=1)  # equation-based uncertainty [fraction]
    mdl: dict[str, float] = Field(default_factory=dict)  # detection limits [variable's units]


class _RunScenario(_Strict):
    """``run``: the scenario ``qingyuan run`` shows on the bundled data."""

    class_: str = Field(alias="class")
    cut: float = Field(ge=0, le=100)  # [%]
    start: str = Field(alias="from")  # local time of the network
    issue_local: str  # local issue time of the (drill) forecast it uses


class ScenarioSpec(_Strict):
    """``configs/scenarios/<city>.yml``."""

    name: str
    network: str
    warnings: str  # a city warning file (configs/warnings/)
    area: str  # an area of that file
    variable: str = "pm25"
    pmf: _Pmf
    share: _Share = Field(default_factory=_Share)
    response: _Response = Field(default_factory=_Response)
    draws: int = Field(2000, ge=100, le=100000)
    classes: dict[str, _Class] = Field(min_length=1)
    bundled_pmf: _BundledPmf | None = None
    run: _RunScenario | None = None

    @field_validator("classes")
    @classmethod
    def _disjoint(cls, v: dict[str, _Class]) -> dict[str, _Class]:
        seen: dict[str, str] = {}
        for name, c in v.items():
            for col in c.columns():
                if col in seen:
                    raise ValueError(f"{col} is in both {seen[col]!r} and {name!r}")
                seen[col] = name
        return v


def _files() -> dict[str, Path]:
    return {p.stem: p for p in sorted((config_dir() / "scenarios").glob("*.yml"))}


def list_scenario_configs() -> list[str]:
    """Names of the scenario files (``configs/scenarios/*.yml``)."""
    return sorted(_files())


def load_scenario_config(name: str) -> tuple[ScenarioSpec, Path]:
    """Load and validate a city's scenario file; return it and its path.

    Parameters
    ----------
    name : str
        A file in ``configs/scenarios/`` (without ``.yml``) or a path to one.

    Raises
    ------
    ConfigError
        If the file is missing or does not match the schema (file, line, field).
    """
    path = Path(name) if Path(name).suffix in (".yml", ".yaml") else _files().get(name)
    if path is None or not path.is_file():
        known = ", ".join(list_scenario_configs()) or "none"
        raise ConfigError(
            str(config_dir() / "scenarios" / f"{name}.yml"),
            None,
            "name",
            f"no scenario file for {name!r} (known: {known})",
        )
    spec, _ = load_validated(ScenarioSpec, path)
    return spec, path
