"""Prefect flows: thin wrappers that add retries, logging and persistence to the plain functions.

One module per flow group:

- :mod:`~pipelines.flows.ingest`: ``ingest`` (read each source, retried with backoff; normalise,
  QC, upsert, report).
- :mod:`~pipelines.flows.assess`: ``assess`` (daily AQI or water class, weekly compliance).
- :mod:`~pipelines.flows.forecast`: ``backtest``, ``forecast``, ``hourly``, ``retrain``.
- :mod:`~pipelines.flows.warn`: ``warn``, ``deliver``, the drills of the main job, replay.
- :mod:`~pipelines.flows.tracing`: ``source-tracing``, ``pmf``, forecast driver shares.
- :mod:`~pipelines.flows.run`: ``run``, the embedded main job on the bundled networks.
- :mod:`~pipelines.flows.deployments`: the scheduled deployments of ``configs/schedules.yml``.
"""

from __future__ import annotations

from pipelines import server_guard
from pipelines.flows.assess import assess_flow, assess_task, grid_job, water_assess_job
from pipelines.flows.deployments import FLOWS, build_deployments, scheduled_deployments
from pipelines.flows.forecast import (
    backtest_flow,
    forecast_flow,
    forecast_task,
    hourly_flow,
    retrain_flow,
)
from pipelines.flows.ingest import ingest_flow, read_source_task, store_task
from pipelines.flows.run import bundled_networks, run_flow
from pipelines.flows.tracing import (
    forecast_drivers,
    pmf_demo,
    pmf_flow,
    pmf_task,
    source_config,
    source_flow,
    source_task,
)
from pipelines.flows.warn import (
    cities_of,
    deliver_flow,
    drill_and_warn,
    replay_job,
    warn_flow,
    warn_result,
    warn_status,
    warn_task,
    water_alerts_task,
)

server_guard.install()  # Prefect's temporary API server dies with this process (issue #16)

_cities_of = cities_of  # the old private name

__all__ = [
    "FLOWS",
    "assess_flow",
    "assess_task",
    "backtest_flow",
    "build_deployments",
    "bundled_networks",
    "cities_of",
    "deliver_flow",
    "drill_and_warn",
    "forecast_drivers",
    "forecast_flow",
    "forecast_task",
    "grid_job",
    "hourly_flow",
    "ingest_flow",
    "pmf_demo",
    "pmf_flow",
    "pmf_task",
    "read_source_task",
    "replay_job",
    "retrain_flow",
    "run_flow",
    "scheduled_deployments",
    "source_config",
    "source_flow",
    "source_task",
    "store_task",
    "warn_flow",
    "warn_result",
    "warn_status",
    "warn_task",
    "water_alerts_task",
    "water_assess_job",
]
