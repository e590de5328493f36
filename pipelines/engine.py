"""Dask as the execution engine of the heavy steps: the same code on one machine and a cluster.

The engine only partitions, maps and gathers; every computation is the single-process one
(:func:`pipelines.ingest.ingest`, :meth:`pipelines.store.StationStore.check`,
:func:`pipelines.forecast.jobs.forecast_target`), so the distributed results are the
single-process results (tested value for value in ``tests/pipelines/test_engine.py``).

Selection, in one place (:func:`select_engine`)
    ``cluster="single"`` forces one process; ``"local"`` a ``LocalCluster`` (processes,
    ``n_workers`` = the cores unless configured); ``"tcp://host:8786"`` that scheduler. Without
    ``cluster``: networks with fewer than ``engine.min_stations`` stations (``configs/
    schedules.yml``, validated by :class:`pipelines.config.schedules.EngineSpec`) run in one
    process, unchanged (the bundled networks, ``make run``); larger ones on
    ``$QINGYUAN_DASK_SCHEDULER``, else ``engine.scheduler``, else a ``LocalCluster``.

Ingest (:func:`ingest`)
    Sources are read and normalised as before, then the upsert is partitioned by station group
    (:func:`station_groups`, ``engine.group_size`` stations, in latitude/longitude order): each
    Dask task merges its group *and its halo* (every station within the ``radius_km`` of a check
    that compares stations, :func:`halo`; ``spike_neighbour``: 50 km) into the stored window and
    runs QC on it, read-only, and returns only its group's rows. The coordinator holds the
    network's store lock from the plan to the write and writes every monthly file once,
    atomically (:meth:`pipelines.store.StationStore.write`): one writer, so a worker that dies
    mid-task leaves nothing half-written and Dask simply re-runs its task. Time is not split:
    the QC windows (30 days) already span the monthly files an hourly upsert touches.

Forecast (:func:`forecast`)
    The issue's history is read once (:func:`pipelines.forecast.jobs.prepare_issue`), each
    target's forecast runs as a Dask task with the model from a per-worker cache keyed by
    tracking URI, registered name and version (:func:`load_model`: loaded once per worker and
    version), and the coordinator writes the file. Station groups are not split here: the
    models' features use the whole network (regional means, station index, the STGNN graph).

Cycles (:func:`cycle_lock`, :func:`hourly_cycle`)
    One cycle per network at a time: a second one is refused (:class:`CycleBusy`) or, with
    ``wait=True``, serialised. Ingests are serialised in any case by the store lock.

A remote cluster's workers must see the store on a shared file system and the same
``QINGYUAN_*`` / ``MLFLOW_TRACKING_URI`` settings (the tracking URI is passed to them).

API (also used by ``benchmarks/``)::

    from pipelines import engine

    with engine.client("local", n_workers=2) as c:  # or None (auto), "tcp://host:8786"
        report = engine.ingest("beijing", store_root, client=c, group_size=4)
        path = engine.forecast("beijing", store_root, "2017-02-20 08:00", out_dir, client=c)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3  # noqa: F401 - first, see below
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.config import NetworkSpec, load_network
from pipelines.ingest import IngestReport, Upsert
from pipelines.ingest import ingest as ingest_single
from pipelines.normalise import CanonicalBlock
from pipelines.store import CheckedRows, StationStore, UpsertPlan, UpsertResult

if TYPE_CHECKING:
    from distributed import Client

    from pipelines.forecast.jobs import IssueInputs

__all__ = [
    "SCHEDULER_ENV",
    "CycleBusy",
    "Engine",
    "client",
    "cycle_lock",
    "distributed_upsert",
    "engine_config",
    "forecast",
    "halo",
    "hourly_cycle",
    "ingest",
    "load_model",
    "model_loads",
    "select_engine",
    "station_groups",
    "task_runner",
]

# ``sqlite3`` is imported above, before any store read: xarray's backend discovery loads
# eckit's bundled libsqlite3 3.26, which would then shadow the system one in this process (and
# in every Dask worker, which imports this module with its first task), and MLflow's SQLite
# tracking store refuses 3.26 as too old.

#: Environment variable naming an existing Dask scheduler (``tcp://host:8786``).
SCHEDULER_ENV = "QINGYUAN_DASK_SCHEDULER"


class CycleBusy(RuntimeError):
    """Another cycle of the same network is running (its lock is held)."""


@dataclass(frozen=True)
class Engine:
    """Where the heavy steps of one network run (:func:`select_engine`).

    Attributes
    ----------
    mode : str
        ``single`` (one process), ``local`` (a ``LocalCluster`` started here) or ``remote``.
    address : str or None
        Scheduler address (``remote``).
    n_workers : int or None
        Worker processes of a ``LocalCluster``.
    group_size : int
        Stations per QC partition.
    memory_limit : str
        Memory limit per ``LocalCluster`` worker.
    reason : str
        Why this engine was chosen (logged by the flows).
    """

    mode: str
    address: str | None
    n_workers: int | None
    group_size: int
    memory_limit: str
    reason: str

    @property
    def distributed(self) -> bool:
        """True unless the engine is a single process."""
        return self.mode != "single"

    @property
    def cluster(self) -> str | None:
        """The ``cluster`` argument of :func:`client` for this engine."""
        return {"single": None, "local": "local"}.get(self.mode, self.address)


def engine_config(path: str | Path | None = None) -> dict[str, Any]:
    """Return the validated ``engine:`` section of ``configs/schedules.yml`` (defaults filled).

    Raises
    ------
    pipelines.errors.ConfigError
        Naming file, line and field of the first problem.
    """
    from pipelines.config.schedules import EngineSpec, schedules_config

    return EngineSpec(**schedules_config(path).get("engine", {})).model_dump()


def select_engine(
    n_stations: int,
    cluster: str | None = None,
    *,
    config: dict[str, Any] | None = None,
) -> Engine:
    """Choose the engine of a network with ``n_stations`` stations.

    Parameters
    ----------
    n_stations : int
        Stations of the network.
    cluster : str, optional
        ``single``, ``local`` or a scheduler address (``--cluster``); default: by size.
    config : dict, optional
        The ``engine`` section (default :func:`engine_config`).
    """
    cfg = config if config is not None else engine_config()
    common = {
        "n_workers": cfg.get("n_workers"),
        "group_size": int(cfg.get("group_size", 100)),
        "memory_limit": str(cfg.get("memory_limit", "4GiB")),
    }
    if cluster == "single":
        return Engine("single", None, **common, reason="--cluster single")
    if cluster == "local":
        return Engine("local", None, **common, reason="--cluster local")
    if cluster:
        return Engine("remote", cluster, **common, reason="--cluster")
    threshold = int(cfg.get("min_stations", 300))
    if n_stations < threshold:
        why = f"{n_stations} stations < engine.min_stations {threshold}"
        return Engine("single", None, **common, reason=why)
    why = f"{n_stations} stations >= engine.min_stations {threshold}"
    address = os.environ.get(SCHEDULER_ENV) or cfg.get("scheduler")
    if address:
        source = f"${SCHEDULER_ENV}" if os.environ.get(SCHEDULER_ENV) else "engine.scheduler"
        return Engine("remote", address, **common, reason=f"{why}; {source}")
    return Engine("local", None, **common, reason=f"{why}; LocalCluster")


@contextlib.contextmanager
def client(
    cluster: str | None = None,
    *,
    n_workers: int | None = None,
    memory_limit: str = "4GiB",
) -> Iterator[Client]:
    """Yield a ``distributed.Client`` to ``cluster``'s scheduler or to a new ``LocalCluster``.

    Parameters
    ----------
    cluster : str, optional
        A scheduler address (``tcp://host:8786``), or ``None`` / ``"local"`` for a
        ``LocalCluster`` on 127.0.0.1 (worker processes, one thread each, no dashboard) that
        is closed on exit. ``$QINGYUAN_DASK_SCHEDULER`` is used when ``cluster`` is ``None``.
    n_workers : int, optional
        Workers of the ``LocalCluster`` (default: the machine's cores).
    memory_limit : str
        Memory limit of each ``LocalCluster`` worker.
    """
    from distributed import Client, LocalCluster

    address = cluster if cluster not in (None, "local") else None
    if cluster is None:
        address = os.environ.get(SCHEDULER_ENV) or None
    if address:
        with Client(address) as c:
            yield c
        return
    with (
        LocalCluster(
            n_workers=n_workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=memory_limit,
        ) as lc,
        Client(lc) as c,
    ):
        yield c


def task_runner(c: Client) -> Any:
    """Return a Prefect ``DaskTaskRunner`` on the scheduler of ``c`` (submitted tasks go there)."""
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=c.scheduler.address)


@contextlib.contextmanager
def cycle_lock(store_root: Path, network: str, *, wait: bool = False) -> Iterator[None]:
    """Hold the cycle lock of a network (``<store>/<network>/.cycle.lock``, an ``flock``).

    Raises
    ------
    CycleBusy
        If another cycle holds it and ``wait`` is false.
    """
    folder = Path(store_root) / network
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".cycle.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise CycleBusy(
                f"another cycle of {network!r} is running (lock {folder / '.cycle.lock'})"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------- partitions
def station_groups(
    stations: list[str], lat: np.ndarray, lon: np.ndarray, size: int
) -> list[list[str]]:
    """Split stations into groups of at most ``size``, neighbours together.

    Stations are ordered by latitude band (about 1 degree) and longitude, so that a group is a
    compact patch and its halo small. Each group keeps the stations' order in ``stations``.
    """
    lat = np.nan_to_num(np.asarray(lat, float), nan=1e3)
    lon = np.nan_to_num(np.asarray(lon, float), nan=1e3)
    order = np.lexsort((lon, np.floor(lat)))
    pos = {s: i for i, s in enumerate(stations)}
    groups = [
        sorted((stations[i] for i in order[k : k + size]), key=pos.__getitem__)
        for k in range(0, len(stations), max(int(size), 1))
    ]
    return [g for g in groups if g]


def _neighbour_radius(qc_config: dict[str, Any]) -> float:
    """Largest ``radius_km`` of the enabled checks that compare stations [km] (0: none)."""
    radii = [
        float(p["radius_km"])
        for p in (qc_config.get("checks") or {}).values()
        if p and p.get("enabled", True) and "radius_km" in p
    ]
    return max(radii, default=0.0)


def halo(
    group: list[str],
    stations: list[str],
    lat: np.ndarray,
    lon: np.ndarray,
    radius_km: float,
) -> list[str]:
    """Stations outside ``group`` within ``radius_km`` [km] of one of its stations.

    With them a neighbour check of every group station sees all of its candidate neighbours.
    """
    from features.geo import pairwise_km

    if radius_km <= 0:
        return []
    dist = pairwise_km(np.asarray(lat, float), np.asarray(lon, float))
    inside = np.isin(stations, group)
    near = (np.nan_to_num(dist[inside], nan=np.inf) <= radius_km).any(axis=0) & ~inside
    return [s for s, n in zip(stations, near, strict=True) if n]


def _block_rows(block: CanonicalBlock, ids: list[str]) -> CanonicalBlock:
    """Return the rows of ``block`` for ``ids`` (the ones it has), without quarantine or notes."""
    idx = pd.Index(block.stations).get_indexer(ids)
    idx = idx[idx >= 0]
    return CanonicalBlock(
        [block.stations[i] for i in idx],
        block.times,
        {v: a[idx] for v, a in block.values.items()},
        {v: a[idx] for v, a in block.source_flags.items()},
        {v: a[idx] for v, a in block.ingest_bits.items()},
        block.present[idx],
    )


def _check_group(
    store_root: str,
    network: NetworkSpec,
    registry: dict[str, dict[str, Any]],
    block: CanonicalBlock,
    plan: UpsertPlan,
    qc_config: dict[str, Any],
    rows: list[str],
    keep: list[str],
) -> CheckedRows:
    """Dask task: merge and QC one station group with its halo, read-only."""
    store = StationStore(Path(store_root), network, registry)
    return store.check(block, plan, qc_config, rows=rows, keep=keep, threads=1)


def distributed_upsert(c: Client, *, group_size: int = 100, retries: int = 2) -> Upsert:
    """Return an ``upsert`` for :func:`pipelines.ingest.ingest` that QCs station groups on Dask.

    Under the store lock: plan on the coordinator, :meth:`~pipelines.store.StationStore.check`
    per group and halo on the workers (``retries`` re-runs of a task that raised; a task whose
    worker died is re-run by Dask), gather, write once.
    """

    def upsert(store: StationStore, block: CanonicalBlock, qc: dict[str, Any]) -> UpsertResult:
        if len(block.times) == 0:
            return UpsertResult([], 0, 0, 0)
        with store.lock():
            plan = store.plan(block)
            lat, lon = store._coords(plan.stations)
            radius = _neighbour_radius(qc)
            token = uuid.uuid4().hex[:8]
            futures = []
            for k, group in enumerate(station_groups(plan.stations, lat, lon, group_size)):
                near = set(group) | set(halo(group, plan.stations, lat, lon, radius))
                rows = [s for s in plan.stations if s in near]
                futures.append(
                    c.submit(
                        _check_group,
                        str(store.dir.parent),
                        store.network,
                        store.registry,
                        _block_rows(block, rows),
                        plan,  # by value: scattered data die with their worker
                        qc,
                        rows,
                        group,
                        key=f"qc-{store.network.name}-{token}-{k}",
                        retries=retries,
                        pure=False,
                    )
                )
            parts = c.gather(futures)
            checked = CheckedRows.combine(parts, plan.stations)
            written = store.write(plan, checked)
        return UpsertResult(written, checked.new, checked.changed, checked.same)

    return upsert


def ingest(
    network: str | NetworkSpec,
    store_root: Path,
    *,
    client: Client,
    group_size: int = 100,
    now: pd.Timestamp | None = None,
    batches: list[Any] | None = None,
) -> IngestReport:
    """:func:`pipelines.ingest.ingest` with the QC of the upsert partitioned over ``client``.

    Parameters
    ----------
    network : str or NetworkSpec
        Network name, YAML path or loaded spec.
    store_root : pathlib.Path
        Store root (shared with the workers).
    client : distributed.Client
        From :func:`client`.
    group_size : int
        Stations per partition.
    now : pandas.Timestamp, optional
        Clock of the future-timestamp check (UTC).
    batches : list of RawBatch, optional
        Already-read sources.
    """
    upsert = distributed_upsert(client, group_size=group_size)
    return ingest_single(network, Path(store_root), now, batches, upsert=upsert)


# ---------------------------------------------------------------------------------- forecast
_MODELS: dict[tuple[str, str, str], Any] = {}
_MODELS_LOCK = threading.Lock()
_LOADS = {"count": 0}


def load_model(uri: str) -> Any:
    """``mlflow.pyfunc.load_model`` with a per-process cache (one load per worker and version).

    ``models:/<name>@<alias>`` is resolved to its version first, so that a moved champion
    alias loads the new version; the key is (tracking URI, name, version).
    """
    import mlflow

    tracking = mlflow.get_tracking_uri()
    key_uri = uri
    if uri.startswith("models:/") and "@" in uri:
        name, alias = uri.removeprefix("models:/").split("@", 1)
        version = mlflow.MlflowClient().get_model_version_by_alias(name, alias).version
        key_uri = f"models:/{name}/{version}"
    key = (tracking, key_uri, "")
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = mlflow.pyfunc.load_model(key_uri)
            _LOADS["count"] += 1
        return _MODELS[key]


def model_loads() -> int:
    """Models this process has loaded through :func:`load_model` (run on workers by the tests)."""
    return _LOADS["count"]


def _forecast_task(inputs: IssueInputs, target: str, tracking_uri: str) -> tuple[Any, dict]:
    """Dask task: one target's forecast from the worker's cached champion."""
    import mlflow

    from pipelines.forecast.jobs import forecast_target

    mlflow.set_tracking_uri(tracking_uri)
    return forecast_target(inputs, target, load_model=load_model)


def forecast(
    network: str,
    store_root: Path,
    issue_time: str,
    out_dir: Path,
    targets: list[str] | None = None,
    *,
    client: Client,
    allow_fallback: bool | None = None,
    retries: int = 1,
) -> Path:
    """:func:`pipelines.forecast.jobs.issue_forecast` with one Dask task per target.

    Returns the forecast file written (by the coordinator).
    """
    import mlflow

    from models import tracking
    from pipelines.config import forecast_config
    from pipelines.config.locations import project_root
    from pipelines.forecast.jobs import prepare_issue, write_issue

    cfg = forecast_config(network)
    tracking.configure(project_root(), cfg["mlflow"])
    inputs = prepare_issue(network, Path(store_root), issue_time, allow_fallback=allow_fallback)
    uri = mlflow.get_tracking_uri()
    token = uuid.uuid4().hex[:8]
    wanted = list(targets or cfg["targets"])
    futures = [
        client.submit(
            _forecast_task,
            inputs,  # by value, so that a task whose worker died can run elsewhere
            t,
            uri,
            key=f"forecast-{inputs.net.name}-{t}-{token}",
            retries=retries,
            pure=False,
        )
        for t in wanted
    ]
    done = client.gather(futures)
    results = {t: frame for t, (frame, _) in zip(wanted, done, strict=True)}
    provenance = {t: prov for t, (_, prov) in zip(wanted, done, strict=True)}
    return write_issue(inputs, results, provenance, Path(out_dir))


def hourly_cycle(
    network: str,
    store_root: Path,
    out_dir: Path,
    *,
    client: Client,
    issue_time: str | None = None,
    group_size: int = 100,
    wait: bool = False,
) -> dict[str, Any]:
    """One hourly cycle on Dask under the network's cycle lock: ingest, then forecast.

    ``issue_time`` (local to the network) defaults to the last stored hour with data of the
    first forecast target. Returns ``{"ingest": report dict, "forecast": file path}``.

    Raises
    ------
    CycleBusy
        If a cycle of the network is running and ``wait`` is false.
    """
    from features.times import to_local
    from pipelines.config import forecast_config, load_variables

    net = load_network(network)
    with cycle_lock(Path(store_root), net.name, wait=wait):
        report = ingest(network, Path(store_root), client=client, group_size=group_size)
        if issue_time is None:
            target = forecast_config(network)["targets"][0]
            ds = StationStore(Path(store_root), net, load_variables()["variables"]).open(
                variables=[target]
            )
            has = np.isfinite(ds[target].values).any(axis=0)
            issue_time = str(to_local(pd.Timestamp(ds["time"].values[has][-1]), net.time_zone))
        path = forecast(network, Path(store_root), issue_time, Path(out_dir), client=client)
    return {"ingest": report.to_dict(), "forecast": str(path)}
