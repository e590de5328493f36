"""``configs/source.yml``: source tracing that ``qingyuan run`` does, and the PMF worked example."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pipelines.config.locations import config_dir
from pipelines.config.yaml_io import load_validated

__all__ = ["SourceTracingSpec", "source_config"]

Number = int | float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _TracingRun(_Strict):
    variable: str = "pm25"
    last_days: int = Field(365, gt=0)  # polar plots / CPF and trajectories over these days [d]
    percentile: Number = Field(75, gt=0, lt=100)  # CPF / PSCF threshold [%]
    trajectory_hours: Number = Field(48, gt=0)  # back-trajectory length [h]
    every_hours: int = Field(3, ge=1)  # a trajectory arrives every ... [h]
    cell_deg: Number = Field(0.25, gt=0)  # PSCF / CWT grid cell [degree]


class _PmfDemo(_Strict):
    concentration: str  # relative to the project root
    uncertainty: str
    factors: int = Field(ge=1)
    starts: int = Field(20, ge=1)
    total: str | None = None  # total variable: set weak, not modelled twice
    bootstrap: int = Field(20, ge=0)


class SourceTracingSpec(_Strict):
    """``configs/source.yml``."""

    run: dict[str, _TracingRun] = Field(default_factory=dict)
    pmf_demo: _PmfDemo | None = None


def source_config() -> dict[str, Any]:
    """``configs/source.yml`` as a plain dict, validated, with the schema's defaults filled in.

    A missing file means no source tracing in ``qingyuan run`` (``{"run": {}}``).
    """
    path = config_dir() / "source.yml"
    if not path.is_file():
        return SourceTracingSpec().model_dump(exclude_none=True)
    spec, _ = load_validated(SourceTracingSpec, path)
    return spec.model_dump(exclude_none=True)
