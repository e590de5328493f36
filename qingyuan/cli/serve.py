"""``qingyuan serve``: the scheduled runs of ``configs/schedules.yml``."""

from __future__ import annotations

import click

from pipelines.errors import ConfigError
from qingyuan.cli.errors import failing_on

__all__ = ["serve"]


@click.command()
@click.option("--dry-run", is_flag=True, help="List the deployments and schedules, do not serve.")
def serve(dry_run: bool) -> None:
    """Serve the scheduled runs of configs/schedules.yml (hourly, daily, weekly) until stopped."""
    from pipelines.flows import scheduled_deployments

    with failing_on(ConfigError, KeyError, ValueError):
        deployments = scheduled_deployments()
    for d, spec in deployments:
        click.echo(
            f"{d.name}: flow {spec['flow']}, cron '{spec['cron']}', {spec.get('parameters', {})}"
        )
    if dry_run:
        return
    from prefect import serve as prefect_serve

    prefect_serve(*(d for d, _ in deployments))
