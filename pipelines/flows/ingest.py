"""Flow ``ingest``: read each source (retried with backoff), normalise, QC, upsert, report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from pipelines.config import load_network
from pipelines.flows.paths import default_store
from pipelines.ingest import ingest, read_source
from pipelines.sources.base import RawBatch

__all__ = ["ingest_flow", "read_source_task", "store_task"]


@task(name="read-source", retries=3, retry_delay_seconds=[2, 10, 30])
def read_source_task(network: str, index: int) -> RawBatch:
    """Read one source (network errors are retried with backoff by Prefect)."""
    net = load_network(network)
    batch = read_source(index, net)
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
        "%s: %d rows in = %d stored + %d quarantined (balanced: %s); %d partitions written",
        report.network,
        report.rows_in,
        report.rows_stored,
        report.rows_quarantined,
        report.balanced,
        len(report.partitions_written),
    )
    for rej in report.rejected_files:
        log.error("rejected %s:%s %s", rej["file"], rej["line"], rej["reason"])
    return report.to_dict()


@flow(name="ingest", log_prints=True)
def ingest_flow(network: str, store_root: str | None = None) -> dict[str, Any]:
    """Ingest every source of ``network`` into the station store."""
    net = load_network(network)
    root = default_store(store_root)
    batches = [read_source_task(network, i) for i in range(len(net.sources))]
    return store_task(network, batches, root)
