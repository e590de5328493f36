"""Attribution: ``qingyuan attribute enterprises`` (and the former names of ``qingyuan trace``).

``qingyuan attribute pmf | polar | trajectory | drivers`` stay as aliases of ``qingyuan trace``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from qingyuan.cli.errors import failing_on
from qingyuan.cli.options import network_option, outputs_option, store_option
from qingyuan.cli.trace import trace

__all__ = ["attribute", "enterprises"]


@click.command("enterprises")
@network_option(help="Ambient network (air or water): configs/networks/NAME.yml or a YAML path.")
@click.option("--station", required=True, help="Air station or river section of the anomaly.")
@click.option(
    "--at", "at", required=True, help="Time of the anomaly, UTC (or with a zone, e.g. +08:00)."
)
@click.option(
    "--variable",
    default=None,
    help="Ambient pollutant (pm25, so2, no2, nh3n ...; default: the most anomalous one mapped).",
)
@click.option(
    "--sources", default=None, help="The kind: source network (default: every one in range)."
)
@click.option("--river", default=None, help="River file of a water network (default: its own).")
@store_option()
@outputs_option()
def enterprises(
    network: str,
    station: str,
    at: str,
    variable: str | None,
    sources: str | None,
    river: str | None,
    store: Path | None,
    outputs: Path | None,
) -> None:
    """Rank enterprises by how well their reported emissions explain an ambient anomaly."""
    from pipelines.tracing.enterprises import enterprise_job
    from qingyuan.paths import outputs_dir, store_dir

    with failing_on(ValueError, KeyError, FileNotFoundError):
        res = enterprise_job(
            network,
            store or store_dir(),
            outputs or outputs_dir(),
            station,
            at,
            variable=variable,
            sources=sources,
            river=river,
        )
    for line in render(res):
        click.echo(line)


def _num(v: Any, fmt: str, empty: str = "-") -> str:
    return empty if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def render(res: dict[str, Any]) -> list[str]:
    """Return the lines ``qingyuan attribute enterprises`` prints for a job result."""
    excess = _num(res["excess"], "+.1f")
    lines = [
        f"{res['station']} {res['variable']} at {res['at']} UTC: {res['observed']:.1f} "
        f"{res['units']} (excess {excess} over the trailing median, anomaly z "
        f"{res['anomaly_z']:.1f}); emissions {res['emission_variable']} of "
        f"{', '.join(res['source_networks'])}"
        + (f" on river {res['river']}" if res["river"] else ""),
        f"{'rank':>4}  {'enterprise':<10} {'score':>7} {'share':>6} {'km':>6} {'bearing':>7} "
        f"{'lag h':>6}  {'status':<12} name",
    ]
    for r in res["ranking"]:
        lines.append(
            f"{_num(r['rank'], 'd'):>4}  {r['enterprise']:<10} {_num(r['score'], '.1f'):>7} "
            f"{_num(r['share'], '.0%'):>6} {_num(r['distance_km'], '.1f'):>6} "
            f"{_num(r['bearing_deg'], '.0f'):>7} {_num(r['lag_h'], '.1f'):>6}  "
            f"{r['status']:<12} {r['name']}"
        )
    ranked = [r for r in res["ranking"] if r["rank"] is not None and (r["score"] or 0) > 0]
    for r in ranked[:3]:
        lines.append(f"  {r['rank']}. {r['enterprise']}: {r['evidence']}")
    if not ranked:
        lines.append("  no enterprise's reported emissions explain the excess")
    lines += [f"note: {n}" for n in res["notes"]]
    if res["provenance"].get("synthetic"):
        lines.append("note: SYNTHETIC data (a synthetic network is involved)")
    lines.append(f"table {res['files']['table']}; json {res['files']['json']}")
    return lines


attribute = click.Group(
    "attribute",
    commands={**trace.commands, "enterprises": enterprises},
    help="Attribution: rank enterprises as the explanation of an anomaly (enterprises); "
    "also the former names of the source-tracing commands (pmf, polar, trajectory, drivers).",
)
