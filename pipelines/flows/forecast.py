"""Flows ``backtest``, ``forecast``, ``hourly`` and ``retrain``, and the run's forecast task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from features.times import to_local
from pipelines.config import load_network, load_variables
from pipelines.flows.ingest import ingest_flow
from pipelines.flows.paths import default_outputs, default_store, project_root
from pipelines.store import StationStore

__all__ = ["backtest_flow", "forecast_flow", "forecast_task", "hourly_flow", "retrain_flow"]


@task(name="train-or-reuse-and-forecast")
def forecast_task(
    network: str, store_root: str, out_dir: str, cluster: str | None = None
) -> dict[str, Any] | None:
    """Train the configured targets when no champion exists yet, then forecast from the last data.

    With ``cluster`` (a scheduler address) the targets are forecast as Dask tasks
    (:func:`pipelines.engine.forecast`).
    """
    import mlflow
    import numpy as np
    import pandas as pd

    from models import tracking
    from models.forecast.outlook import daily_outlook
    from pipelines.forecast.files import open_forecast
    from pipelines.forecast.jobs import backtest_network, forecast_config, issue_forecast

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
    ds = StationStore(Path(store_root), net, load_variables()["variables"]).open(
        variables=run_cfg["targets"]
    )
    has = np.isfinite(ds[run_cfg["targets"][0]].values).any(axis=0)
    last_utc = pd.Timestamp(ds["time"].values[has][-1])
    issue_local = to_local(last_utc, net.time_zone)
    if cluster:
        from pipelines import engine

        with engine.client(cluster) as c:
            path = engine.forecast(
                network,
                Path(store_root),
                str(issue_local),
                Path(out_dir),
                run_cfg["targets"],
                client=c,
            )
    else:
        path = issue_forecast(
            network, Path(store_root), str(issue_local), Path(out_dir), run_cfg["targets"]
        )
    out: dict[str, Any] = {
        "file": str(path),
        "issue_time_local": str(issue_local),
        "trained": missing,
    }
    f = open_forecast(path, variables=[f"{t}_quantile" for t in run_cfg["targets"]])
    out["model_uris"] = f.attrs["model_uris"]
    import json

    try:  # target -> NWP feed state; absent without a feed; malformed text is kept as is
        out["weather_forecast"] = json.loads(f.attrs.get("weather_forecast", "{}"))
    except (TypeError, ValueError):
        out["weather_forecast"] = str(f.attrs.get("weather_forecast"))
    for target in run_cfg["targets"]:
        out[target] = daily_outlook(f[f"{target}_quantile"].isel(issue_time=0))
    return out


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

    Returns the per-lead tables by target and, under ``"daily"``, the D+1..D+3 daily scores,
    under ``"daily_targets"`` the pollutants their AQI was built from, and under ``"failed"``
    target -> model -> error of the models that failed.
    """
    from pipelines.forecast.jobs import backtest_network

    res = backtest_network(
        network,
        Path(default_store(store_root)),
        targets,
        start,
        end,
        train_end,
        models=models,
        out_dir=Path(default_outputs(out_dir)) / "backtest",
    )
    out: dict[str, Any] = {t: r.table.to_dict(orient="list") for t, r in res.items()}
    first = next(iter(res.values()), None)
    if first is not None and first.daily is not None:
        out["daily"] = first.daily.to_dict(orient="list")
        out["daily_targets"] = sorted(res)
    failed = {t: r.failed for t, r in res.items() if r.failed}
    if failed:
        out["failed"] = failed
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
            Path(default_store(store_root)),
            issue_time,
            Path(default_outputs(out_dir)),
            targets,
        )
    )


@flow(name="hourly", retries=2, retry_delay_seconds=120, log_prints=True)
def hourly_flow(
    network: str,
    store_root: str | None = None,
    out_dir: str | None = None,
    cluster: str | None = None,
) -> dict:
    """Scheduled hourly job: ingest new observations, then forecast from the champions.

    On Dask (``cluster``, or a network of at least ``engine.min_stations`` stations) both steps
    run on one cluster under the network's cycle lock: a cycle that finds the previous one still
    running is refused (:class:`pipelines.engine.CycleBusy`), never interleaved.
    """
    from pipelines import engine

    root = default_store(store_root)
    out = default_outputs(out_dir)
    eng = engine.select_engine(len(load_network(network).stations), cluster)
    if not eng.distributed:
        report = ingest_flow(network, root)
        return {"ingest": report, "forecast": forecast_task(network, root, out)}
    with (
        engine.cycle_lock(Path(root), load_network(network).name),
        engine.client(eng.cluster, n_workers=eng.n_workers, memory_limit=eng.memory_limit) as c,
    ):
        address = c.scheduler.address
        report = ingest_flow(network, root, cluster=address)
        return {"ingest": report, "forecast": forecast_task(network, root, out, cluster=address)}


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

    root = Path(default_store(store_root))
    panel = load_panel(network, root)
    last = to_local(panel.times[-1], load_network(network).time_zone).normalize()
    start = last - pd.Timedelta(days=test_days)
    res = backtest_network(
        network,
        root,
        start=str(start.date()),
        end=str(last.date()),
        train_end=str((start - pd.Timedelta(days=1)).date()),
        out_dir=Path(default_outputs(out_dir)) / "retrain",
    )
    # a failed model is printed (flow log), has a FAILED MLflow run and is named here
    return {t: {**r.window, "failed": r.failed} for t, r in res.items()}
