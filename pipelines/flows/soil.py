"""Flow ``soil``: ingest, assess and map soil networks (issue #18); the ``qingyuan run`` step."""

from __future__ import annotations

from typing import Any

from prefect import flow, task

from pipelines.flows.paths import default_outputs, default_store

__all__ = ["soil_flow", "soil_task"]


@task(name="soil", retries=0)
def soil_task(network: str, store_root: str, out_dir: str) -> dict[str, Any]:
    """Ingest -> assess -> map one soil network (:func:`pipelines.soil.jobs.soil_job`)."""
    from pipelines.soil.jobs import soil_job

    return soil_job(network, store_root, out_dir)


@flow(name="soil", log_prints=True)
def soil_flow(
    networks: list[str] | None = None, store_root: str | None = None, out_dir: str | None = None
) -> dict[str, Any]:
    """Run every ``kind: soil`` network (default: all of ``configs/networks``)."""
    from pipelines.config.soil import soil_network_names

    root, out = default_store(store_root), default_outputs(out_dir)
    result = {}
    for name in networks or soil_network_names():
        res = soil_task(name, root, out)
        print(f"soil {name} assumptions: " + "; ".join(res["assumptions"]))
        result[name] = res
    return result
