"""``configs/forecast.yml``: forecast, backtest, champion and ``qingyuan run`` settings.

The top level holds the settings of every network; ``networks.<name>`` overrides any of them for
one network (mappings merge, lists replace); ``run.<name>`` is what ``qingyuan run`` forecasts
and drills on the bundled data, and ``run_networks`` the networks it processes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from pipelines.config.locations import config_dir
from pipelines.config.yaml_io import deep_merge, load_validated, validate_model

__all__ = ["BacktestWindow", "ForecastSpec", "bundled_networks", "forecast_config"]

Number = int | float
Day = dt.datetime | dt.date | str  # a local day or time; YAML dates stay dates


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BacktestWindow(_Strict):
    """A backtest window: local days, and the hours between issue times."""

    train_end: Day | None = None  # inclusive local day
    test_start: Day | None = None
    test_end: Day | None = None
    issue_stride: int = Field(6, ge=1)  # hours between backtest issue times


class _Thresholds(BaseModel):
    """Event thresholds: ``<target>: value`` in the target's units, and the daily AQI."""

    model_config = ConfigDict(extra="allow")
    daily_aqi: Number = Field(200, gt=0)  # heavy-pollution day: P(daily AQI > 200)

    @model_validator(mode="after")
    def _numbers(self) -> _Thresholds:
        for k, v in (self.model_extra or {}).items():
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"{k}: a number is required")
        return self


class _Champion(_Strict):
    """The champion rule (:mod:`models.forecast.champion`): paired sample, margin and test."""

    metric: Literal["rmse", "mae"] = "rmse"
    leads: list[int] = Field(default_factory=lambda: [24, 48, 72], min_length=1)
    min_improvement: float = Field(0.01, ge=0, lt=1)  # relative margin on the paired sample
    # largest one-sided Diebold-Mariano p-value that promotes; null: margin only
    significance: float | None = Field(0.05, gt=0, lt=1)


class _Mlflow(_Strict):
    tracking_uri: str = "sqlite:///mlruns/mlflow.db"
    artifact_root: str = "mlruns/artifacts"
    experiment: str = "qingyuan-forecast"


class _Drill(_Strict):
    city: str | None = None  # default: the network's first warning city
    start: Day
    end: Day


class _WaterDrill(_Strict):
    start: Day = "1900-01-01"
    end: Day = "2262-01-01"
    every_hours: Number = Field(24, gt=0)


class _RunNetwork(_Strict):
    targets: list[str] = Field(default_factory=list)
    models: list[str] | None = None
    drill: _Drill | None = None
    water_drill: _WaterDrill | None = None
    cap_status: Literal["Actual", "Exercise", "System", "Test", "Draft"] | None = None


class _Settings(_Strict):
    """Settings that a network may override."""

    targets: list[str] = Field(min_length=1)
    quantiles: list[float] = Field(min_length=1)
    leads: int = Field(gt=0)  # hours
    aqi_family: str = "hj633"
    daily_days: list[int] = Field(default_factory=lambda: [1, 2, 3])
    models: list[str] = Field(min_length=1)
    max_data_age_hours: Number = Field(6, gt=0)
    allow_fallback: bool = False
    # driver attribution (TreeSHAP) of issued forecasts: every station, the stations whose upper
    # quantile reaches the target's threshold (``thresholds``), or none
    drivers: Literal["all", "at_risk", "none"] = "all"
    backtest: dict[str, BacktestWindow] = Field(default_factory=dict)
    thresholds: _Thresholds = Field(default_factory=_Thresholds)
    report_leads: list[int] = Field(default_factory=lambda: [1, 6, 12, 24, 48, 72])
    champion: _Champion = Field(default_factory=_Champion)
    mlflow: _Mlflow = Field(default_factory=_Mlflow)

    @model_validator(mode="after")
    def _checks(self) -> _Settings:
        if any(not 0 < q < 1 for q in self.quantiles):
            raise ValueError("quantiles must lie strictly between 0 and 1")
        if any(not 1 <= k <= self.leads for k in self.report_leads):
            raise ValueError(f"report_leads must lie in 1..leads ({self.leads})")
        if "leads" not in self.champion.model_fields_set:  # the default fits the horizon
            self.champion.leads = [k for k in self.champion.leads if k <= self.leads] or [
                self.leads
            ]
        if any(not 1 <= k <= self.leads for k in self.champion.leads):
            raise ValueError(f"champion.leads must lie in 1..leads ({self.leads})")
        return self


# every setting optional: a network names only what it changes
_Override = create_model(
    "_Override",
    __config__=ConfigDict(extra="forbid"),
    **{name: (Any, None) for name in _Settings.model_fields},
)


class ForecastSpec(_Settings):
    """``configs/forecast.yml``."""

    networks: dict[str, _Override] = Field(default_factory=dict)  # type: ignore[valid-type]
    run: dict[str, _RunNetwork] = Field(default_factory=dict)
    run_networks: list[str] | None = None  # default: the networks with a ``run`` block

    @model_validator(mode="after")
    def _bundled(self) -> ForecastSpec:
        if self.run_networks is None:
            self.run_networks = list(self.run)
        return self


def forecast_config(network: str | None = None) -> dict[str, Any]:
    """``configs/forecast.yml`` as a plain dict, with ``networks.<network>`` overrides merged.

    Validated, with every default of the schema filled in. A water network, for instance, has
    its own targets, horizon, models and thresholds.

    Raises
    ------
    ConfigError
        Naming file, line and field of the first problem (of the file, or of the merged
        settings of ``network``).
    """
    path = config_dir() / "forecast.yml"
    spec, data = load_validated(ForecastSpec, path)
    over = (data.get("networks") or {}).get(network) if network else None
    if over:
        spec = validate_model(ForecastSpec, deep_merge(data, over), path)
    return spec.model_dump(exclude_none=True)


def bundled_networks() -> list[str]:
    """Networks that ``qingyuan run`` processes when none is named (``run_networks``)."""
    return list(forecast_config()["run_networks"])
