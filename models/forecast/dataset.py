"""The forecast dataset: one layout for every issued forecast, built and checked here.

A forecast dataset is CF-1.8 xarray with dimensions ``(station, issue_time, lead_time,
quantile)`` and, for every target ``<t>``:

* ``<t>_mean`` ``(station, issue_time, lead_time)``: the point forecast (expected value);
* ``<t>_quantile`` ``(station, issue_time, lead_time, quantile)``: the quantile forecasts;
* ``<t>_drivers`` ``(station, issue_time, lead_time, driver)``, optional: driver-group
  contributions (:mod:`models.forecast.drivers`);
* ``<t>_input_recent`` ``(station,)``, optional: whether the target was observed shortly before
  the issue;

with provenance attributes (model URI, MLflow run id, data cut-off, issue time). The forecast
files (:mod:`pipelines.forecast.files`), the warning replay and the warning job all go through
:func:`forecast_dataset` and :func:`layout_problem`. Pure: no file is read or written here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.units import cf_unit_attrs
from models.forecast.base import Forecast
from models.forecast.drivers import GROUPS

__all__ = [
    "FORECAST_COORDS",
    "forecast_attrs",
    "forecast_dataset",
    "forecasts_from_frames",
    "layout_problem",
    "missing_parts",
    "targets_of",
]

#: Coordinates every forecast dataset has, in the order the layout check names them.
FORECAST_COORDS = ("issue_time", "lead_time", "quantile", "station")


def forecast_dataset(
    forecasts: Mapping[str, Forecast],
    stations: Sequence[str],
    *,
    issue_times: Sequence[Any] | pd.DatetimeIndex,
    leads: np.ndarray | Sequence[int],
    lat: Sequence[float] | None = None,
    lon: Sequence[float] | None = None,
    station_names: Sequence[str] | None = None,
    variables: Mapping[str, Mapping[str, Any]] | None = None,
    provenance: Mapping[str, Mapping[str, Any]] | None = None,
    drivers: Mapping[str, np.ndarray] | None = None,
    recent: Mapping[str, np.ndarray] | None = None,
    attrs: Mapping[str, Any] | None = None,
    dtype: str | None = None,
) -> xr.Dataset:
    """Build a forecast dataset from the forecasts of one or more targets.

    Parameters
    ----------
    forecasts : mapping
        Target (``pm25``, ``o3`` ...) -> :class:`~models.forecast.base.Forecast` with ``S x N x L``
        means and ``S x N x L x Q`` quantiles, all on the same stations, issue times, leads and
        quantile levels [units of the target].
    stations : sequence of str
        The ``S`` station ids.
    issue_times : sequence of datetime-like
        The ``N`` issue times (naive UTC).
    leads : array_like of int
        The ``L`` lead times [h].
    lat, lon : sequence of float, optional
        Station coordinates [degrees]; with them (and ``station_names``, default the ids) the
        variables name ``lat lon station_name`` as their CF ``coordinates``.
    station_names : sequence of str, optional
        Station names.
    variables : mapping, optional
        Variable registry entries (``units``, ``long_name``, ``standard_name``) of the targets.
    provenance : mapping, optional
        Target -> ``{"model_uri": ..., "mlflow_run_id": ...}``.
    drivers : mapping, optional
        Target -> ``S x N x L x G`` driver-group contributions (``G`` = :data:`GROUPS`) [units of
        the target].
    recent : mapping, optional
        Target -> ``S`` booleans (observed shortly before the issue); when given, every target
        gets ``<t>_input_recent`` (targets missing from it count as recent).
    attrs : mapping, optional
        Global attributes (see :func:`forecast_attrs`).
    dtype : str, optional
        Data type of the forecast values (e.g. ``float32`` in files); default: as given.

    Returns
    -------
    xarray.Dataset
        The forecast dataset.
    """
    first = next(iter(forecasts.values()))
    levels = np.array([float(q) for q in first.levels])
    with_coords = lat is not None and lon is not None

    def cast(a: np.ndarray) -> np.ndarray:
        return np.asarray(a).astype(dtype) if dtype else np.asarray(a)

    data: dict[str, Any] = {}
    for target, fc in forecasts.items():
        meta = (variables or {}).get(target, {})
        prov = (provenance or {}).get(target, {})
        base: dict[str, Any] = {}
        if meta:
            base |= cf_unit_attrs(meta)
            base["long_name"] = f"forecast {meta['long_name']}"
        if with_coords:
            base["coordinates"] = "time lat lon station_name"
        if prov:
            base["model_uri"] = prov["model_uri"]
            base["mlflow_run_id"] = prov["mlflow_run_id"]
        if meta.get("standard_name"):
            base["standard_name"] = meta["standard_name"]
        data[f"{target}_mean"] = (
            ("station", "issue_time", "lead_time"),
            cast(fc.mean),
            base | {"cell_methods": "time: mean"},
        )
        data[f"{target}_quantile"] = (
            ("station", "issue_time", "lead_time", "quantile"),
            cast(fc.quantiles),
            base,
        )
        if drivers is not None and drivers.get(target) is not None:
            dattrs: dict[str, Any] = cf_unit_attrs(meta) if meta else {}
            dattrs["long_name"] = (
                f"contribution of each driver group to the {target} forecast "
                "(forecast mean ~ climatology + sum over driver; LightGBM TreeSHAP)"
            )
            dattrs["drivers"] = ",".join(GROUPS)
            if prov:
                dattrs["model_uri"] = prov["model_uri"]
                if prov.get("drivers_scope"):
                    dattrs["stations_explained"] = prov["drivers_scope"]
            data[f"{target}_drivers"] = (
                ("station", "issue_time", "lead_time", "driver"),
                cast(drivers[target]),
                dattrs,
            )
        if recent is not None:
            data[f"{target}_input_recent"] = (
                ("station",),
                np.asarray(recent.get(target, np.ones(len(stations), bool))).astype("int8"),
                {
                    "long_name": f"1 if {target} was observed in the 6 h before issue, else 0 "
                    "(forecasts from stale inputs are flagged here)",
                    "flag_values": np.array([0, 1], "int8"),
                    "flag_meanings": "stale_input recent_input",
                },
            )
    coords: dict[str, Any] = {
        "station": (
            "station",
            np.array(list(stations), dtype=object),
            {"cf_role": "timeseries_id"},
        ),
        "issue_time": (
            "issue_time",
            [pd.Timestamp(t).to_datetime64() for t in issue_times],
            {"standard_name": "forecast_reference_time"},
        ),
        "lead_time": (
            "lead_time",
            np.asarray(leads).astype("int32"),
            {"standard_name": "forecast_period", "units": "hours"},
        ),
        "quantile": ("quantile", levels, {"long_name": "quantile level", "units": "1"}),
        # valid time of each issue and lead: what "time: mean" in cell_methods refers to
        "time": (
            ("issue_time", "lead_time"),
            np.array(
                [
                    [pd.Timestamp(t) + pd.Timedelta(hours=float(h)) for h in np.asarray(leads)]
                    for t in issue_times
                ],
                dtype="datetime64[ns]",
            ).reshape(len(issue_times), len(np.asarray(leads))),
            {"standard_name": "time", "long_name": "valid time (issue time + lead time)"},
        ),
    }
    if with_coords:
        coords["lat"] = (
            "station",
            list(lat),
            {"standard_name": "latitude", "units": "degrees_north"},
        )
        coords["lon"] = (
            "station",
            list(lon),
            {"standard_name": "longitude", "units": "degrees_east"},
        )
        names = station_names if station_names is not None else stations
        coords["station_name"] = ("station", np.array(list(names), dtype=object))
    ds = xr.Dataset(data, coords=coords)
    if any(k.endswith("_drivers") for k in data):
        ds = ds.assign_coords(driver=("driver", np.array(GROUPS, dtype=object)))
    ds.attrs = dict(attrs or {})
    return ds


def forecast_attrs(
    network: str,
    *,
    issue: pd.Timestamp,
    cutoff: pd.Timestamp,
    provenance: Mapping[str, Mapping[str, Any]],
    created: str,
    history: str,
) -> dict[str, str]:
    """Global provenance attributes of an issued forecast.

    Parameters
    ----------
    network : str
        Network name.
    issue, cutoff : pandas.Timestamp
        Issue time and time of the last data used (naive UTC).
    provenance : mapping
        Target -> ``{"model_uri": ..., "mlflow_run_id": ..., "weather_forecast": {...}}``
        (the last optional).
    created : str
        Creation time (ISO 8601).
    history : str
        What made the file (e.g. ``qingyuan 0.9.0 forecast``).

    Returns
    -------
    dict
        ``Conventions``, ``title``, ``network``, ``issue_time``, ``data_cutoff``, ``created``,
        ``model_uris`` and ``mlflow_run_ids`` (JSON by target), ``history``; and
        ``weather_forecast`` (JSON by target: feed, NWP run issue time, ``synthetic``,
        ``status`` used/missing, reason and ``fallback``) when a target's provenance has one.
    """
    weather = {t: p["weather_forecast"] for t, p in provenance.items() if p.get("weather_forecast")}
    extra = {"weather_forecast": json.dumps(weather, sort_keys=True)} if weather else {}
    return extra | {
        "Conventions": "CF-1.8",
        "title": f"Qingyuan station forecast, network {network}",
        "network": network,
        "issue_time": f"{issue.isoformat()}Z",
        "data_cutoff": f"{cutoff.isoformat()}Z",
        "created": created,
        "model_uris": json.dumps({t: p["model_uri"] for t, p in provenance.items()}),
        "mlflow_run_ids": json.dumps({t: p["mlflow_run_id"] for t, p in provenance.items()}),
        "history": history,
    }


def forecasts_from_frames(
    frames: Mapping[str, pd.DataFrame],
) -> tuple[dict[str, Forecast], list[str], np.ndarray]:
    """Forecasts of one issue from the long frames of the deployed models.

    Parameters
    ----------
    frames : mapping
        Target -> frame with ``station``, ``lead``, ``mean`` and one ``q<level>`` column per
        quantile level (:meth:`models.forecast.pyfunc.StationForecastModel.predict`); stations
        and leads are those of the first frame, the others are aligned to them (NaN where absent).

    Returns
    -------
    forecasts : dict
        Target -> :class:`~models.forecast.base.Forecast` with ``S x 1 x L`` means.
    stations : list of str
        The ``S`` stations, in the order of the first frame.
    leads : numpy.ndarray
        The ``L`` sorted leads [h].
    """
    first = next(iter(frames.values()))
    stations = list(dict.fromkeys(first["station"]))
    leads = np.sort(first["lead"].unique())
    qcols = [c for c in first.columns if c.startswith("q")]
    levels = tuple(float(c[1:]) for c in qcols)
    S, L = len(stations), len(leads)
    out = {}
    for target, df in frames.items():
        df = df.set_index(["station", "lead"]).reindex(
            pd.MultiIndex.from_product([stations, leads])
        )
        mean = df["mean"].to_numpy().reshape(S, 1, L)
        qs = np.stack([df[c].to_numpy().reshape(S, 1, L) for c in qcols], axis=-1)
        out[target] = Forecast(mean, qs, levels)
    return out, stations, leads


def targets_of(ds: xr.Dataset) -> list[str]:
    """Targets with a quantile forecast in a forecast dataset (``<t>_quantile``), in file order."""
    return [str(v)[: -len("_quantile")] for v in ds.data_vars if str(v).endswith("_quantile")]


def missing_parts(ds: xr.Dataset, *, variables: Sequence[str] | None = None) -> list[str]:
    """Return the coordinates or variables of the forecast layout that a dataset lacks.

    Parameters
    ----------
    ds : xarray.Dataset
        A forecast dataset.
    variables : sequence of str, optional
        Variables needed by the reader: then these, and once they are all there, the
        :data:`FORECAST_COORDS` among their dimensions; default: the :data:`FORECAST_COORDS`.

    Returns
    -------
    list of str
        The missing names (empty when nothing is missing).
    """
    if variables is None:
        return [c for c in FORECAST_COORDS if c not in ds]
    missing = [v for v in variables if v not in ds.data_vars]
    if missing:
        return missing
    dims = {str(d) for v in variables for d in ds[v].dims}
    return [c for c in FORECAST_COORDS if c in dims and c not in ds.coords]


def layout_problem(ds: xr.Dataset, *, variables: Sequence[str] | None = None) -> str | None:
    """Describe what a forecast dataset lacks; None when its layout is complete.

    Parameters
    ----------
    ds : xarray.Dataset
        A forecast dataset (e.g. read from a file).
    variables : sequence of str, optional
        Variables needed by the reader (e.g. ``["pm25_drivers"]``): then only they and the
        coordinates of their dimensions are checked (:func:`missing_parts`). Default: the full
        layout, i.e. the :data:`FORECAST_COORDS` and at least one ``<target>_quantile``.

    Returns
    -------
    str or None
        ``lacks [...]`` (the missing coordinates or variables) or ``holds no pollutant forecast
        (...)``; None when nothing is missing.
    """
    missing = missing_parts(ds, variables=variables)
    if missing:
        return f"lacks {missing}"
    if variables is None and not targets_of(ds):
        return "holds no pollutant forecast (no <pollutant>_quantile variable)"
    return None
