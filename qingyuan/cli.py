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
    from qingyuan.summary import render_markdown

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

    from pipelines.forecast.jobs import forecast_config

    leads = forecast_config(network).get("report_leads", [1, 6, 12, 24, 48, 72])
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
    from pipelines.forecast.jobs import issue_forecast
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
    from pipelines.warnings.outbox import deliver_due, outbox_status
    from pipelines.warnings.store import WarningStore
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
    from pipelines.config.warnings import load_warning_config
    from pipelines.warnings.replay import replay as run_replay
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


@main.group()
def attribute() -> None:
    """Source tracing: PMF receptor model, polar plots / CPF, trajectories, forecast drivers."""


@attribute.command("pmf")
@click.option(
    "--conc",
    "concentration",
    type=click.Path(path_type=Path),
    required=True,
    help="Concentration file (PMF5/ESAT layout: Date column + species; CSV or TAB; .xz ok).",
)
@click.option(
    "--unc",
    "uncertainty",
    type=click.Path(path_type=Path),
    required=True,
    help="Uncertainty file, same samples and species.",
)
@click.option("--factors", type=int, required=True)
@click.option("--starts", type=int, default=20, show_default=True, help="Random starts.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--robust/--no-robust",
    default=True,
    show_default=True,
    help="Robust fitting (PMF5's default): cells beyond 4 scaled residuals down-weighted.",
)
@click.option("--total", default=None, help="Total variable (set weak; factor shares reported).")
@click.option(
    "--category",
    "category",
    multiple=True,
    help="SPECIES=strong|weak|bad (repeatable); others follow their S/N.",
)
@click.option("--no-auto-categories", is_flag=True, help="Species not named stay strong.")
@click.option("--extra-uncertainty", type=float, default=0.0, show_default=True, help="[%]")
@click.option("--bootstrap", "bootstrap_n", type=int, default=20, show_default=True)
@click.option("--disp", is_flag=True, help="Displacement error estimate (minutes for 40 species).")
@click.option(
    "--fpeak",
    "fpeak_strengths",
    type=float,
    multiple=True,
    help="Fpeak-style rotation strength (repeatable), e.g. --fpeak -0.1 --fpeak 0.1.",
)
@click.option(
    "--nonpositive-uncertainty",
    type=click.Choice(["error", "floor"]),
    default="error",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (default: outputs/pmf/<conc file stem>_f<factors>).",
)
def attribute_pmf(
    concentration: Path,
    uncertainty: Path,
    factors: int,
    starts: int,
    seed: int,
    robust: bool,
    total: str | None,
    category: tuple[str, ...],
    no_auto_categories: bool,
    extra_uncertainty: float,
    bootstrap_n: int,
    disp: bool,
    fpeak_strengths: tuple[float, ...],
    nonpositive_uncertainty: str,
    out: Path | None,
) -> None:
    """Positive matrix factorisation with uncertainties, error estimates and PMF5-style outputs."""
    from pipelines.tracing.pmf import run_pmf
    from qingyuan.paths import outputs_dir

    cats = {}
    for c in category:
        if "=" not in c or c.split("=", 1)[1] not in ("strong", "weak", "bad"):
            _fail(ValueError(f"--category {c!r}: write SPECIES=strong|weak|bad"))
        k, v = c.split("=", 1)
        cats[k] = v
    stem = concentration.name.split(".")[0]
    out = out or outputs_dir() / "pmf" / f"{stem}_f{factors}"
    try:
        s = run_pmf(
            concentration,
            uncertainty,
            factors,
            out,
            starts,
            seed,
            robust,
            cats,
            not no_auto_categories,
            total,
            extra_uncertainty,
            bootstrap_n,
            disp,
            fpeak_strengths,
            nonpositive_uncertainty,
        )
    except (SourceError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    click.echo(
        f"PMF {factors} factors, {starts} starts ({s['runs_converged']} converged): "
        f"Q(true) {s['q_true']:,.1f}, Q(robust) {s['q_robust']:,.1f}, Q_exp {s['q_exp']:,.0f} "
        f"(Q/Q_exp {s['q_true_over_q_exp']:.2f}); {s['seconds']} s"
    )
    if s["dropped_species"]:
        click.echo(f"bad species left out: {', '.join(s['dropped_species'])}")
    if "bootstrap" in s:
        click.echo(f"bootstrap mapping [%] per factor: {s['bootstrap']['mapped_percent']}")
    click.echo(f"outputs: {out}  (MLflow run {s.get('mlflow_run_id')})")


@attribute.command("polar")
@click.option("--network", default="beijing", show_default=True)
@click.option("--variable", default="pm25", show_default=True)
@click.option("--station", "stations", multiple=True, help="Station id (repeatable; default: all).")
@click.option("--start", default=None, help="UTC start (default: all data).")
@click.option("--end", default=None)
@click.option(
    "--percentile", type=float, default=75.0, show_default=True, help="CPF threshold [%]."
)
@click.option(
    "--contributions",
    type=click.Path(path_type=Path),
    default=None,
    help="PMF contributions CSV (time index, one column per factor) instead of --variable.",
)
@click.option("--store", type=click.Path(path_type=Path), default=None)
@click.option("--outputs", type=click.Path(path_type=Path), default=None)
def attribute_polar(
    network: str,
    variable: str,
    stations: tuple[str, ...],
    start: str | None,
    end: str | None,
    percentile: float,
    contributions: Path | None,
    store: Path | None,
    outputs: Path | None,
) -> None:
    """Bivariate polar plots (NWR mean, CPF), percentile rose and clusters per station."""
    import pandas as pd

    from pipelines.tracing.air import polar_job
    from qingyuan.paths import outputs_dir, store_dir

    series = None
    if contributions is not None:
        series = pd.read_csv(contributions, index_col=0)
        try:
            series.index = pd.DatetimeIndex(pd.to_datetime(series.index, format="mixed"))
        except (ValueError, TypeError) as exc:
            _fail(ValueError(f"{contributions}: first column must be times ({exc})"))
    try:
        res = polar_job(
            network,
            store or store_dir(),
            outputs or outputs_dir(),
            variable,
            list(stations) or None,
            start,
            end,
            percentile,
            series,
        )
    except (ValueError, KeyError, FileNotFoundError) as exc:
        _fail(exc)
    for sid, d in res["stations"].items():
        for name, r in d.items():
            click.echo(
                f"{sid} {name}: CPF (> {r['cpf_threshold']:.1f}) peaks from {r['cpf_peak_direction_deg']:.0f} deg "
                f"at {r['cpf_peak_speed_m_s']:.1f} m/s (P = {r['cpf_peak']:.2f}); {r['figure']}"
            )


@attribute.command("trajectory")
@click.option("--network", default="beijing", show_default=True)
@click.option("--variable", default="pm25", show_default=True)
@click.option("--start", default=None)
@click.option("--end", default=None)
@click.option(
    "--hours", type=float, default=48.0, show_default=True, help="Back-trajectory length [h]."
)
@click.option(
    "--every", "every_hours", type=int, default=3, show_default=True, help="Arrival every N h."
)
@click.option(
    "--cell", "cell_deg", type=float, default=0.25, show_default=True, help="Grid cell [degree]."
)
@click.option(
    "--wind",
    "wind_netcdf",
    type=click.Path(path_type=Path),
    default=None,
    help="CF netCDF with eastward_wind / northward_wind (default: station winds).",
)
@click.option("--store", type=click.Path(path_type=Path), default=None)
@click.option("--outputs", type=click.Path(path_type=Path), default=None)
def attribute_trajectory(
    network: str,
    variable: str,
    start: str | None,
    end: str | None,
    hours: float,
    every_hours: int,
    cell_deg: float,
    wind_netcdf: Path | None,
    store: Path | None,
    outputs: Path | None,
) -> None:
    """Back-trajectories and PSCF / CWT maps of the network-mean concentration."""
    from pipelines.tracing.air import trajectory_job
    from qingyuan.paths import outputs_dir, store_dir

    try:
        res = trajectory_job(
            network,
            store or store_dir(),
            outputs or outputs_dir(),
            variable,
            start,
            end,
            hours,
            every_hours,
            cell_deg,
            75.0,
            wind_netcdf,
        )
    except (ValueError, KeyError, FileNotFoundError, OSError) as exc:
        _fail(exc)
    click.echo(
        f"{res['trajectories']} trajectories ({res['wind_field']}); PSCF peak {res['pscf_peak_lat_lon']}, "
        f"CWT peak {res['cwt_peak_lat_lon']}; {res['figure']}"
    )


@attribute.command("drivers")
@click.option(
    "--forecast",
    "forecast_path",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="A forecast file (outputs/forecasts/<network>/...nc).",
)
@click.option("--target", default="pm25", show_default=True)
@click.option("--station", "stations", multiple=True, help="Station ids (default: all).")
@click.option("--hours", default="1-72", show_default=True, help="Lead hours, e.g. 25-48.")
def attribute_drivers(
    forecast_path: Path, target: str, stations: tuple[str, ...], hours: str
) -> None:
    """Driver shares (local, meteorology, regional, calendar) of a forecast, from its file."""
    import numpy as np
    import xarray as xr

    from models.forecast.drivers import summarise_drivers

    with xr.open_dataset(forecast_path) as ds:
        var = f"{target}_drivers"
        if var not in ds:
            _fail(ValueError(f"{forecast_path}: no {var} (the model gave no attribution)"))
        try:
            lo, hi = (int(x) for x in hours.split("-"))
        except ValueError:
            _fail(ValueError(f"--hours {hours!r}: write FIRST-LAST, e.g. 25-48"))
        ids = [str(s) for s in ds["station"].values]
        sel = [ids.index(s) for s in stations if s in ids] if stations else list(range(len(ids)))
        leads = ds["lead_time"].values
        vals = ds[var].values[sel, 0][:, (leads >= lo) & (leads <= hi)]
        click.echo(
            f"{target}, leads {lo}-{hi} h, {len(sel)} station(s), vs climatology "
            f"({ds[var].attrs.get('model_uri', '')}):"
        )
        for g in summarise_drivers(np.asarray(vals)):
            click.echo(f"  {g['names']['en']:<40} {g['contribution']:+8.1f}  {g['share']:.0%}")


@main.group()
def water() -> None:
    """Water networks: river topology, weekly class and compliance, upstream tracing."""


@water.command("network")
@click.option("--river", default="ndfa", show_default=True, help="configs/rivers/<river>.yml")
def water_network(river: str) -> None:
    """Show a river network: sections, links, distances, travel times, target classes."""
    from pipelines.config.rivers import load_river_network

    try:
        rn = load_river_network(river)
    except (ConfigError, ValueError) as exc:
        _fail(exc)
    click.echo(f"{rn.name}: {len(rn.sections)} sections, outlet(s) {rn.outlets()}")
    for s in rn.sections.values():
        click.echo(
            f"  {s.id:<8} {s.river:<20} -> {s.downstream or '(outlet)':<8} "
            f"{s.distance_km:6.1f} km {s.travel_time_h:6.1f} h  target {s.target_class or '-'}"
        )


@water.command("assess")
@click.option("--network", default="ndfa", show_default=True)
@click.option("--river", default=None, help="River file with target classes (default: same name).")
@click.option("--store", type=click.Path(path_type=Path), default=None)
@click.option("--outputs", type=click.Path(path_type=Path), default=None)
def water_assess(network: str, river: str | None, store: Path | None, outputs: Path | None) -> None:
    """Weekly GB 3838 class per section, compliance with the target, whole-river rating."""
    from pipelines import assess as assess_mod
    from pipelines.config import load_network, load_variables
    from pipelines.config.rivers import list_rivers, load_river_network
    from pipelines.store import StationStore
    from qingyuan.paths import outputs_dir, store_dir

    try:
        net = load_network(network)
        name = river or (network if network in list_rivers() else None)
        rn = load_river_network(name) if name else None
        st = StationStore(Path(store or store_dir()), net, load_variables()["variables"])
        weekly, rating = assess_mod.water_compliance(st, rn)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    out = Path(outputs or outputs_dir())
    out.mkdir(parents=True, exist_ok=True)
    weekly.to_csv(out / f"{net.name}_weekly_class.csv", index=False)
    rating.to_csv(out / f"{net.name}_river_rating.csv", index=False)
    judged = weekly.dropna(subset=["complies"])
    for sec, g in judged.groupby("section"):
        click.echo(
            f"  {sec:<10} weeks meeting target: {g['complies'].astype(bool).mean():.0%} ({len(g)} weeks)"
        )
    click.echo(rating.dropna(subset=["rating"]).tail(6).to_string(index=False))
    click.echo(
        f"tables: {out / (net.name + '_weekly_class.csv')}, {out / (net.name + '_river_rating.csv')}"
    )


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
@click.option("--store", type=click.Path(path_type=Path), default=None)
@click.option("--outputs", type=click.Path(path_type=Path), default=None)
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

    try:
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
    except (ConfigError, ValueError, KeyError, FileNotFoundError) as exc:
        _fail(exc)
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
