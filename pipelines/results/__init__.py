"""The read-only results layer: what the runs produced, for the web API and other readers.

Every function takes a :class:`Workspace` (station store + outputs directory) and returns a
:class:`Read` (data, newest modification time of the files read, the files); an unknown
network, station, forecast, warning, PMF run or file raises :class:`NotFound`. Results are
memoised on the ``(path, mtime_ns, size)`` of the files they come from
(:mod:`pipelines.results.cache`), so repeated reads of unchanged files are fast. Nothing here
writes a file.

- :mod:`~pipelines.results.workspace`: :class:`Workspace`, :class:`Read`, :class:`NotFound`.
- :mod:`~pipelines.results.cache`: the memo cache.
- :mod:`~pipelines.results.stations`: networks and stations.
- :mod:`~pipelines.results.observations`: observations and flags, hourly / daily AQI, water
  class, the map's current status.
- :mod:`~pipelines.results.forecasts`: the forecast archive and one forecast.
- :mod:`~pipelines.results.enterprises`: a source network's enterprises, stacks / outfalls,
  discharge standards, latest compared values and the hourly series against the limits.
- :mod:`~pipelines.results.attribution`: the enterprise rankings for ambient anomalies.
- :mod:`~pipelines.results.warnings`: warnings, lifecycle, CAP, feed, bulletin, audit, outbox,
  cities.
- :mod:`~pipelines.results.sources`: polar / CPF, PSCF / CWT, PMF, river tracing, files.
- :mod:`~pipelines.results.registry`: the MLflow model registry.
- :mod:`~pipelines.results.soil`: soil assessment summaries, kriged maps and their CV.
- :mod:`~pipelines.results.operations`: ingest reports, quarantine, last runs.
"""

from __future__ import annotations

from pipelines.results.attribution import attribution, attributions
from pipelines.results.cache import CACHE, IO_LOCK, MemoCache, cache_info, clear_cache
from pipelines.results.enterprises import discharge_series, enterprises, source_standard
from pipelines.results.forecasts import forecast, forecast_index
from pipelines.results.observations import (
    current_status,
    daily_aqi,
    hourly_aqi,
    observations,
    observations_dataset,
    water_class,
)
from pipelines.results.operations import ingest_reports, last_runs, quarantine
from pipelines.results.registry import default_tracking_uri, registered_models
from pipelines.results.soil import is_sample_table, soil, soil_file, soil_networks
from pipelines.results.sources import (
    artifact_path,
    pmf_run,
    pmf_runs,
    polar,
    trajectory,
    water_trace,
)
from pipelines.results.stations import intact, networks, stations
from pipelines.results.warnings import (
    bulletin_path,
    cap_message,
    cities,
    feed,
    lifecycle_audit,
    message_owner,
    ops_alerts,
    outbox,
    pending,
    warning,
    warnings,
)
from pipelines.results.workspace import NotFound, Read, Workspace

__all__ = [
    "CACHE",
    "IO_LOCK",
    "MemoCache",
    "NotFound",
    "Read",
    "Workspace",
    "artifact_path",
    "attribution",
    "attributions",
    "bulletin_path",
    "cache_info",
    "cap_message",
    "cities",
    "clear_cache",
    "current_status",
    "daily_aqi",
    "default_tracking_uri",
    "discharge_series",
    "enterprises",
    "feed",
    "forecast",
    "forecast_index",
    "hourly_aqi",
    "ingest_reports",
    "intact",
    "is_sample_table",
    "last_runs",
    "lifecycle_audit",
    "message_owner",
    "networks",
    "observations",
    "observations_dataset",
    "ops_alerts",
    "outbox",
    "pending",
    "pmf_run",
    "pmf_runs",
    "polar",
    "quarantine",
    "registered_models",
    "soil",
    "soil_file",
    "soil_networks",
    "source_standard",
    "stations",
    "trajectory",
    "warning",
    "warnings",
    "water_class",
    "water_trace",
]
