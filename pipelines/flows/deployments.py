"""Prefect deployments of ``configs/schedules.yml`` (served by ``qingyuan serve``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.flows.forecast import backtest_flow, forecast_flow, hourly_flow, retrain_flow
from pipelines.flows.run import run_flow
from pipelines.flows.soil import soil_flow
from pipelines.flows.tracing import pmf_flow, source_flow
from pipelines.flows.warn import deliver_flow, warn_flow

__all__ = ["FLOWS", "build_deployments", "scheduled_deployments"]

FLOWS = {
    "hourly": hourly_flow,
    "warn": warn_flow,
    "deliver": deliver_flow,
    "retrain": retrain_flow,
    "run": run_flow,
    "backtest": backtest_flow,
    "forecast": forecast_flow,
    "pmf": pmf_flow,
    "source-tracing": source_flow,
    "soil": soil_flow,
}


def build_deployments(cfg: dict[str, Any]) -> list:
    """Prefect deployments from ``configs/schedules.yml`` (served by ``qingyuan serve``).

    ``cfg`` is the file's content; it is checked against the schedules schema, which also
    supplies the defaults.
    """
    from prefect.schedules import Cron

    from pipelines.config import SchedulesSpec

    cfg = SchedulesSpec.model_validate(cfg).model_dump(exclude_none=True)
    out = []
    tz = cfg["time_zone"]
    for d in cfg["deployments"]:
        if d["flow"] not in FLOWS:
            raise KeyError(f"schedules: unknown flow {d['flow']!r}; known: {sorted(FLOWS)}")
        out.append(
            FLOWS[d["flow"]].to_deployment(
                name=d["name"],
                schedules=[Cron(d["cron"], timezone=d.get("time_zone", tz))],
                parameters=d["parameters"],
                tags=["qingyuan", d["flow"]],
                description=d.get("description"),
            )
        )
    return out


def scheduled_deployments(path: str | Path | None = None) -> list[tuple[Any, dict[str, Any]]]:
    """Deployments of a schedules file (default ``configs/schedules.yml``), each with its spec."""
    from pipelines.config import schedules_config

    cfg = schedules_config(path)
    return list(zip(build_deployments(cfg), cfg["deployments"], strict=True))
