"""Command-line interface: ``qingyuan run | ingest | assess | grid | backtest | train | forecast | warn``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from pipelines.errors import ConfigError, IngestError, SourceError

__all__ = ["main"]


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


@click.group()
@click.version_option(package_name="qingyuan")
def main() -> None:
    """Qingyuan (清源): pollution monitoring, forecasting, source tracing and warning."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # no network here: Prefect's anonymous usage telemetry would only log connection errors
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@main.command()
@click.option(
    "--store", type=click.Path(path_type=Path), default=None, help="Store root (default ./store)."
)
@click.option(
    "--outputs",
    type=click.Path(path_type=Path),
    default=None,
    help="Outputs dir (default ./outputs).",
)
@click.option(
    "--network", "networks", multiple=True, help="Networks to run (default: the bundled ones)."
)
def run(store: Path | None, outputs: Path | None, networks: tuple[str, ...]) -> None:
    """Run the main job on the bundled data: ingest -> QC -> store -> daily AQI / water class -> outputs."""
    from pipelines.flows import run_flow
    from qingyuan.paths import outputs_dir
    from qingyuan.summary_text import render_markdown

    out = outputs or outputs_dir()
    try:
        result = run_flow(list(networks) or None, str(store) if store else None, str(out))
    except (ConfigError, SourceError, IngestError) as exc:
        _fail(exc)
    text = render_markdown(result)
    (Path(out) / "summary.md").write_text(text, encoding="utf-8")
    click.echo(text)
    click.echo(
        f"\nOutputs written to {Path(out).resolve()} (summary.md, summary.json, daily tables, grid, "
        "forecasts/, warnings/<city>/bulletin.html, feed.json, cap/)."
    )


@main.command()
@click.option(
    "--network", required=True, help="Network name (configs/networks/NAME.yml) or a YAML path."
)
@click.option(
    "--store", type=click.Path(path_type=Path), default=None, help="Store root (default ./store)."
)
def ingest(network: str, store: Path | None) -> None:
    """Ingest a network's sources into the station store (Prefect flow 'ingest')."""
    from pipelines.config import load_network
    from pipelines.flows import ingest_flow

    try:
        load_network(network)  # fail fast, before Prefect starts, on a bad YAML
        report = ingest_flow(network, str(store) if store else None)
    except (ConfigError, SourceError, IngestError) as exc:
        _fail(exc)
    click.echo(
        json.dumps(
            {
                k: report[k]
                for k in (
                    "network",
                    "rows_in",
                    "rows_stored",
                    "rows_quarantined",
                    "balanced",
                    "partitions_written",
                    "values_new",
                    "values_changed",
                    "quarantine_reasons",
                    "report_file",
                    "quarantine_file",
                )
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    rejected = [r for s in report["sources"] for r in s["rejected"]]
    for r in rejected:
        click.echo(f"REJECTED {r['file']}:{r['line']} {r['field']} {r['reason']}", err=True)
    if rejected:
        sys.exit(3)


@main.command()
@click.option("--network", required=True)
@click.option("--store", type=click.Path(path_type=Path), default=None)
@click.option("--outputs", type=click.Path(path_type=Path), default=None)
def assess(network: str, store: Path | None, outputs: Path | None) -> None:
    """Daily AQI (air) or GB 3838 class (water) of a stored network, written to outputs/."""
    from pipelines.flows import assess_flow

    try:
        summary = assess_flow(
            network, str(store) if store else None, str(outputs) if outputs else None
        )
    except (ConfigError, FileNotFoundError) as exc:
        _fail(exc)
    click.echo(json.dumps(summary, indent=2, ensure_ascii=False))


@main.command()
@click.option("--network", required=True)
@click.option("--variable", default="pm25", show_default=True)
@click.option("--date", "dates", multiple=True, help="Local day(s) YYYY-MM-DD (default: last day).")
@click.option(
    "--method", default="ordinary_kriging", show_default=True, help="ordinary_kriging or idw"
)
@click.option("--resolution", default=0.02, show_default=True, help="Grid spacing [degrees].")
@click.option("--out", type=click.Path(path_type=Path), default=None)
@click.option("--store", type=click.Path(path_type=Path), default=None)
def grid(
    network: str,
    variable: str,
    dates: tuple[str, ...],
    method: str,
    resolution: float,
    out: Path | None,
    store: Path | None,
) -> None:
    """Interpolate daily station means to a CF lat/lon grid netCDF for maps."""
    import pandas as pd

    from pipelines.assess import write_grid
    from pipelines.config import load_network, load_variables
    from pipelines.store import StationStore
    from qingyuan.paths import outputs_dir, store_dir

    try:
        net = load_network(network)
        st = StationStore(store or store_dir(), net, load_variables()["variables"])
        path = write_grid(
            st,
            variable,
            out or outputs_dir() / f"{net.name}_grid_{variable}.nc",
            [pd.Timestamp(d) for d in dates] or None,
            method,
            resolution,
        )
    except (ConfigError, FileNotFoundError, KeyError) as exc:
        _fail(exc)
    click.echo(str(path))


@main.command()
@click.option("--network", default="beijing", show_default=True)
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
@click.option("--store", type=click.Path(path_type=Path), default=None)
@click.option("--outputs", type=click.Path(path_type=Path), default=None)
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

    try:
        tables = backtest_flow(
            network,
            str(store) if store else None,
            list(targets) or None,
            start,
            end,
            train_end,
            str(outputs) if outputs else None,
            list(models) or None,
        )
    except (ConfigError, ValueError, KeyError, FileNotFoundError) as exc:
        _fail(exc)
    import pandas as pd

    leads = [1, 6, 12, 24, 48, 72]
    daily = tables.pop("daily", None)
    for target, table in tables.items():
        t = pd.DataFrame(table)
        t = t[t["lead"].isin(leads)]
        cols = [
            c for c in ("model", "lead", "rmse", "mae", "skill_vs_persistence", "csi") if c in t
        ]
        click.echo(f"\n{target}\n" + t[cols].round(3).to_string(index=False))
    if daily:
        d = pd.DataFrame(daily)
        cols = [
            c
            for c in (
                "model",
                "day",
                "rmse_aqi",
                "aqi_category_accuracy",
                "heavy_pod",
                "heavy_far",
                "heavy_brier",
            )
            if c in d
        ]
        click.echo("\ndaily AQI, D+1..D+3\n" + d[cols].round(3).to_string(index=False))


@main.command()
@click.option("--network", default="beijing", show_default=True)
@click.option("--store", type=click.Path(path_type=Path), default=None)
@click.option(
    "--train-end", default=None, help="Last local day of training (default: configs/forecast.yml)."
)
@click.option("--target", "targets", multiple=True)
def train(
    network: str, store: Path | None, train_end: str | None, targets: tuple[str, ...]
) -> None:
    """Train and register models (a backtest run: the champion rule needs a score)."""
    from pipelines.flows import backtest_flow

    try:
        backtest_flow(
            network, str(store) if store else None, list(targets) or None, None, None, train_end
        )
    except (ConfigError, ValueError, KeyError, FileNotFoundError) as exc:
        _fail(exc)
    click.echo("trained; see MLflow (mlruns/mlflow.db) for runs and the champion aliases")


@main.command()
@click.option("--network", default="beijing", show_default=True)
@click.option(
    "--issue-time",
    required=True,
    help="Issue time, local to the network (e.g. '2017-01-01 08:00').",
)
@click.option("--target", "targets", multiple=True)
@click.option("--store", type=click.Path(path_type=Path), default=None)
@click.option("--outputs", type=click.Path(path_type=Path), default=None)
def forecast(
    network: str,
    issue_time: str,
    targets: tuple[str, ...],
    store: Path | None,
    outputs: Path | None,
) -> None:
    """Forecast 1-72 h for every station from the champion models (CF netCDF with provenance)."""
    from pipelines.forecasting import issue_forecast
    from qingyuan.paths import outputs_dir, store_dir

    try:
        path = issue_forecast(
            network,
            store or store_dir(),
            issue_time,
            outputs or outputs_dir(),
            list(targets) or None,
        )
    except (ConfigError, ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        _fail(exc)
    click.echo(str(path))


@main.command()
@click.option("--city", default="beijing", show_default=True, help="configs/warnings/<city>.yml")
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
@click.option("--outputs", type=click.Path(path_type=Path), default=None)
@click.option(
    "--store",
    "store_root",
    type=click.Path(path_type=Path),
    default=None,
    help="Station store (water alert files read their readings from it; default: store/).",
)
@click.option(
    "--status", is_flag=True, help="Only show active warnings, ops alerts and the outbox."
)
@click.option("--deliver", is_flag=True, help="Only retry due outbox deliveries.")
def warn(
    city: str,
    forecast_path: Path | None,
    as_of: str | None,
    outputs: Path | None,
    store_root: Path | None,
    status: bool,
    deliver: bool,
) -> None:
    """Decide, persist and publish warnings (CAP 1.2, JSON, bulletin).

    Air files (heavy-pollution warnings) decide from the newest forecast; water files
    (``kind: water``, e.g. ``--city ndfa``) from the station store's latest valid readings.
    """
    from pipelines.outbox import deliver_due, outbox_status
    from pipelines.warning_store import WarningStore
    from qingyuan.paths import outputs_dir

    out = outputs or outputs_dir()
    db = Path(out) / "warnings" / "warnings.db"
    if status or deliver:
        if not db.exists():
            _fail(FileNotFoundError(f"no warning database at {db}: run `qingyuan warn` first"))
        if deliver:
            click.echo(json.dumps(deliver_due(db)))
        store = WarningStore(db)
        click.echo(
            json.dumps(
                {
                    "active": store.active(city),
                    "ops_alerts": store.ops_alerts(city)[-5:],
                    "outbox": outbox_status(db),
                },
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
        return
    from pipelines.flows import warn_flow

    try:
        res = warn_flow(
            city,
            str(out),
            str(forecast_path) if forecast_path else None,
            as_of,
            str(store_root) if store_root else None,
        )
    except (ConfigError, ValueError, KeyError, FileNotFoundError) as exc:
        _fail(exc)
    if res["ops_alert"]:
        click.echo(f"OPERATIONAL ALERT: {res['ops_alert']}", err=True)
    for area, d in res["decisions"].items():
        click.echo(f"{area}: {d['action']} {d['level'] or ''} {d['identifier'] or ''}".rstrip())
    click.echo(json.dumps(res["outputs"], indent=2))
    if res["ops_alert"]:
        sys.exit(3)


@main.command()
@click.option("--city", default="beijing", show_default=True, help="configs/warnings/<city>.yml")
@click.option("--model", default=None, help="Forecaster (default: the city file's replay.model).")
@click.option("--store", type=click.Path(path_type=Path), default=None)
@click.option("--outputs", type=click.Path(path_type=Path), default=None)
def replay(city: str, model: str | None, store: Path | None, outputs: Path | None) -> None:
    """Replay the daily warning decision over the city's test period and score the episodes."""
    from pipelines.replay import replay as run_replay
    from pipelines.warning_config import load_warning_config
    from qingyuan.paths import outputs_dir, store_dir

    try:
        _, settings = load_warning_config(city)
        if settings is None or not settings.replay:
            raise ValueError(f"{city}: no `replay:` block in its warning file")
        r = settings.replay
        res = run_replay(
            city,
            Path(store or store_dir()),
            str(r["start"]),
            str(r["end"]),
            str(r["train_end"]),
            model or r.get("model", "lightgbm"),
            int(r.get("issue_hour", 0)),
        )
    except (ConfigError, ValueError, KeyError, FileNotFoundError) as exc:
        _fail(exc)
    out = Path(outputs or outputs_dir()) / "replay"
    out.mkdir(parents=True, exist_ok=True)
    for area, table in res.tables.items():
        table.to_csv(out / f"replay_{city}_{res.model}_{area}.csv", index=False)
        click.echo(f"{area}: {json.dumps(res.summaries[area])}")
    res.log.to_csv(out / f"replay_{city}_{res.model}_log.csv", index=False)
    click.echo(f"tables in {out}")


@main.command()
@click.option("--dry-run", is_flag=True, help="List the deployments and schedules, do not serve.")
def serve(dry_run: bool) -> None:
    """Serve the scheduled runs of configs/schedules.yml (hourly, daily, weekly) until stopped."""
    from pipelines.config import load_yaml, plain
    from pipelines.flows import build_deployments
    from qingyuan.paths import config_dir

    try:
        cfg = plain(load_yaml(config_dir() / "schedules.yml"))
        deployments = build_deployments(cfg)
    except (ConfigError, KeyError, ValueError) as exc:
        _fail(exc)
    for d, spec in zip(deployments, cfg["deployments"], strict=True):
        click.echo(
            f"{d.name}: flow {spec['flow']}, cron '{spec['cron']}', {spec.get('parameters', {})}"
        )
    if dry_run:
        return
    from prefect import serve as prefect_serve

    prefect_serve(*deployments)


@main.command()
def networks() -> None:
    """List the configured networks."""
    from pipelines.config import list_networks, load_network

    for name in list_networks():
        net = load_network(name)
        click.echo(f"{name:12s} {net.kind:5s} {len(net.stations):4d} stations  {net.title}")


@main.command()
@click.argument("network")
def validate(network: str) -> None:
    """Validate a network YAML (name or path) without ingesting."""
    from pipelines.config import load_network

    try:
        net = load_network(network)
    except ConfigError as exc:
        _fail(exc)
    click.echo(f"ok: {net.name}: {len(net.stations)} stations, {len(net.sources)} source(s)")


if __name__ == "__main__":  # pragma: no cover
    main()
