"""Prefect flows: thin wrappers that add retries, logging and persistence to the plain functions.

- ``ingest``: read each source (retried with backoff), normalise, QC, upsert, report.
- ``assess``: daily AQI (air) or water class (water) and the network summary.
- ``run``: the embedded main job on the bundled networks (ingest -> QC -> store -> assess ->
  outputs/), extended by later issues with forecasts and warnings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from pipelines import assess as assess_mod
from pipelines.config import load_network
from pipelines.ingest import ingest, read_source
from pipelines.sources.base import RawBatch
from pipelines.store import StationStore
from qingyuan.paths import outputs_dir, store_dir

__all__ = ["assess_flow", "backtest_flow", "forecast_flow", "ingest_flow", "run_flow"]


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
    root = store_root or str(store_dir())
    batches = [read_source_task(network, i) for i in range(len(net.sources))]
    return store_task(network, batches, root)


@task(name="assess")
def assess_task(network: str, store_root: str, out_dir: str) -> dict[str, Any]:
    """Assess a network and write its daily table, a grid and its summary."""
    net = load_network(network)
    from pipelines.config import load_variables

    store = StationStore(Path(store_root), net, load_variables()["variables"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if net.kind == "air":
        assessed = assess_mod.assess_air(store)
        table = assessed[["aqi", "category", "primary_pollutant", "over_standard"]].to_dataframe()
        table.to_csv(out / f"{net.name}_daily_aqi.csv")
        assessed.to_netcdf(out / f"{net.name}_daily_aqi.nc")
        grid = assess_mod.write_grid(store, "pm25", out / f"{net.name}_grid_pm25.nc")
    else:
        assessed = assess_mod.assess_water(store)
        assessed[["water_class", "determining"]].to_dataframe().to_csv(
            out / f"{net.name}_daily_class.csv"
        )
        assessed.to_netcdf(out / f"{net.name}_daily_class.nc")
        grid = None
    summary = assess_mod.network_summary(store, assessed)
    if net.kind == "water":
        from pipelines.config.rivers import list_rivers, load_river_network

        river = load_river_network(net.name) if net.name in list_rivers() else None
        weekly, rating = assess_mod.water_compliance(store, river)
        weekly.to_csv(out / f"{net.name}_weekly_class.csv", index=False)
        rating.to_csv(out / f"{net.name}_river_rating.csv", index=False)
        judged = weekly.dropna(subset=["complies"])
        summary["weekly_compliance_percent"] = {
            s: round(100.0 * float(g["complies"].astype(bool).mean()), 1)
            for s, g in judged.groupby("section")
        }
        rated = rating.dropna(subset=["rating"])
        summary["river_rating"] = {
            "weeks_rated": int(len(rated)),
            "by_rating": {k: int(v) for k, v in rated["rating"].value_counts().items()},
            "last_week": rated.iloc[-1].to_dict() if len(rated) else None,
            "file": str(out / f"{net.name}_river_rating.csv"),
        }
        summary["weekly_class_file"] = str(out / f"{net.name}_weekly_class.csv")
    if grid:
        summary["grid_file"] = str(grid)
    return summary


@flow(name="assess")
def assess_flow(
    network: str, store_root: str | None = None, out_dir: str | None = None
) -> dict[str, Any]:
    """Assess a stored network (daily AQI or water class) and write outputs."""
    return assess_task(network, store_root or str(store_dir()), out_dir or str(outputs_dir()))


@task(name="train-or-reuse-and-forecast")
def forecast_task(network: str, store_root: str, out_dir: str) -> dict[str, Any] | None:
    """Train the configured targets when no champion exists yet, then forecast from the last data."""
    import mlflow
    import numpy as np
    import pandas as pd
    import xarray as xr

    from models import tracking
    from pipelines.forecast.jobs import backtest_network, forecast_config, issue_forecast
    from qingyuan.paths import project_root

    cfg = forecast_config(network)
    run_cfg = (cfg.get("run") or {}).get(network)
    if not run_cfg or not run_cfg.get("targets"):
        return None  # nothing to forecast for this network in `qingyuan run`
    tracking.configure(project_root(), cfg["mlflow"])
    client = mlflow.MlflowClient()
    missing = []
    for target in run_cfg["targets"]:
        try:
            client.get_model_version_by_alias(f"{network}-{target}", "champion")
        except mlflow.exceptions.MlflowException:
            missing.append(target)
    log = get_run_logger()
    if missing:
        log.info("no champion for %s: training (backtest split of configs/forecast.yml)", missing)
        backtest_network(
            network,
            Path(store_root),
            missing,
            models=run_cfg.get("models"),
            out_dir=Path(out_dir) / "backtest",
        )
    net = load_network(network)
    from pipelines.config import load_variables

    ds = StationStore(Path(store_root), net, load_variables()["variables"]).open(
        variables=run_cfg["targets"]
    )
    has = np.isfinite(ds[run_cfg["targets"][0]].values).any(axis=0)
    last_utc = pd.Timestamp(ds["time"].values[has][-1])
    issue_local = last_utc.tz_localize("UTC").tz_convert(net.time_zone).tz_localize(None)
    path = issue_forecast(
        network, Path(store_root), str(issue_local), Path(out_dir), run_cfg["targets"]
    )
    out: dict[str, Any] = {
        "file": str(path),
        "issue_time_local": str(issue_local),
        "trained": missing,
    }
    with xr.open_dataset(path) as f:
        out["model_uris"] = f.attrs["model_uris"]
        for target in run_cfg["targets"]:
            q = f[f"{target}_quantile"].isel(issue_time=0)
            daily = {}
            for d in range(3):
                sl = q.isel(lead_time=slice(24 * d, 24 * (d + 1)))
                daily[f"D+{d + 1}"] = {
                    "p50_mean": round(float(sl.sel(quantile=0.5).mean()), 1),
                    "p90_station_max": round(
                        float(sl.sel(quantile=0.9).mean("lead_time").max()), 1
                    ),
                }
            out[target] = daily
    return out


def _cities_of(network: str) -> list[str]:
    """Operational city warning files (``configs/warnings``) that watch a network."""
    from pipelines.config.warnings import list_warning_configs, load_warning_config

    out = []
    for name in list_warning_configs():
        _, city = load_warning_config(name)
        if city is not None and city.network == network and city.operational:
            out.append(name)
    return out


@task(name="warn", retries=1, retry_delay_seconds=10)
def warn_task(
    city: str,
    out_dir: str,
    forecast_path: str | None = None,
    now: str | None = None,
    cap_status: str | None = None,
    store_root: str | None = None,
) -> dict[str, Any]:
    """Decide, persist and publish one warning file's alerts.

    Air files decide from the newest forecast file; water files (``kind: water``) from the
    station store's QC-valid readings up to ``now``.
    """
    import pandas as pd

    from pipelines.config.warnings import load_warning_config
    from pipelines.warnings.job import run_warnings

    scheme, _ = load_warning_config(city)
    if scheme.kind == "water":
        from pipelines.warnings.water import run_water_alerts

        rep = run_water_alerts(
            city,
            Path(out_dir),
            Path(store_root or store_dir()),
            pd.Timestamp(now) if now else None,
            cap_status=cap_status,
        )
    else:
        rep = run_warnings(
            city,
            Path(out_dir),
            Path(forecast_path) if forecast_path else None,
            pd.Timestamp(now) if now else None,
            cap_status=cap_status,
        )
    return warn_result(city, rep)


def warn_result(city: str, rep: Any) -> dict[str, Any]:
    """Plain summary of a :class:`pipelines.warnings.job.WarnReport`."""
    return {
        "city": city,
        "issue_time": str(rep.issue_time),
        "ops_alert": rep.ops_alert,
        "decisions": {
            a.area: {"action": a.action, "level": a.level, "identifier": a.identifier}
            for a in rep.applied
        },
        "outlook": {area: [round(float(x)) for x in o.median] for area, o in rep.outlooks.items()},
        "p_heavy": {
            area: [round(p, 2) for p in d.day_probability]
            for area, d in rep.decisions.items()
            if d.day_probability
        },
        "outputs": rep.outputs,
        "delivery": rep.delivery,
    }


@flow(name="warn", log_prints=True)
def warn_flow(
    city: str,
    out_dir: str | None = None,
    forecast_path: str | None = None,
    now: str | None = None,
    store_root: str | None = None,
) -> dict[str, Any]:
    """Warning decision of one warning file (``configs/warnings/<city>.yml``, air or water)."""
    return warn_task(city, out_dir or str(outputs_dir()), forecast_path, now, None, store_root)


def water_alerts_task(
    network: str, store_root: str, out_dir: str, cities: list[str]
) -> dict[str, Any]:
    """Water alert job on the bundled (historic) data: a drill over the record, then the latest.

    ``run.<network>.water_drill: {start, every_hours}`` in ``configs/forecast.yml`` runs the alert
    job at those times up to the end of the data, as the scheduler would have; the CAP status is
    ``run.<network>.cap_status``.
    """
    from pipelines.forecast.jobs import forecast_config
    from pipelines.warnings.water import water_drill

    run_cfg = (forecast_config().get("run") or {}).get(network, {})
    drill = run_cfg.get("water_drill") or {}
    out: dict[str, Any] = {}
    for city in cities:
        rep, history = water_drill(
            city,
            Path(out_dir),
            Path(store_root),
            str(drill.get("start", "1900-01-01")),
            str(drill.get("end", "2262-01-01")),
            float(drill.get("every_hours", 24)),
            run_cfg.get("cap_status"),
        )
        res = warn_result(city, rep)
        res["history"] = history
        out[city] = res
    return out


def drill_and_warn(
    network: str, store_root: str, out_dir: str, latest: dict[str, Any], cities: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Warning job on the bundled (historic) data: a drill window of daily runs, then the latest.

    With ``run.<network>.drill: {city, start, end}`` in ``configs/forecast.yml`` the daily
    00:00-local forecast and the warning decision of the drill city run for each local day of that
    window first, as the scheduler would have run them (a drill on historic data); then the latest
    forecast is decided for the operational cities. "Now" is each forecast's issue time; the CAP
    status of the run's messages is ``run.<network>.cap_status`` when set.
    """
    import pandas as pd

    from pipelines.forecast.jobs import forecast_config, issue_forecast

    run_cfg = (forecast_config().get("run") or {}).get(network, {})
    tz = load_network(network).time_zone
    status = run_cfg.get("cap_status")
    latest_local = pd.Timestamp(latest["issue_time_local"])
    steps: list[tuple[str, pd.Timestamp, list[str]]] = []
    drill = run_cfg.get("drill") or {}
    if drill:
        for day in pd.date_range(str(drill["start"]), str(drill["end"]), freq="D"):
            if day >= latest_local:
                break
            path = issue_forecast(
                network, Path(store_root), str(day), Path(out_dir), run_cfg["targets"]
            )
            steps.append((str(path), day, [drill.get("city", cities[0])]))
    steps.append((latest["file"], latest_local, cities))
    results, history = [], []
    for path, local, step_cities in steps:
        now = local.tz_localize(tz).tz_convert("UTC").tz_localize(None)
        for city in step_cities:
            res = warn_task(city, out_dir, path, str(now), status)
            if local == latest_local:
                results.append(res)
            for area, d in res["decisions"].items():
                if d["action"] not in ("none", "hold"):
                    history.append(
                        {
                            "issue_local": f"{local:%Y-%m-%d %H:%M}",
                            "city": city,
                            "area": area,
                            **d,
                            "bulletin": res["outputs"].get("bulletin"),
                            "cap_dir": res["outputs"].get("cap_dir"),
                        }
                    )
    return results, history


@flow(name="run", log_prints=True)
def run_flow(
    networks: list[str] | None = None, store_root: str | None = None, out_dir: str | None = None
) -> dict[str, Any]:
    """Run the main job on the bundled data.

    Ingest -> QC -> store -> assess -> forecast -> warn (air) / water alerts (water) -> source
    tracing (polar plots, CPF, trajectories) -> the PMF worked example -> ``outputs/``.
    """
    networks = networks or ["beijing", "ndfa"]
    root = store_root or str(store_dir())
    out = out_dir or str(outputs_dir())
    result: dict[str, Any] = {"networks": {}}
    for name in networks:
        report = ingest_flow(name, root)
        summary = assess_task(name, root, out)
        summary["ingest"] = {
            k: report[k]
            for k in (
                "rows_in",
                "rows_stored",
                "rows_quarantined",
                "balanced",
                "report_file",
                "quarantine_file",
            )
        }
        cities = _cities_of(name)
        if summary.get("kind", load_network(name).kind) == "water" and cities:
            summary["water_alerts"] = water_alerts_task(name, root, out, cities)
        fc = forecast_task(name, root, out)
        if fc:
            summary["forecast"] = fc
            if cities and load_network(name).kind == "air":
                summary["warnings"], summary["warning_history"] = drill_and_warn(
                    name, root, out, fc, cities
                )
        src = source_task(name, root, out)
        if src:
            summary["source_tracing"] = src
        result["networks"][name] = summary
    pmf = pmf_demo(out)
    if pmf:
        result["pmf_demo"] = {
            k: pmf[k]
            for k in (
                "inputs",
                "q_true",
                "q_robust",
                "q_exp",
                "runs_converged",
                "dropped_species",
                "bootstrap",
                "seconds",
                "mlflow_run_id",
            )
            if k in pmf
        } | {"outputs": str(Path(pmf["files"]["profiles_concentration"]).parent)}
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "summary.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return result


def source_config() -> dict[str, Any]:
    """``configs/source.yml`` as a plain dict."""
    from pipelines.config import load_yaml, plain
    from qingyuan.paths import config_dir

    path = config_dir() / "source.yml"
    return plain(load_yaml(path)) if path.exists() else {}


@task(name="source-tracing", retries=0)
def source_task(network: str, store_root: str, out_dir: str) -> dict[str, Any] | None:
    """Polar plots / CPF per station and back-trajectory PSCF / CWT maps (``configs/source.yml``)."""
    import pandas as pd

    from pipelines.tracing.air import polar_job, trajectory_job

    cfg = (source_config().get("run") or {}).get(network)
    if not cfg:
        return None
    ds = StationStore(Path(store_root), load_network(network), _registry()).open(
        variables=[cfg.get("variable", "pm25")]
    )
    end = pd.Timestamp(ds["time"].values[-1])
    start = str(end - pd.Timedelta(days=int(cfg.get("last_days", 365))))
    var = cfg.get("variable", "pm25")
    pct = float(cfg.get("percentile", 75))
    polar = polar_job(network, Path(store_root), Path(out_dir), var, None, start, str(end), pct)
    traj = trajectory_job(
        network,
        Path(store_root),
        Path(out_dir),
        var,
        start,
        str(end),
        float(cfg.get("trajectory_hours", 48)),
        int(cfg.get("every_hours", 3)),
        float(cfg.get("cell_deg", 0.25)),
        pct,
    )
    return {"period_utc": [start, str(end)], "polar": polar, "trajectory": traj}


def _registry() -> dict[str, Any]:
    from pipelines.config import load_variables

    return load_variables()["variables"]


@task(name="pmf", retries=0)
def pmf_task(
    concentration: str, uncertainty: str, factors: int, out: str, **options: Any
) -> dict[str, Any]:
    """PMF on a pair of files (:func:`pipelines.tracing.pmf.run_pmf`)."""
    from pipelines.tracing.pmf import run_pmf

    return run_pmf(Path(concentration), Path(uncertainty), factors, Path(out), **options)


@flow(name="pmf", log_prints=True)
def pmf_flow(
    concentration: str, uncertainty: str, factors: int, out: str | None = None, starts: int = 20
) -> dict[str, Any]:
    """PMF receptor model with bootstrap, outputs and an MLflow run."""
    out = out or str(outputs_dir() / "pmf" / f"{Path(concentration).name.split('.')[0]}_f{factors}")
    return pmf_task(concentration, uncertainty, factors, out, starts=starts)


@flow(name="source-tracing", log_prints=True)
def source_flow(
    network: str, store_root: str | None = None, out_dir: str | None = None
) -> dict[str, Any] | None:
    """Polar plots / CPF and trajectory maps of a network (``configs/source.yml``)."""
    return source_task(network, store_root or str(store_dir()), out_dir or str(outputs_dir()))


def pmf_demo(out_dir: str) -> dict[str, Any] | None:
    """Run the PMF worked example of ``configs/source.yml: pmf_demo`` (bundled EPA PMF5 data)."""
    from qingyuan.paths import project_root

    cfg = source_config().get("pmf_demo")
    if not cfg:
        return None
    root = project_root()
    out = (
        Path(out_dir) / "pmf" / f"{Path(cfg['concentration']).name.split('.')[0]}_f{cfg['factors']}"
    )
    return pmf_task(
        str(root / cfg["concentration"]),
        str(root / cfg["uncertainty"]),
        int(cfg["factors"]),
        str(out),
        starts=int(cfg.get("starts", 20)),
        total=cfg.get("total"),
        bootstrap_n=int(cfg.get("bootstrap", 20)),
    )


@flow(name="backtest")
def backtest_flow(
    network: str,
    store_root: str | None = None,
    targets: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    train_end: str | None = None,
    out_dir: str | None = None,
    models: list[str] | None = None,
) -> dict[str, Any]:
    """Train on the training period, backtest on the test period, log to MLflow, promote champions.

    Returns the per-lead tables by target and, under ``"daily"``, the D+1..D+3 daily scores.
    """
    from pipelines.forecast.jobs import backtest_network

    res = backtest_network(
        network,
        Path(store_root or store_dir()),
        targets,
        start,
        end,
        train_end,
        models=models,
        out_dir=Path(out_dir or outputs_dir()) / "backtest",
    )
    out: dict[str, Any] = {t: r.table.to_dict(orient="list") for t, r in res.items()}
    first = next(iter(res.values()), None)
    if first is not None and first.daily is not None:
        out["daily"] = first.daily.to_dict(orient="list")
    return out


@flow(name="forecast", retries=1, retry_delay_seconds=30)
def forecast_flow(
    network: str,
    issue_time: str,
    store_root: str | None = None,
    out_dir: str | None = None,
    targets: list[str] | None = None,
) -> str:
    """Issue a forecast from the champion models and archive it."""
    from pipelines.forecast.jobs import issue_forecast

    return str(
        issue_forecast(
            network,
            Path(store_root or store_dir()),
            issue_time,
            Path(out_dir or outputs_dir()),
            targets,
        )
    )


@flow(name="hourly", retries=2, retry_delay_seconds=120, log_prints=True)
def hourly_flow(network: str, store_root: str | None = None, out_dir: str | None = None) -> dict:
    """Scheduled hourly job: ingest new observations, then forecast from the champions."""
    root = store_root or str(store_dir())
    out = out_dir or str(outputs_dir())
    report = ingest_flow(network, root)
    return {"ingest": report, "forecast": forecast_task(network, root, out)}


@flow(name="deliver", log_prints=True)
def deliver_flow(city: str, out_dir: str | None = None) -> dict[str, int]:
    """Scheduled outbox pass: retry due webhook deliveries of a city's warning messages."""
    from pipelines.config.warnings import load_warning_config
    from pipelines.warnings.job import deliver_city

    _, settings = load_warning_config(city)
    db = Path(out_dir or outputs_dir()) / "warnings" / "warnings.db"
    if not db.exists():
        return {"delivered": 0, "failed": 0, "dead": 0}
    return deliver_city(db, settings)


@flow(name="retrain", retries=1, retry_delay_seconds=600, log_prints=True)
def retrain_flow(
    network: str, test_days: int = 60, store_root: str | None = None, out_dir: str | None = None
) -> dict[str, Any]:
    """Scheduled retraining: challengers trained on all data but the last ``test_days``.

    They are backtested on those days against the champion (re-scored on the same window) and
    the champion alias moves only by the rule of ``configs/forecast.yml``.
    """
    import pandas as pd

    from pipelines.forecast.jobs import backtest_network, load_panel

    root = Path(store_root or store_dir())
    panel = load_panel(network, root)
    tz = load_network(network).time_zone
    last = panel.times[-1].tz_localize("UTC").tz_convert(tz).tz_localize(None).normalize()
    start = last - pd.Timedelta(days=test_days)
    res = backtest_network(
        network,
        root,
        start=str(start.date()),
        end=str(last.date()),
        train_end=str((start - pd.Timedelta(days=1)).date()),
        out_dir=Path(out_dir or outputs_dir()) / "retrain",
    )
    return {t: r.window for t, r in res.items()}


FLOWS = {
    "hourly": hourly_flow,
    "warn": warn_flow,
    "deliver": deliver_flow,
    "retrain": retrain_flow,
    "run": run_flow,
    "backtest": backtest_flow,
    "forecast": forecast_flow,
    "pmf": pmf_flow,
    "source-tracing": source_flow,
}


def build_deployments(cfg: dict[str, Any]) -> list:
    """Prefect deployments from ``configs/schedules.yml`` (served by ``qingyuan serve``)."""
    from prefect.schedules import Cron

    out = []
    tz = cfg.get("time_zone", "UTC")
    for d in cfg["deployments"]:
        if d["flow"] not in FLOWS:
            raise KeyError(f"schedules: unknown flow {d['flow']!r}; known: {sorted(FLOWS)}")
        out.append(
            FLOWS[d["flow"]].to_deployment(
                name=d["name"],
                schedules=[Cron(d["cron"], timezone=d.get("time_zone", tz))],
                parameters=d.get("parameters", {}),
                tags=["qingyuan", d["flow"]],
                description=d.get("description"),
            )
        )
    return out
