"""Forecast files: CF netCDF written atomically under ``<outputs>/forecasts/<network>/`` and read back.

The layout is the one of :mod:`models.forecast.dataset`; :func:`write_forecast` writes a dataset
built by :func:`models.forecast.dataset.forecast_dataset` and :func:`open_forecast` reads one
back, checking that the layout is complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import xarray as xr

from models.forecast.dataset import layout_problem, missing_parts
from pipelines.files import atomic_path

__all__ = ["ForecastFileError", "forecast_path", "open_forecast", "write_forecast"]


class ForecastFileError(ValueError):
    """A forecast file cannot be read or lacks part of the forecast layout.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    problem : str
        What is wrong (``cannot be read (...)``, ``lacks [...]``, ``holds no pollutant forecast
        (...)``).
    missing : list of str
        The missing coordinates or variables (empty when the file cannot be read at all).
    """

    def __init__(self, path: Path | str, problem: str, missing: Sequence[str] = ()) -> None:
        self.path, self.problem, self.missing = Path(path), problem, list(missing)
        super().__init__(f"forecast file {path}: {problem}")


def forecast_path(out_dir: Path | str, network: str, issue: pd.Timestamp) -> Path:
    """``<out_dir>/forecasts/<network>/<network>_<YYYYmmddTHHMM>Z.nc`` of an issue time (UTC)."""
    return Path(out_dir) / "forecasts" / network / f"{network}_{issue:%Y%m%dT%H%M}Z.nc"


def write_forecast(ds: xr.Dataset, path: Path | str) -> Path:
    """Write a forecast dataset as netCDF, atomically (readers never see half a file).

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`models.forecast.dataset.forecast_dataset`.
    path : pathlib.Path or str
        The file (its directory is created), e.g. :func:`forecast_path`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    encoding = {
        "station": {"dtype": "S1"},
        **({"station_name": {"dtype": "S1"}} if "station_name" in ds.variables else {}),
        "issue_time": {"units": "hours since 1970-01-01", "dtype": "int32"},
        **({"driver": {"dtype": "S1"}} if "driver" in ds.coords else {}),
        # CF: coordinate variables carry no _FillValue
        **{c: {"_FillValue": None} for c in ("quantile", "lead_time", "lat", "lon") if c in ds},
        **({"time": {"units": "hours since 1970-01-01", "dtype": "int32"}} if "time" in ds else {}),
    }
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, encoding=encoding)
    return path


def open_forecast(path: Path | str, *, variables: Sequence[str] | None = None) -> xr.Dataset:
    """Read a forecast file into memory and check its layout.

    Parameters
    ----------
    path : pathlib.Path or str
        The forecast file.
    variables : sequence of str, optional
        Variables the reader needs (e.g. ``["pm25_drivers"]``); default: the full layout
        (:func:`models.forecast.dataset.layout_problem`).

    Returns
    -------
    xarray.Dataset
        The loaded dataset (the file is closed).

    Raises
    ------
    ForecastFileError
        A :class:`ValueError` naming the file and what is wrong: it is missing, not netCDF or
        truncated, or it lacks coordinates or variables of the layout.
    """
    try:
        with xr.open_dataset(path) as ds:
            ds = ds.load()
    except (OSError, ValueError) as exc:  # missing, not netCDF, truncated, unreadable
        raise ForecastFileError(path, f"cannot be read ({type(exc).__name__}: {exc})") from exc
    problem = layout_problem(ds, variables=variables)
    if problem:
        raise ForecastFileError(path, problem, missing_parts(ds, variables=variables))
    return ds
