"""Soil commands: ``qingyuan soil ingest | assess | map`` (issue #18)."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.errors import ConfigError, SourceError
from qingyuan.cli.errors import failing_on
from qingyuan.cli.options import as_str, network_option, outputs_option, store_option

__all__ = ["soil"]

_ERRORS = (ConfigError, SourceError, ValueError, FileNotFoundError)


def _selection_options(f):
    f = click.option(
        "--depth-top",
        "depth_top_cm",
        type=float,
        default=None,
        help="Top of the depth layer [cm] (default: the campaign's shallowest, the topsoil).",
    )(f)
    return click.option(
        "--campaign", default=None, help="Campaign to summarise (default: the newest)."
    )(f)


def _assumptions(items: list[str]) -> None:
    for a in items:
        click.echo(f"assumption: {a}")


@click.group()
def soil() -> None:
    """Soil sampling campaigns: ingest, GB 15618 / GB 36600 assessment, kriged maps."""


@soil.command("ingest")
@network_option("meuse_soil")
@store_option()
def soil_ingest(network: str, store: Path | None) -> None:
    """Read, check and store a soil network (quarantine report: file, line, field, reason)."""
    from pipelines.soil.jobs import ingest_job

    with failing_on(*_ERRORS):
        r = ingest_job(network, as_str(store))
    click.echo(
        f"{r['network']}: rows in {r['rows_in']} = stored {r['rows_stored']} + merged "
        f"{r['rows_merged']} + quarantined {r['rows_quarantined']} (balanced: {r['balanced']})"
    )
    for reason, n in r["quarantine_reasons"].items():
        click.echo(f"  quarantined for {reason}: {n}")
    if r["rows_superseded"] or r["values_revised"]:
        click.echo(
            f"  laboratory corrections: {r['rows_superseded']} superseded in the input (merged), "
            f"{r['values_revised']} stored results replaced; log: {r['revisions_file']}"
        )
    click.echo(f"store: {', '.join(r['files'].values())}; quarantine: {r['quarantine_file']}")
    _assumptions(r["assumptions"])


@soil.command("assess")
@network_option("meuse_soil")
@click.option("--top", type=int, default=5, show_default=True, help="Hot spots to list.")
@_selection_options
@store_option()
@outputs_option()
def soil_assess(
    network: str,
    top: int,
    campaign: str | None,
    depth_top_cm: float | None,
    store: Path | None,
    outputs: Path | None,
) -> None:
    """Risk class, single-factor and Nemerow indices per sample; shares and hot spots."""
    from pipelines.soil.jobs import assess_job
    from pipelines.soil.report import render_soil

    with failing_on(*_ERRORS):
        r = assess_job(
            network,
            as_str(store),
            as_str(outputs),
            top=top,
            campaign=campaign,
            depth_top_cm=depth_top_cm,
        )
    r.pop("assessed")
    click.echo(render_soil(network, r))
    click.echo(f"tables: {', '.join(r['files'].values())}")


@soil.command("map")
@network_option("meuse_soil")
@click.option("--resolution", type=float, default=None, help="Grid cell [m] (default: network).")
@_selection_options
@store_option()
@outputs_option()
def soil_map(
    network: str,
    resolution: float | None,
    campaign: str | None,
    depth_top_cm: float | None,
    store: Path | None,
    outputs: Path | None,
) -> None:
    """Ordinary kriging of log contents, exceedance probability, LOO cross-validation."""
    from pipelines.soil.jobs import map_job

    with failing_on(*_ERRORS):
        r = map_job(
            network,
            as_str(store),
            as_str(outputs),
            resolution=resolution,
            campaign=campaign,
            depth_top_cm=depth_top_cm,
        )
    sel = r["selection"]
    click.echo(f"campaign {sel['campaign']}, layer {sel['layer']}")
    click.echo(f"kriging ({r['neighbourhood']}); leave-one-out CV on log contents:")
    for row in r["cv"].to_dict(orient="records"):
        click.echo(
            f"  {row['variable']:<8} OK RMSE {row['ok_rmse_log']:.3f} MSSE {row['ok_msse']:.2f} | "
            f"IDW RMSE {row['idw_rmse_log']:.3f} | {row['variogram']}"
        )
    click.echo(f"grid: {r['grid']}")
    for f in r["figures"].values():
        click.echo(f"figure: {f}")
    _assumptions(r["assumptions"])
