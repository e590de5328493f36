"""Flow ``ingest``: read each source (retried with backoff), normalise, QC, upsert, report.

Large networks (or ``cluster``) run on Dask (:mod:`pipelines.engine`): the reads fan out as
tasks of a ``DaskTaskRunner`` on the engine's scheduler, and the QC of the upsert is partitioned
over the same cluster by station group; small networks run in one process, as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from pipelines import engine
from pipelines.config import load_network
from pipelines.flows.paths import default_store
from pipelines.ingest import ingest, read_source
from pipelines.sources.base import RawBatch

__all__ = [
    "dask_ingest_flow",
    "distributed_store_task",
    "ingest_flow",
    "read_source_task",
    "store_task",
]


@task(name="read-source", retries=3, retry_delay_seconds=[2, 10, 30])
def read_source_task(network: str, index: int, store_root: str | None = None) -> RawBatch:
    """Read one source (network errors are retried with backoff by Prefect)."""
    net = load_network(network)
    batch = read_source(index, net, Path(store_root) if store_root else None)
    get_run_logger().info(
        "read %s rows from %s (%d quarantined)",
        batch.rows_in,
        net.sources[index].adapter,
        len(batch.quarantine),
    )
    return batch


@task(name="normalise-qc-store")
def store_task(network: str, batches: list[RawBatch], store_root: str) -> dict[str, Any]:
    """Normalise, QC and upsert; returns the ingest report as a dict."""
    report = ingest(network, Path(store_root), batches=batches)
    log = get_run_logger()
    log.info(
        "%s: %d rows in = %d stored + %d merged + %d quarantined (balanced: %s); %d partitions "
        "written",
        report.network,
        report.rows_in,
        report.rows_stored,
        report.rows_merged,
        report.rows_quarantined,
        report.balanced,
        len(report.partitions_written),
    )
    for rej in report.rejected_files:
        log.error("rejected %s:%s %s", rej["file"], rej["line"], rej["reason"])
    return report.to_dict()


@task(name="normalise-qc-store-dask")
def distributed_store_task(
    network: str, batches: list[RawBatch], store_root: str, address: str, group_size: int
) -> dict[str, Any]:
    """Normalise, then QC per station group on the cluster at ``address``, one writer."""
    with engine.client(address) as c:
        report = engine.ingest(
            network, Path(store_root), client=c, group_size=group_size, batches=batches
        )
    get_run_logger().info(
        "%s on Dask (%s): %d rows in = %d stored + %d merged + %d quarantined; %d partitions "
        "written",
        report.network,
        address,
        report.rows_in,
        report.rows_stored,
        report.rows_merged,
        report.rows_quarantined,
        len(report.partitions_written),
    )
    return report.to_dict()


@flow(name="ingest-dask", log_prints=True)
def dask_ingest_flow(network: str, store_root: str, address: str, group_size: int) -> dict:
    """Read the sources as submitted tasks (``DaskTaskRunner``), then the partitioned upsert."""
    net = load_network(network)
    futures = [read_source_task.submit(network, i, store_root) for i in range(len(net.sources))]
    batches = [f.result() for f in futures]
    # called, not submitted: it runs here and maps the station groups over the cluster itself
    return distributed_store_task(network, batches, store_root, address, group_size)


@task(name="ingest-weather-forecasts", retries=1, retry_delay_seconds=10)
def weather_forecast_task(network: str, store_root: str) -> dict[str, Any]:
    """Read the network's weather-forecast feeds into the NWP store (new or changed files only).

    A synthetic feed is generated from the observations just stored (first use) and marked so.
    """
    from pipelines.nwp.store import ingest_nwp, list_runs

    net = load_network(network)
    written = ingest_nwp(net, Path(store_root))
    log = get_run_logger()
    out = {}
    for feed in net.weather_forecasts:
        stored = list_runs(Path(store_root) / net.name, feed.name)
        out[feed.name] = {
            "runs_written": len(written.get(feed.name, [])),
            "runs_stored": len(stored),
            "first_run": f"{stored[0]:%Y-%m-%dT%H:%MZ}" if stored else None,
            "last_run": f"{stored[-1]:%Y-%m-%dT%H:%MZ}" if stored else None,
            "synthetic": feed.synthetic is not None,
        }
        log.info(
            "%s feed %s%s: %d runs written, %d stored",
            net.name,
            feed.name,
            " (SYNTHETIC)" if feed.synthetic is not None else "",
            out[feed.name]["runs_written"],
            len(stored),
        )
    return out


@flow(name="ingest", log_prints=True)
def ingest_flow(
    network: str, store_root: str | None = None, cluster: str | None = None
) -> dict[str, Any]:
    """Ingest every source of ``network`` into the station store, then its weather-forecast feeds.

    ``cluster``: ``single``, ``local`` or a scheduler address; default by network size
    (:func:`pipelines.engine.select_engine`).
    """
    net = load_network(network)
    root = default_store(store_root)
    eng = engine.select_engine(len(net.stations), cluster)
    if not eng.distributed:
        batches = [read_source_task(network, i, root) for i in range(len(net.sources))]
        report = store_task(network, batches, root)
    else:
        get_run_logger().info("engine: %s (%s)", eng.mode, eng.reason)
        with engine.client(
            eng.cluster, n_workers=eng.n_workers, memory_limit=eng.memory_limit
        ) as c:
            run = dask_ingest_flow.with_options(task_runner=engine.task_runner(c))
            report = run(network, root, c.scheduler.address, eng.group_size)
    if net.weather_forecasts:
        report["weather_forecasts"] = weather_forecast_task(network, root)
    return report
