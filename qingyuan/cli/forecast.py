"""Forecast commands: ``backtest``, ``train``, ``forecast``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pipelines.errors import ConfigError
from qingyuan.cli.errors import ModelsFailed, failing_on
from qingyuan.cli.options import (
    as_str,
    cluster_option,
    network_option,
    outputs_option,
    store_option,
)

__all__ = ["backtest", "backtest_text", "forecast", "train"]

LEAD_COLUMNS = ("model", "lead", "rmse", "mae", "skill_vs_persistence", "csi")
DAILY_COLUMNS = (
    "model",
    "day",
    "rmse_aqi",
    "aqi_category_accuracy",
    "heavy_pod",
    "heavy_far",
    "heavy_brier",
)


def backtest_text(tables: dict[str, Any], leads: list[int]) -> str:
    """Format the backtest scores: per target at the reported ``leads`` [h], then daily AQI."""
    import pandas as pd

    tables = dict(tables)
    daily = tables.pop("daily", None)
    daily_targets = tables.pop("daily_targets", None)
    tables.pop("failed", None)
    parts = []
    for target, table in tables.items():
        t = pd.DataFrame(table)
        t = t[t["lead"].isin(leads)]
        cols = [c for c in LEAD_COLUMNS if c in t]
        parts.append(f"\n{target}\n" + t[cols].round(3).to_string(index=False))
    if daily:
        d = pd.DataFrame(daily)
        cols = [c for c in DAILY_COLUMNS if c in d]
        head = "\ndaily AQI, D+1..D+3"
        if daily_targets and len(daily_targets) < 6:
            # HJ 633's AQI is the largest of six sub-indices: from fewer it is a partial AQI
            head += (
                f" (from {', '.join(daily_targets)} only: the AQI of the pollutants backtested, "
                "not the full six-pollutant AQI)"
            )
        parts.append(head + "\n" + d[cols].round(3).to_string(index=False))
    return "\n".join(parts)


@click.command()
@network_option("beijing", help="Network name (configs/networks/NAME.yml).")
@click.option(
    "--start",
    default=None,
    help="First local day of the test period (default: configs/forecast.yml).",
)
@click.option("--end", default=None, help="Last local day of the test period.")
@click.option("--train-end", default=None, help="Last local day of the training period.")
@click.option("--target", "targets", multiple=True, help="Targets (default: configs/forecast.yml).")
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Models by name from configs/models (default: configs/forecast.yml), e.g. mlforecast_default.",
)
@store_option()
@outputs_option()
def backtest(
    network: str,
    start: str | None,
    end: str | None,
    train_end: str | None,
    targets: tuple[str, ...],
    models: tuple[str, ...],
    store: Path | None,
    outputs: Path | None,
) -> None:
    """Rolling-origin backtest of every model; runs go to MLflow, champions are promoted."""
    from pipelines.flows import backtest_flow
    from pipelines.forecast.jobs import forecast_config

    with failing_on(ConfigError, ValueError, KeyError, FileNotFoundError):
        tables = backtest_flow(
            network,
            as_str(store),
            list(targets) or None,
            start,
            end,
            train_end,
            as_str(outputs),
            list(models) or None,
        )
    leads = forecast_config(network)["report_leads"]
    text = backtest_text(tables, leads)
    if text:
        click.echo(text)
    failed = tables.get("failed") or {}
    if failed:
        raise ModelsFailed(
            "; ".join(f"{t} {m}: {why}" for t, ms in failed.items() for m, why in ms.items())
            + " (the other models were scored and logged)"
        )


@click.command()
@network_option("beijing", help="Network name (configs/networks/NAME.yml).")
@store_option()
@click.option(
    "--train-end", default=None, help="Last local day of training (default: configs/forecast.yml)."
)
@click.option("--target", "targets", multiple=True)
def train(
    network: str, store: Path | None, train_end: str | None, targets: tuple[str, ...]
) -> None:
    """Train and register models (a backtest run: the champion rule needs a score)."""
    from pipelines.flows import backtest_flow

    with failing_on(ConfigError, ValueError, KeyError, FileNotFoundError):
        backtest_flow(network, as_str(store), list(targets) or None, None, None, train_end)
    click.echo("trained; see MLflow (mlruns/mlflow.db) for runs and the champion aliases")


@click.command()
@network_option("beijing", help="Network name (configs/networks/NAME.yml).")
@click.option(
    "--issue-time",
    required=True,
    help="Issue time, local to the network (e.g. '2017-01-01 08:00').",
)
@click.option("--target", "targets", multiple=True)
@store_option()
@outputs_option()
@cluster_option()
def forecast(
    network: str,
    issue_time: str,
    targets: tuple[str, ...],
    store: Path | None,
    outputs: Path | None,
    cluster: str | None,
) -> None:
    """Forecast 1-72 h for every station from the champion models (CF netCDF with provenance)."""
    from pipelines import engine
    from pipelines.config import load_network
    from pipelines.forecast.jobs import issue_forecast
    from qingyuan.paths import outputs_dir, store_dir

    with failing_on(ConfigError, ValueError, KeyError, FileNotFoundError, RuntimeError):
        eng = engine.select_engine(len(load_network(network).stations), cluster)
        args = (network, store or store_dir(), issue_time, outputs or outputs_dir())
        if eng.distributed:
            with engine.client(
                eng.cluster, n_workers=eng.n_workers, memory_limit=eng.memory_limit
            ) as c:
                path = engine.forecast(*args, list(targets) or None, client=c)
        else:
            path = issue_forecast(*args, list(targets) or None)
    click.echo(str(path))
