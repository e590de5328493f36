"""Flows ``source-tracing`` and ``pmf``; the PMF worked example; forecast driver shares."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import flow, task

from pipelines.config import load_network, load_variables, source_config
from pipelines.flows.paths import default_outputs, default_store, project_root
from pipelines.store import StationStore
from pipelines.tracing.pmf import pmf_out_dir

__all__ = [
    "forecast_drivers",
    "pmf_demo",
    "pmf_flow",
    "pmf_out_dir",
    "pmf_task",
    "read_contributions",
    "source_config",
    "source_flow",
    "source_task",
]


@task(name="source-tracing", retries=0)
def source_task(network: str, store_root: str, out_dir: str) -> dict[str, Any] | None:
    """Polar plots / CPF per station and back-trajectory PSCF / CWT maps (``configs/source.yml``)."""
    import pandas as pd

    from pipelines.tracing.air import polar_job, trajectory_job

    cfg = (source_config().get("run") or {}).get(network)
    if not cfg:
        return None
    ds = StationStore(Path(store_root), load_network(network), load_variables()["variables"]).open(
        variables=[cfg["variable"]]
    )
    end = pd.Timestamp(ds["time"].values[-1])
    start = str(end - pd.Timedelta(days=int(cfg["last_days"])))
    var = cfg["variable"]
    pct = float(cfg["percentile"])
    polar = polar_job(network, Path(store_root), Path(out_dir), var, None, start, str(end), pct)
    traj = trajectory_job(
        network,
        Path(store_root),
        Path(out_dir),
        var,
        start,
        str(end),
        float(cfg["trajectory_hours"]),
        int(cfg["every_hours"]),
        float(cfg["cell_deg"]),
        pct,
    )
    return {"period_utc": [start, str(end)], "polar": polar, "trajectory": traj}


@flow(name="source-tracing", log_prints=True)
def source_flow(
    network: str, store_root: str | None = None, out_dir: str | None = None
) -> dict[str, Any] | None:
    """Polar plots / CPF and trajectory maps of a network (``configs/source.yml``)."""
    return source_task(network, default_store(store_root), default_outputs(out_dir))


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
    out = out or str(pmf_out_dir(default_outputs(), concentration, factors))
    return pmf_task(concentration, uncertainty, factors, out, starts=starts)


def pmf_demo(out_dir: str) -> dict[str, Any] | None:
    """Run the PMF worked example of ``configs/source.yml: pmf_demo`` (bundled EPA PMF5 data)."""
    cfg = source_config().get("pmf_demo")
    if not cfg:
        return None
    root = project_root()
    out = pmf_out_dir(out_dir, cfg["concentration"], cfg["factors"])
    return pmf_task(
        str(root / cfg["concentration"]),
        str(root / cfg["uncertainty"]),
        int(cfg["factors"]),
        str(out),
        starts=int(cfg["starts"]),
        total=cfg.get("total"),
        bootstrap_n=int(cfg["bootstrap"]),
    )


def forecast_drivers(
    forecast_path: str | Path,
    target: str = "pm25",
    stations: Sequence[str] = (),
    *,
    first: int = 1,
    last: int = 72,
) -> dict[str, Any]:
    """Driver shares of a forecast file over a window of lead hours.

    Parameters
    ----------
    forecast_path : str or Path
        A forecast file with ``<target>_drivers``.
    target : str
        Forecast target, e.g. ``pm25``.
    stations : sequence of str
        Station ids (empty: every station).
    first, last : int
        Lead window, inclusive [h].

    Returns
    -------
    dict
        ``n_stations``, ``model_uri`` and ``groups`` (:func:`models.forecast.drivers.summarise_drivers`).

    Raises
    ------
    ValueError
        When the file holds no driver attribution for ``target``.
    """
    from models.forecast.drivers import summarise_drivers
    from models.forecast.outlook import driver_window
    from pipelines.forecast.files import ForecastFileError, open_forecast

    var = f"{target}_drivers"
    try:
        ds = open_forecast(forecast_path, variables=[var])
    except ForecastFileError as exc:
        if var in exc.missing:
            raise ValueError(f"{forecast_path}: no {var} (the model gave no attribution)") from exc
        raise
    values, n = driver_window(
        ds[var].values,
        ds["station"].values,
        ds["lead_time"].values,
        stations,
        first=first,
        last=last,
    )
    model_uri = ds[var].attrs.get("model_uri", "")
    return {"n_stations": n, "model_uri": model_uri, "groups": summarise_drivers(values)}


def read_contributions(path: str | Path) -> Any:
    """PMF factor contributions from a CSV (time index, one column per factor) as a DataFrame.

    Raises
    ------
    ValueError
        When the first column does not hold times.
    """
    import pandas as pd

    series = pd.read_csv(path, index_col=0)
    try:
        series.index = pd.DatetimeIndex(pd.to_datetime(series.index, format="mixed"))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: first column must be times ({exc})") from exc
    return series
