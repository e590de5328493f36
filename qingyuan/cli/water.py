"""Water commands: ``qingyuan water network | assess | trace``."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.errors import ConfigError
from qingyuan.cli.errors import failing_on
from qingyuan.cli.options import as_str, network_option, outputs_option, store_option

__all__ = ["water"]


@click.group()
def water() -> None:
    """Water networks: river topology, weekly class and compliance, upstream tracing."""


@water.command("network")
@click.option("--river", default="ndfa", show_default=True, help="configs/rivers/<river>.yml")
def water_network(river: str) -> None:
    """Show a river network: sections, links, distances, travel times, target classes."""
    from pipelines.config.rivers import load_river_network

    with failing_on(ConfigError, ValueError):
        rn = load_river_network(river)
    click.echo(f"{rn.name}: {len(rn.sections)} sections, outlet(s) {rn.outlets()}")
    for s in rn.sections.values():
        click.echo(
            f"  {s.id:<8} {s.river:<20} -> {s.downstream or '(outlet)':<8} "
            f"{s.distance_km:6.1f} km {s.travel_time_h:6.1f} h  target {s.target_class or '-'}"
        )


@water.command("assess")
@network_option("ndfa", help="Network name (configs/networks/NAME.yml) or a YAML path.")
@click.option("--river", default=None, help="River file with target classes (default: same name).")
@store_option()
@outputs_option()
def water_assess(network: str, river: str | None, store: Path | None, outputs: Path | None) -> None:
    """Weekly GB 3838 class per section, compliance with the target, whole-river rating."""
    from pipelines.flows import water_assess_job

    with failing_on(ConfigError, ValueError, FileNotFoundError):
        res = water_assess_job(network, river, as_str(store), as_str(outputs))
    for sec, c in res["shares"].items():
        click.echo(f"  {sec:<10} weeks meeting target: {c['share']:.0%} ({c['weeks']} weeks)")
    click.echo(res["rating"].dropna(subset=["rating"]).tail(6).to_string(index=False))
    click.echo(f"tables: {res['files']['weekly']}, {res['files']['rating']}")


@water.command("trace")
@click.option("--river", default="ndfa", show_default=True)
@click.option("--section", required=True, help="Section where the anomaly was seen.")
@click.option(
    "--variable", required=True, help="e.g. turbidity, conductivity, dissolved_oxygen, nh3n"
)
@click.option(
    "--at", default=None, help="Detection time, UTC (default: the largest anomaly in the record)."
)
@click.option("--drop", is_flag=True, help="The anomaly is a drop (dissolved oxygen), not a rise.")
@click.option("--days", type=float, default=5.0, show_default=True, help="Days of data before it.")
@store_option()
@outputs_option()
def water_trace(
    river: str,
    section: str,
    variable: str,
    at: str | None,
    drop: bool,
    days: float,
    store: Path | None,
    outputs: Path | None,
) -> None:
    """Rank the upstream reaches where an anomaly most likely entered, and estimate when."""
    from pipelines.tracing.water import trace_job
    from qingyuan.paths import outputs_dir, store_dir

    with failing_on(ConfigError, ValueError, KeyError, FileNotFoundError):
        res = trace_job(
            river,
            Path(store or store_dir()),
            Path(outputs or outputs_dir()),
            section,
            variable,
            at,
            days,
            1.0,
            -1 if drop else 1,
        )
    click.echo(
        f"{variable} anomaly at {section}, {res['detected']} UTC; most likely entry reaches:"
    )
    for r in res["ranking"]:
        click.echo(
            f"  {r['reach']:<14} entry ~{r['entry_time']} UTC, {r['position']:.0%} down the reach, "
            f"misfit +{r['delta']:.1f}"
        )
    bad = res["ranking"][0].get("mismatched_sections", 0)
    if bad:
        click.echo(
            f"INCONCLUSIVE: even the best candidate is contradicted by {bad} section(s) (a pulse "
            "where none is expected, or none where one is): no single upstream entry explains the data"
        )
    click.echo(f"table {res['table']}; figure {res['figure']}")
