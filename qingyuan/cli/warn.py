"""Warning commands: ``warn`` (decide, publish, status, deliver) and ``replay``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pipelines.errors import ConfigError
from qingyuan.cli.errors import AlertRaised, DeliveryFailed, failing_on
from qingyuan.cli.options import as_str, city_option, outputs_option, store_option

__all__ = ["replay", "warn"]


@click.command()
@city_option()
@click.option(
    "--forecast",
    "forecast_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Forecast file (default: the newest under outputs/forecasts/<network>/).",
)
@click.option(
    "--as-of",
    default=None,
    help="The present, UTC (default: now). Forecasts older than max_forecast_age_hours change nothing.",
)
@outputs_option()
@store_option(help="Station store (water and source-supervision files read it; default: store/).")
@click.option(
    "--status", is_flag=True, help="Only show active warnings, ops alerts and the outbox."
)
@click.option("--deliver", is_flag=True, help="Only retry due outbox deliveries.")
def warn(
    city: str,
    forecast_path: Path | None,
    as_of: str | None,
    outputs: Path | None,
    store: Path | None,
    status: bool,
    deliver: bool,
) -> None:
    """Decide, persist and publish warnings (CAP 1.2, JSON, bulletin).

    Air files (heavy-pollution warnings) decide from the newest forecast; water files
    (``kind: water``, e.g. ``--city ndfa``) from the station store's latest valid readings;
    source-supervision files (``kind: source``, e.g. ``--city beijing_sources``) from the
    enterprises' online-monitoring data in the store (HJ 212).
    An operational alert (e.g. a stale forecast) exits with status 3.
    """
    if status or deliver:
        from pipelines.flows import warn_status

        with failing_on(FileNotFoundError):
            delivered, state = warn_status(city, as_str(outputs), deliver=deliver)
        if delivered is not None:
            click.echo(json.dumps(delivered))
        click.echo(json.dumps(state, ensure_ascii=False, indent=2, default=str))
        return
    from pipelines.config.warnings import load_warning_config
    from pipelines.flows import warn_flow

    with failing_on(ConfigError, ValueError, KeyError, FileNotFoundError):
        load_warning_config(city)  # fail fast, before Prefect starts, on an unknown or bad file
        res = warn_flow(city, as_str(outputs), as_str(forecast_path), as_of, as_str(store))
    from pipelines.warnings.outbox import delivery_problem

    for area, d in res["decisions"].items():
        what = f"{d['action']} {d['level'] or ''} {d['identifier'] or ''}".strip()
        if d.get("duplicate"):  # a re-run of a decided issue time creates nothing
            click.echo(f"{area}: unchanged (this issue time was already decided: {what})")
        else:
            click.echo(f"{area}: {what}")
    click.echo(json.dumps(res["outputs"], indent=2))
    delivery = res.get("delivery")
    if delivery and any(delivery.values()):
        click.echo("delivery: " + ", ".join(f"{n} {k}" for k, n in delivery.items()), err=True)
    if res["ops_alert"]:
        raise AlertRaised(res["ops_alert"])
    problem = delivery_problem(delivery)
    if problem:
        raise DeliveryFailed(problem)


@click.command()
@city_option()
@click.option("--model", default=None, help="Forecaster (default: the city file's replay.model).")
@store_option()
@outputs_option()
def replay(city: str, model: str | None, store: Path | None, outputs: Path | None) -> None:
    """Replay the daily warning decision over the city's test period and score the episodes."""
    from pipelines.flows import replay_job

    with failing_on(ConfigError, ValueError, KeyError, FileNotFoundError):
        res, out = replay_job(city, model, as_str(store), as_str(outputs))
    for area in res.tables:
        click.echo(f"{area}: {json.dumps(res.summaries[area])}")
    click.echo(f"tables in {out}")
