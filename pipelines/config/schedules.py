"""``configs/schedules.yml``: the scheduled runs that ``qingyuan serve`` registers."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipelines.config.locations import config_dir
from pipelines.config.yaml_io import load_validated

__all__ = ["EngineSpec", "SchedulesSpec", "schedules_config"]


def _zone(v: str | None) -> str | None:
    if v is not None:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: long name
            raise ValueError(f"unknown time zone {v!r}") from exc
    return v


class _Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    flow: str  # a flow of pipelines.flows.deployments.FLOWS
    cron: str  # five fields, in the time zone
    parameters: dict[str, Any] = Field(default_factory=dict)  # passed to the flow unchanged
    time_zone: str | None = None  # default: the file's
    description: str | None = None

    _tz = field_validator("time_zone")(_zone)

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, v: str) -> str:
        if len(v.split()) != 5:
            raise ValueError(f"a cron expression has five fields: {v!r}")
        return v


class EngineSpec(BaseModel):
    """``engine:`` of ``configs/schedules.yml``: where the heavy steps run (:mod:`pipelines.engine`).

    Attributes
    ----------
    min_stations : int
        Networks with fewer stations run in one process (the bundled ones); larger ones on Dask.
    scheduler : str, optional
        ``tcp://host:8786`` of an existing Dask cluster; default a ``LocalCluster`` on this
        machine. ``$QINGYUAN_DASK_SCHEDULER`` and ``--cluster`` win over it.
    n_workers : int, optional
        Worker processes of the ``LocalCluster`` (default: the machine's cores).
    group_size : int
        Stations per QC partition (each partition also reads its halo of neighbours).
    memory_limit : str
        Memory limit of each ``LocalCluster`` worker (dask syntax, e.g. ``"4GiB"``).
    """

    model_config = ConfigDict(extra="forbid")
    min_stations: int = Field(default=300, ge=1)
    scheduler: str | None = Field(default=None, pattern=r"^(tcp|tls|inproc|ws|wss)://.+")
    n_workers: int | None = Field(default=None, ge=1)
    group_size: int = Field(default=100, ge=1)
    memory_limit: str = "4GiB"


class SchedulesSpec(BaseModel):
    """``configs/schedules.yml``."""

    model_config = ConfigDict(extra="forbid")
    time_zone: str = "UTC"
    engine: EngineSpec = Field(default_factory=EngineSpec)
    deployments: list[_Deployment] = Field(default_factory=list)

    _tz = field_validator("time_zone")(_zone)

    @model_validator(mode="after")
    def _unique(self) -> SchedulesSpec:
        names = [d.name for d in self.deployments]
        for n in names:
            if names.count(n) > 1:
                raise ValueError(f"deployment {n!r} appears twice")
        return self


def schedules_config(path: str | Path | None = None) -> dict[str, Any]:
    """Load a schedules file (default ``configs/schedules.yml``), validated, with defaults filled.

    Raises
    ------
    ConfigError
        Naming file, line and field of the first problem.
    """
    spec, _ = load_validated(SchedulesSpec, Path(path) if path else config_dir() / "schedules.yml")
    return spec.model_dump(exclude_none=True)
