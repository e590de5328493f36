"""Issued forecasts: the archive of forecast files of a network and one forecast in full.

Files are ``outputs/forecasts/<network>/<network>_<YYYYmmddTHHMM>Z.nc``
(:func:`pipelines.forecast.files.forecast_path`), read with
:func:`pipelines.forecast.files.open_forecast`; the targets of a file are
:func:`models.forecast.dataset.targets_of`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.units import measured_units
from models.forecast.dataset import targets_of
from pipelines.forecast.files import ForecastFileError, forecast_path, open_forecast
from pipelines.results import configs
from pipelines.results.cache import memo
from pipelines.results.jsonable import float32_decimal, iso_utc, jsonable, parse_json, utc_naive
from pipelines.results.workspace import NotFound, Read, Workspace, unknown

__all__ = ["forecast", "forecast_files", "forecast_index"]

_STAMP = re.compile(r"_(\d{8}T\d{4})Z\.nc$")


def forecast_files(ws: Workspace, network: str) -> list[Path]:
    """Return the forecast files of a network, oldest first.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        The network.

    Returns
    -------
    list of pathlib.Path
        ``outputs/forecasts/<network>/<network>_<YYYYmmddTHHMM>Z.nc`` (the naming of
        :func:`pipelines.forecast.files.forecast_path`).
    """
    d = ws.outputs / "forecasts" / network
    return sorted(p for p in d.glob(f"{network}_*Z.nc") if _STAMP.search(p.name))


def _stamp_time(path: Path) -> pd.Timestamp:
    m = _STAMP.search(path.name)
    return pd.Timestamp(m.group(1)) if m else pd.NaT


def _attr_json(ds: xr.Dataset, name: str) -> Any:
    value = ds.attrs.get(name)
    if value in (None, ""):
        return None
    parsed = parse_json(value)
    return parsed if isinstance(parsed, dict | list) else value


def _issue_of(ds: xr.Dataset, path: Path) -> pd.Timestamp:
    if "issue_time" in ds.coords and ds.sizes.get("issue_time", 0):
        return pd.Timestamp(ds["issue_time"].values[-1])
    if ds.attrs.get("issue_time"):
        return utc_naive(ds.attrs["issue_time"])
    return _stamp_time(path)


def _summary(path: Path) -> dict[str, Any]:
    """Index entry of one file (from its attributes); ``problem`` when it cannot be read."""
    try:
        ds = open_forecast(path)
    except ForecastFileError as exc:
        return {
            "issue_time": iso_utc(_stamp_time(path)),
            "file": path.name,
            "variables": [],
            "problem": exc.problem,
        }
    targets = targets_of(ds)
    return {
        "issue_time": iso_utc(_issue_of(ds, path)),
        "file": path.name,
        "variables": targets,
        "data_cutoff": iso_utc(ds.attrs.get("data_cutoff")),
        "created": iso_utc(ds.attrs.get("created")),
        "model_uris": _attr_json(ds, "model_uris"),
        "mlflow_run_ids": _attr_json(ds, "mlflow_run_ids"),
        "weather_forecast": _attr_json(ds, "weather_forecast"),
        "n_stations": int(ds.sizes.get("station", 0)),
        "leads": int(ds.sizes.get("lead_time", 0)),
        "quantiles": [float(q) for q in ds["quantile"].values] if "quantile" in ds.coords else [],
        "drivers": any(f"{t}_drivers" in ds for t in targets),
    }


def _file_summary(path: Path) -> dict[str, Any]:
    return memo("forecast_summary", str(path), files=[path], compute=lambda: _summary(path)).data


def forecast_index(ws: Workspace, network: str) -> Read:
    """Return the issued forecasts of a network, newest first.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        The network.

    Returns
    -------
    Read
        ``data``: list of ``{issue_time, file (name), variables, data_cutoff, created,
        model_uris, mlflow_run_ids, weather_forecast (the parsed ``weather_forecast``
        attribute, or None), n_stations, leads, quantiles, drivers (bool)}``; a file that
        cannot be read has ``problem`` instead (what is wrong with it).

    Raises
    ------
    NotFound
        For an unknown network.
    """
    net = configs.network(network)
    files = forecast_files(ws, net.name)

    def compute() -> list[dict[str, Any]]:
        rows = [_file_summary(p) for p in files]
        return sorted(rows, key=lambda r: (r["issue_time"] or "", r["file"]), reverse=True)

    return memo(
        "forecast_index",
        (str(ws.outputs), net.name, tuple(p.name for p in files)),
        files=files,
        compute=compute,
    )


def _values(a: np.ndarray) -> list[Any]:
    return jsonable(float32_decimal(a) if a.dtype == np.float32 else a.astype("float64"))


def _document(path: Path, network: str) -> dict[str, Any]:
    """Return the whole forecast of one file as JSON-able data."""
    ds = open_forecast(path)
    issue = _issue_of(ds, path)
    k = int(np.flatnonzero(pd.DatetimeIndex(ds["issue_time"].values) == issue)[-1])
    ds = ds.isel(issue_time=k)
    leads = [int(h) for h in ds["lead_time"].values]
    valid = [iso_utc(issue + pd.Timedelta(hours=h)) for h in leads]
    levels = [float(q) for q in ds["quantile"].values]
    drivers_axis = [str(d) for d in ds["driver"].values] if "driver" in ds.coords else []
    stations = [str(s) for s in ds["station"].values]
    names = (
        [str(n) for n in ds["station_name"].values] if "station_name" in ds.variables else stations
    )
    series = []
    for target in targets_of(ds):
        mean, quant = ds[f"{target}_mean"], ds[f"{target}_quantile"]
        drivers = ds[f"{target}_drivers"] if f"{target}_drivers" in ds else None
        recent = ds[f"{target}_input_recent"] if f"{target}_input_recent" in ds else None
        for i, sid in enumerate(stations):
            item: dict[str, Any] = {
                "station": sid,
                "station_name": names[i],
                "lat": jsonable(ds["lat"].values[i]) if "lat" in ds.variables else None,
                "lon": jsonable(ds["lon"].values[i]) if "lon" in ds.variables else None,
                "variable": target,
                "unit": measured_units(mean.attrs),
                "model_uri": mean.attrs.get("model_uri"),
                "mlflow_run_id": mean.attrs.get("mlflow_run_id"),
                "lead_time_h": leads,
                "valid_time": valid,
                "mean": _values(mean.isel(station=i).transpose("lead_time").values),
                "quantiles": {
                    f"{q:g}": _values(
                        quant.isel(station=i, quantile=j).transpose("lead_time").values
                    )
                    for j, q in enumerate(levels)
                },
            }
            if drivers is not None:
                d = drivers.isel(station=i).transpose("driver", "lead_time").values
                item["drivers"] = {name: _values(d[j]) for j, name in enumerate(drivers_axis)}
            if recent is not None:
                item["input_recent"] = bool(recent.values[i])
            series.append(item)
    return {
        "network": network,
        "file": path.name,
        "issue_time": iso_utc(issue),
        "data_cutoff": iso_utc(ds.attrs.get("data_cutoff")),
        "created": iso_utc(ds.attrs.get("created")),
        "provenance": {
            "model_uris": _attr_json(ds, "model_uris"),
            "mlflow_run_ids": _attr_json(ds, "mlflow_run_ids"),
            "weather_forecast": _attr_json(ds, "weather_forecast"),
            "history": ds.attrs.get("history"),
        },
        "variables": targets_of(ds),
        "stations": stations,
        "quantiles": levels,
        "drivers": drivers_axis if any("drivers" in s for s in series) else [],
        "series": series,
    }


def _choose(ws: Workspace, network: str, issue_time: Any) -> Path:
    files = forecast_files(ws, network)
    if issue_time is not None:
        issue = utc_naive(issue_time)
        path = forecast_path(ws.outputs, network, issue)
        if not path.is_file():
            known = [iso_utc(_stamp_time(p)) for p in reversed(files)]
            raise unknown(
                "forecast issue time",
                iso_utc(issue),
                known=known,
                where=f"of network {network!r}",
                limit=10,
            )
        return path
    if not files:
        raise NotFound(
            f"network {network!r} has no forecast yet (no file under the outputs' forecasts/{network}/)"
        )
    problems = []
    for p in reversed(files):  # the newest readable
        info = _file_summary(p)
        if "problem" not in info:
            return p
        problems.append(f"{p.name}: {info['problem']}")
    raise NotFound(f"no readable forecast of network {network!r}: " + "; ".join(problems[:5]))


def forecast(
    ws: Workspace,
    network: str,
    *,
    issue_time: Any = None,
    station: str | None = None,
    variable: str | None = None,
) -> Read:
    """One issued forecast (default: the newest readable one) with quantiles and drivers.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        The network.
    issue_time : str, datetime or pandas.Timestamp, optional
        The issue time (UTC) of an archived forecast.
    station, variable : str, optional
        Keep one station / one forecast variable only.

    Returns
    -------
    Read
        ``data``: ``{network, file, issue_time, data_cutoff, created, provenance
        {model_uris, mlflow_run_ids, weather_forecast, history}, variables, stations,
        quantiles (levels), drivers (names), series: [{station, station_name, lat, lon,
        variable, unit, model_uri, mlflow_run_id, lead_time_h, valid_time (ISO-8601 UTC),
        mean, quantiles {"0.1": [...], ...}, drivers {name: [...]} (when the file has them),
        input_recent}]}``; NaN as None.

    Raises
    ------
    NotFound
        Unknown network, issue time, station or variable; no (readable) forecast.
    """
    net = configs.network(network)
    path = _choose(ws, net.name, issue_time)
    doc = memo(
        "forecast_document", str(path), files=[path], compute=lambda: _document(path, net.name)
    ).data
    if station is not None and station not in doc["stations"]:
        raise unknown("station", station, known=doc["stations"], where=f"in forecast {path.name}")
    if variable is not None and variable not in doc["variables"]:
        raise unknown(
            "variable", variable, known=doc["variables"], where=f"in forecast {path.name}"
        )

    def compute() -> dict[str, Any]:
        series = [
            s
            for s in doc["series"]
            if (station is None or s["station"] == station)
            and (variable is None or s["variable"] == variable)
        ]
        return {**doc, "series": series}

    return memo("forecast", (str(path), station, variable), files=[path], compute=compute)
