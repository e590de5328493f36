"""CF netCDF NWP files: ``time`` (forecast_reference_time) x ``step`` x ``latitude`` x ``longitude``.

Variables are recognised by their CF ``standard_name`` (``configs/nwp.yml``, ``netcdf:``) and
converted from their UDUNITS ``units`` to the registry's; ``step`` is the forecast period
(``units`` hours, minutes or days).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from features.nwp import convert_nwp_units
from features.units import UnitError, convert
from pipelines.config.nwp import NwpMapping, load_nwp_mapping
from pipelines.config.registry import load_variables
from pipelines.errors import SourceError
from pipelines.nwp.runs import GridRun, assemble_grid_run, check_issue_time

__all__ = ["read_cf_netcdf"]

_DIMS = ("time", "step", "latitude", "longitude")


def read_cf_netcdf(
    path: Path | str,
    *,
    mapping: NwpMapping | None = None,
    step_hours: float | None = None,
    now: pd.Timestamp | None = None,
) -> list[GridRun]:
    """Read a CF netCDF NWP file into grid runs in registry units.

    Parameters
    ----------
    path : pathlib.Path or str
        The file (one or several forecast reference times).
    mapping : NwpMapping, optional
        standard_name -> registry variable (default: ``configs/nwp.yml``).
    step_hours : float, optional
        Required step spacing [h]; a gap is an error.
    now : pandas.Timestamp, optional
        The present (naive UTC; default: the clock); a later issue time is an error.

    Returns
    -------
    list of GridRun
        One per forecast reference time, oldest first.

    Raises
    ------
    SourceError
        Naming file, variable and reason: unreadable file, missing dimension, unknown
        standard_name, missing or inconvertible units, all-missing steps, future issue time.
    """
    file = str(path)
    mapping = mapping or load_nwp_mapping()
    registry = load_variables()["variables"]
    now = now if now is not None else pd.Timestamp.now("UTC").tz_localize(None)
    try:
        with xr.open_dataset(file, decode_timedelta=False) as raw:
            ds = raw.load()
    except (OSError, ValueError) as exc:
        raise SourceError(file, f"not a readable netCDF file ({exc})") from exc
    for dim in _DIMS:
        if dim not in ds.dims:
            raise SourceError(file, f"missing dimension {dim!r} (need {list(_DIMS)})", field=dim)
    step_units = ds["step"].attrs.get("units", "hours")
    try:
        steps = convert(ds["step"].values.astype("float64"), step_units, "h")
    except UnitError as exc:
        raise SourceError(file, f"step units {step_units!r}: {exc}", field="step") from exc
    issues = pd.DatetimeIndex(ds["time"].values)
    if issues.tz is not None:
        issues = issues.tz_convert("UTC").tz_localize(None)
    per_issue: dict[pd.Timestamp, dict] = {t: {} for t in issues}
    labels: dict[str, str] = {}
    for name, da in ds.data_vars.items():
        if not set(_DIMS) <= set(da.dims):
            continue  # bounds, grid mappings, scalar coordinates stored as variables
        sn = da.attrs.get("standard_name")
        if sn not in mapping.netcdf:
            raise SourceError(
                file,
                f"variable {name!r}: unknown standard_name {sn!r}; known: {sorted(mapping.netcdf)}",
                field=name,
            )
        param = mapping.netcdf[sn]
        units = da.attrs.get("units")
        if not units:
            raise SourceError(file, f"variable {name!r}: no units attribute", field=name)
        target = registry[param.variable]["units"]
        arr = da.transpose(*_DIMS).values.astype("float64")
        try:
            arr = convert_nwp_units(arr, units, target)
        except UnitError as exc:
            raise SourceError(
                file,
                f"variable {name!r}: units {units!r} do not convert to {target!r} ({exc})",
                field=name,
            ) from exc
        labels[param.variable] = name
        for k, issue in enumerate(issues):
            present = {
                float(s): arr[k, j] for j, s in enumerate(steps) if not np.all(np.isnan(arr[k, j]))
            }
            per_issue[issue][param.variable] = present
    if not labels:
        raise SourceError(file, "no NWP variable in the file")
    runs = []
    accumulated = {p.variable for p in mapping.netcdf.values() if p.accumulated}
    for issue in sorted(per_issue):
        check_issue_time(file, issue, now, field="time")
        runs.append(
            assemble_grid_run(
                file,
                issue,
                ds["latitude"].values,
                ds["longitude"].values,
                per_issue[issue],
                accumulated,
                step_hours=step_hours,
                labels=labels,
            )
        )
    return runs
