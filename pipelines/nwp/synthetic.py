"""The synthetic NWP feed: observed station weather plus published-size errors, as GRIB2 and CF netCDF.

Track (b) of issue #12. The bundled data have no NWP archive, so this module makes one that goes
through the same readers as a real feed (:mod:`pipelines.nwp`):

1. **truth**: the observed weather of a network in the station store (``air_temperature``,
   ``dew_point_temperature``, ``air_pressure``, ``wind_speed`` + ``wind_from_direction`` -> u/v
   by :func:`features.wind.wind_components`, ``precipitation``), values with a final status
   outside ``configs/qc.yml`` ``valid_statuses`` removed, gaps of up to :data:`MAX_GAP_H` hours
   filled linearly in time, then spread at each valid time to a regular latitude/longitude grid
   covering the network plus a margin by inverse-distance weighting
   (:data:`features.gridding.GRIDDERS` ``"idw"``). Missing hourly precipitation counts as none.
   A calm report (direction ``CV`` = NaN with a speed) gives u = v = 0.
2. **boundary-layer height** is not observed: it is the diagnostic proxy
   :func:`features.stagnation.boundary_layer_height_proxy` of the true wind, temperature, dew
   point and the sun (diurnal convective growth, mechanical mixing by wind, shallower when humid).
3. **errors**: :mod:`features.nwp_errors` (sizes, sources, lead and spatial correlation); each run
   draws from its own generator ``numpy.random.default_rng([seed, hours since 1970, k])`` (``k``
   the field's index in :data:`FIELDS`), so the feed is reproducible from the seed alone and
   consecutive runs differ. A forecast dew point above the forecast temperature is set to the
   temperature; precipitation and boundary-layer height stay >= 0.
4. **files**, one per run (issue times at ``run_hours`` UTC, hourly steps ``0..max_step_h``):

   - ``<cache>/grib2/<YYYYMMDDHH>.grib2``: GRIB edition 2, regular lat/lon grid (north to south),
     ecCodes shortNames ``2t 2d 10u 10v sp tp blh`` in the units of ``configs/nwp.yml``, ``tp``
     accumulated from the run start (product template 4.8), simple packing with 16 bits after
     rounding to :data:`GRIB_DECIMALS`. Marked synthetic: ``centre = 255`` (code table C-11
     "missing": no real centre), ``generatingProcessIdentifier = 199`` (documented here as
     "Qingyuan synthetic NWP"), ``productionStatusOfProcessedData = 2`` (research products);
   - ``<cache>/netcdf/<YYYYMMDDHH>.nc``: CF-1.8, dimensions ``time`` (forecast_reference_time,
     one), ``step`` (forecast_period, hours), ``latitude``, ``longitude``; ``source`` =
     :data:`SOURCE`.

   Files are generated on first use and reused afterwards (delete the folder to regenerate);
   ``synthetic.json`` in the folder records the settings and a mismatch is an error. Nothing in
   the files depends on the clock or the host (no ``history``, no dates of creation), so the same
   store, seed and library versions give byte-identical files (checked by a hash in the tests).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from features.geo import pairwise_km
from features.gridding import GRIDDERS, regular_grid
from features.nwp import convert_nwp_units
from features.nwp_errors import perturb, perturb_precipitation
from features.qc import FLAG_CODES
from features.stagnation import boundary_layer_height_proxy
from features.wind import wind_components
from pipelines.config.nwp import load_nwp_mapping
from pipelines.config.registry import load_qc, load_variables
from pipelines.files import atomic_path, atomic_write
from pipelines.nwp.eccodes_worker import write_messages
from pipelines.progress import track
from pipelines.store import StationStore

__all__ = [
    "FIELDS",
    "GRIB_CENTRE",
    "GRIB_GENERATING_PROCESS",
    "SOURCE",
    "ObservedWeather",
    "SyntheticSpec",
    "complete_issue_times",
    "ensure_synthetic_feed",
    "issue_times",
    "make_run",
    "observed_weather",
    "observed_weather_from_store",
    "synthetic_grid",
    "write_grib2",
    "write_netcdf",
]

#: ``source`` attribute of the netCDF files (and the feed's provenance).
SOURCE = "Qingyuan synthetic NWP: observed weather + published-size errors"
#: GRIB2 ``centre``: 255 = missing in WMO code table C-11, i.e. no real centre made these files.
GRIB_CENTRE = 255
#: GRIB2 ``generatingProcessIdentifier`` of the synthetic feed (local use, documented here).
GRIB_GENERATING_PROCESS = 199

#: Registry variable, ecCodes shortName, CF standard name of the written fields, in file order.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("air_temperature", "2t", "air_temperature"),
    ("dew_point_temperature", "2d", "dew_point_temperature"),
    ("eastward_wind", "10u", "eastward_wind"),
    ("northward_wind", "10v", "northward_wind"),
    ("air_pressure", "sp", "surface_air_pressure"),
    ("precipitation", "tp", "precipitation_amount"),
    ("boundary_layer_height", "blh", "atmosphere_boundary_layer_thickness"),
)
#: Decimals kept before GRIB packing, per shortName (in the GRIB units) [1].
GRIB_DECIMALS = {"2t": 2, "2d": 2, "10u": 2, "10v": 2, "sp": 0, "tp": 3, "blh": 0}
#: Longest gap filled by linear interpolation in time [h].
MAX_GAP_H = 6
_OBSERVED = (
    "air_temperature",
    "dew_point_temperature",
    "air_pressure",
    "wind_speed",
    "wind_from_direction",
    "precipitation",
)
_HEIGHT_M = {"air_temperature": 2.0, "dew_point_temperature": 2.0}
_WIND_HEIGHT_M = 10.0
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class SyntheticSpec:
    """Settings of a synthetic feed (all of them enter ``synthetic.json``).

    Attributes
    ----------
    seed : int
        Seed of every run's generator.
    resolution_deg : float
        Grid spacing [degrees].
    margin_deg : float
        Extent beyond the outermost stations [degrees].
    max_step_h : int
        Last forecast step [h] (hourly steps from 0).
    run_hours : tuple of int
        Issue hours [UTC].
    idw_power : float
        Inverse-distance weighting exponent [1].
    """

    seed: int = 20161216
    resolution_deg: float = 0.25
    margin_deg: float = 0.5
    max_step_h: int = 120
    run_hours: tuple[int, ...] = (0, 12)
    idw_power: float = 2.0


@dataclass
class ObservedWeather:
    """Hourly observed weather of a network's stations, registry units.

    Attributes
    ----------
    times : pandas.DatetimeIndex
        Hourly naive-UTC times.
    stations : list of str
        Station ids.
    lat, lon : numpy.ndarray
        Station coordinates [degrees].
    values : dict
        Registry variable -> ``(station, time)`` float64 (``air_temperature``,
        ``dew_point_temperature``, ``air_pressure``, ``wind_speed``, ``eastward_wind``,
        ``northward_wind``, ``precipitation``).
    """

    times: pd.DatetimeIndex
    stations: list[str]
    lat: np.ndarray
    lon: np.ndarray
    values: dict[str, np.ndarray]


def observed_weather(
    ds: xr.Dataset, *, valid_statuses: Iterable[str] | None = None
) -> ObservedWeather:
    """Observed weather from a station-store dataset, cleaned and gap-filled (see module docstring).

    Parameters
    ----------
    ds : xarray.Dataset
        ``StationStore.open()`` output (``(station, time)``, hourly, registry units).
    valid_statuses : iterable of str, optional
        Final statuses kept (default ``configs/qc.yml`` ``valid_statuses``).

    Returns
    -------
    ObservedWeather

    Raises
    ------
    ValueError
        If the store is not hourly or lacks an observed variable.
    """
    times = pd.DatetimeIndex(ds["time"].values)
    if len(times) > 1 and pd.infer_freq(times[:3]) not in ("h", "H"):
        raise ValueError(
            f"synthetic NWP needs hourly observations; the store's step is {times[1] - times[0]}"
        )
    missing = [v for v in _OBSERVED if v not in ds]
    if missing:
        raise ValueError(
            f"station store lacks the observed weather variable(s) {missing} needed by the synthetic NWP feed"
        )
    statuses = list(valid_statuses) if valid_statuses is not None else load_qc()["valid_statuses"]
    codes = [FLAG_CODES[s] for s in statuses]
    raw: dict[str, np.ndarray] = {}
    for v in _OBSERVED:
        x = ds[v].values.astype(float)
        if f"{v}_flag" in ds:
            x = np.where(np.isin(ds[f"{v}_flag"].values, codes), x, np.nan)
        raw[v] = x
    speed, direction = raw["wind_speed"], raw["wind_from_direction"]
    u, v = wind_components(speed, direction)
    calm = ~np.isnan(speed) & np.isnan(direction)
    u, v = np.where(calm, 0.0, u), np.where(calm, 0.0, v)
    values = {
        "air_temperature": raw["air_temperature"],
        "dew_point_temperature": raw["dew_point_temperature"],
        "air_pressure": raw["air_pressure"],
        "wind_speed": speed,
        "eastward_wind": u,
        "northward_wind": v,
    }
    values = {k: _fill_gaps(x) for k, x in values.items()}
    values["precipitation"] = np.nan_to_num(raw["precipitation"], nan=0.0)
    return ObservedWeather(
        times=times,
        stations=[str(s) for s in ds["station_id"].values.astype(str)],
        lat=np.asarray(ds["lat"].values, float),
        lon=np.asarray(ds["lon"].values, float),
        values=values,
    )


def observed_weather_from_store(store: StationStore, *, start=None, end=None) -> ObservedWeather:
    """:func:`observed_weather` of a network's station store (valid statuses of its QC config).

    Parameters
    ----------
    store : pipelines.store.StationStore
        The network's observation store.
    start, end : str or pandas.Timestamp, optional
        Naive-UTC period (inclusive).

    Returns
    -------
    ObservedWeather
    """
    ds = store.open(variables=list(_OBSERVED), start=start, end=end)
    return observed_weather(ds, valid_statuses=load_qc(store.network)["valid_statuses"])


def _fill_gaps(x: np.ndarray) -> np.ndarray:
    frame = pd.DataFrame(x.T)
    return frame.interpolate(limit=MAX_GAP_H, limit_area="inside").to_numpy().T


def synthetic_grid(
    lat: np.ndarray, lon: np.ndarray, *, spec: SyntheticSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Regular grid covering the stations plus the margin, snapped to multiples of the spacing.

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Station coordinates [degrees].
    spec : SyntheticSpec
        Spacing and margin.

    Returns
    -------
    grid_lat, grid_lon : numpy.ndarray
        Ascending cell-centre axes [degrees], rounded to 1e-6 degree (GRIB2 precision).
    """
    r = spec.resolution_deg
    lo_lat = np.floor((np.nanmin(lat) - spec.margin_deg) / r) * r
    hi_lat = np.ceil((np.nanmax(lat) + spec.margin_deg) / r) * r
    lo_lon = np.floor((np.nanmin(lon) - spec.margin_deg) / r) * r
    hi_lon = np.ceil((np.nanmax(lon) + spec.margin_deg) / r) * r
    glat, glon = regular_grid(
        np.array([lo_lat, hi_lat - 1e-9]),
        np.array([lo_lon, hi_lon - 1e-9]),
        resolution=r,
        margin=0.0,
    )
    return np.round(glat, 6), np.round(glon, 6)


def _idw_fields(
    obs_lat: np.ndarray,
    obs_lon: np.ndarray,
    values: np.ndarray,
    glat: np.ndarray,
    glon: np.ndarray,
    power: float,
) -> np.ndarray:
    """``(station, step)`` values -> ``(step, lat, lon)`` by IDW, NaN stations left out per step."""
    out = np.full((values.shape[1], len(glat), len(glon)), np.nan)
    ok = ~np.isnan(values)
    patterns, inverse = np.unique(ok.T, axis=0, return_inverse=True)
    for k, pattern in enumerate(patterns):
        if not pattern.any():
            continue
        cols = np.flatnonzero(inverse.ravel() == k)
        sub = values[pattern][:, cols].T  # (steps, stations)
        out[cols] = GRIDDERS["idw"](
            obs_lat[pattern], obs_lon[pattern], sub[:, None, None, :], glat, glon, power=power
        )
    return out


def make_run(
    obs: ObservedWeather,
    issue_time: pd.Timestamp,
    *,
    grid_lat: np.ndarray,
    grid_lon: np.ndarray,
    spec: SyntheticSpec,
) -> dict[str, np.ndarray]:
    """One synthetic run on the grid (registry units; precipitation accumulated from the start).

    Parameters
    ----------
    obs : ObservedWeather
        The truth at the stations.
    issue_time : pandas.Timestamp
        Issue time (naive UTC).
    grid_lat, grid_lon : numpy.ndarray
        Ascending grid axes [degrees].
    spec : SyntheticSpec
        Seed, steps and IDW exponent.

    Returns
    -------
    dict
        Registry variable of :data:`FIELDS` -> ``(step, lat, lon)`` float64; NaN where no
        observation reaches a valid time (e.g. beyond the end of the record).
    """
    issue_time = pd.Timestamp(issue_time)
    steps = np.arange(spec.max_step_h + 1)
    valid = issue_time + pd.to_timedelta(steps, unit="h")
    idx = obs.times.get_indexer(valid)
    have = idx >= 0
    shape = (len(steps), len(grid_lat), len(grid_lon))
    mlat, mlon = np.meshgrid(grid_lat, grid_lon, indexing="ij")
    dist = pairwise_km(mlat.ravel(), mlon.ravel())
    hours = int((issue_time - pd.Timestamp("1970-01-01")) // pd.Timedelta(hours=1))

    def truth(var: str) -> np.ndarray:
        st = np.full((len(obs.stations), len(steps)), np.nan)
        st[:, have] = obs.values[var][:, idx[have]]
        grid = _idw_fields(obs.lat, obs.lon, st, grid_lat, grid_lon, spec.idw_power)
        # a step no station observed: linear in lead between its neighbours (whether the run
        # exists was decided at its issue time, :func:`complete_issue_times`)
        return _fill_steps(grid.reshape(len(steps), -1))

    def rng(var: str) -> np.random.Generator:
        k = [f[0] for f in FIELDS].index(var)
        return np.random.default_rng([spec.seed, hours, k])

    true = {v: truth(v) for v in ("air_temperature", "dew_point_temperature", "eastward_wind",
                                   "northward_wind", "air_pressure", "wind_speed")}  # fmt: skip
    out: dict[str, np.ndarray] = {}
    for var in (
        "air_temperature",
        "dew_point_temperature",
        "eastward_wind",
        "northward_wind",
        "air_pressure",
    ):
        out[var] = perturb(rng(var), var, truth=true[var], leads_h=steps, distance_km=dist)
    out["dew_point_temperature"] = np.fmin(out["dew_point_temperature"], out["air_temperature"])
    rain = np.nan_to_num(truth("precipitation"), nan=0.0)
    hourly = perturb_precipitation(rng("precipitation"), rain, leads_h=steps, distance_km=dist)
    hourly[0] = 0.0  # nothing has accumulated at the issue time
    out["precipitation"] = np.cumsum(hourly, axis=0)
    out["precipitation"][~have] = np.nan
    blh = boundary_layer_height_proxy(
        valid.values[:, None],
        true["wind_speed"],
        lat=mlat.ravel()[None, :],
        lon=mlon.ravel()[None, :],
        air_temperature=true["air_temperature"],
        dew_point_temperature=true["dew_point_temperature"],
    )
    out["boundary_layer_height"] = perturb(
        rng("boundary_layer_height"),
        "boundary_layer_height",
        truth=blh,
        leads_h=steps,
        distance_km=dist,
    )
    return {v: out[v].reshape(shape) for v, _, _ in FIELDS}


def issue_times(start, end, *, run_hours: Iterable[int] = (0, 12)) -> pd.DatetimeIndex:
    """Issue times at ``run_hours`` UTC between ``start`` and ``end`` (inclusive).

    Parameters
    ----------
    start, end : str or pandas.Timestamp
        Naive-UTC bounds.
    run_hours : iterable of int
        Issue hours [UTC].

    Returns
    -------
    pandas.DatetimeIndex
    """
    hours = pd.date_range(pd.Timestamp(start).ceil("h"), pd.Timestamp(end).floor("h"), freq="h")
    return hours[np.isin(hours.hour, list(run_hours))]


def complete_issue_times(obs: ObservedWeather, spec: SyntheticSpec) -> pd.DatetimeIndex:
    """Issue times of the synthetic runs, decided from data up to each issue time only.

    A run is made at ``r`` when some station observes every field at ``r`` (after the gap
    filling of :func:`observed_weather`): whether a run exists never depends on later
    observations, so a missing run tells a model nothing about the future. The one exception
    is the end of the record: runs are made only up to the last observed hour minus
    ``max_step_h`` (there is no weather left to perturb after it, and no observation left to
    score a forecast against). Steps inside a run whose truth is missing at every station are
    filled by :func:`make_run` (linear in lead between the observed steps).
    """
    need = ("air_temperature", "dew_point_temperature", "eastward_wind", "northward_wind",
            "air_pressure", "wind_speed")  # fmt: skip
    ok = np.ones(len(obs.times), bool)
    for v in need:
        ok &= np.isfinite(obs.values[v]).any(axis=0)
    if not ok.any():
        return pd.DatetimeIndex([])
    candidates = issue_times(obs.times[0], obs.times[-1], run_hours=spec.run_hours)
    pos = obs.times.get_indexer(candidates)
    last = obs.times[np.flatnonzero(ok)[-1]]
    keep = (pos >= 0) & ok[np.clip(pos, 0, None)]
    keep &= candidates + pd.Timedelta(hours=spec.max_step_h) <= last
    return candidates[keep]


def _fill_steps(x: np.ndarray) -> np.ndarray:
    """``(step, point)`` truth: steps missing at every point filled linearly along the lead."""
    bad = ~np.isfinite(x).any(axis=1)
    if not bad.any() or bad.all():
        return x
    good = np.flatnonzero(~bad)
    out = x.copy()
    for j in range(x.shape[1]):
        out[bad, j] = np.interp(np.flatnonzero(bad), good, x[good, j])
    return out


def _grib_units() -> dict[str, str]:
    mapping = load_nwp_mapping()
    return {short: mapping.grib[short].units for _, short, _ in FIELDS}


def _netcdf_units() -> dict[str, str]:
    mapping = load_nwp_mapping()
    return {std: mapping.netcdf[std].units for _, _, std in FIELDS}


def write_grib2(
    fields: dict[str, np.ndarray],
    path: Path,
    *,
    issue_time: pd.Timestamp,
    grid_lat: np.ndarray,
    grid_lon: np.ndarray,
) -> Path:
    """Write one run as GRIB2 (all steps, all :data:`FIELDS`), atomically.

    The encoding runs in the ecCodes worker process (:mod:`pipelines.nwp.eccodes_worker`).

    Parameters
    ----------
    fields : dict
        :func:`make_run` output (registry units, ``(step, lat, lon)``, ascending axes).
    path : pathlib.Path
        Output file.
    issue_time : pandas.Timestamp
        Issue time (naive UTC) -> ``dataDate`` / ``dataTime``.
    grid_lat, grid_lon : numpy.ndarray
        Ascending axes [degrees], regular.

    Returns
    -------
    pathlib.Path
    """
    registry = load_variables()["variables"]
    units = _grib_units()
    t = pd.Timestamp(issue_time)
    d_lat = round(float(grid_lat[1] - grid_lat[0]), 6) if len(grid_lat) > 1 else 1.0
    d_lon = round(float(grid_lon[1] - grid_lon[0]), 6) if len(grid_lon) > 1 else 1.0
    header = (
        ("centre", GRIB_CENTRE),
        ("subCentre", 0),
        ("generatingProcessIdentifier", GRIB_GENERATING_PROCESS),
        ("typeOfGeneratingProcess", 2),
        ("productionStatusOfProcessedData", 2),
        ("typeOfProcessedData", 1),
        ("significanceOfReferenceTime", 1),
        ("dataDate", int(f"{t:%Y%m%d}")),
        ("dataTime", int(f"{t:%H%M}")),
        ("Ni", len(grid_lon)),
        ("Nj", len(grid_lat)),
        ("latitudeOfFirstGridPointInDegrees", float(grid_lat[-1])),
        ("longitudeOfFirstGridPointInDegrees", float(grid_lon[0])),
        ("latitudeOfLastGridPointInDegrees", float(grid_lat[0])),
        ("longitudeOfLastGridPointInDegrees", float(grid_lon[-1])),
        ("iDirectionIncrementInDegrees", d_lon),
        ("jDirectionIncrementInDegrees", d_lat),
        ("stepUnits", 1),
    )
    accumulated = (("productDefinitionTemplateNumber", 8), ("typeOfStatisticalProcessing", 1))
    messages = []
    for var, short, _ in FIELDS:
        grib = convert_nwp_units(fields[var], registry[var]["units"], units[short])
        messages.append(
            {
                "shortName": short,
                "keys": accumulated if short == "tp" else (),
                "accumulated": short == "tp",  # tp from the run start: stepRange 0-<step>
                "missing_value": 9999.0,
                "values": np.round(grib[:, ::-1, :], GRIB_DECIMALS[short]),  # north to south
            }
        )
    with atomic_path(path) as tmp:
        write_messages(
            tmp, sample="regular_ll_sfc_grib2", header=header, fields=messages, bits_per_value=16
        )
    return Path(path)


def write_netcdf(
    fields: dict[str, np.ndarray],
    path: Path,
    *,
    issue_time: pd.Timestamp,
    grid_lat: np.ndarray,
    grid_lon: np.ndarray,
) -> Path:
    """Write one run as CF-1.8 netCDF (``time`` x ``step`` x ``latitude`` x ``longitude``), atomically.

    Parameters
    ----------
    fields : dict
        :func:`make_run` output (registry units, ``(step, lat, lon)``, ascending axes).
    path : pathlib.Path
        Output file.
    issue_time : pandas.Timestamp
        Issue time (naive UTC), the one ``time`` (forecast_reference_time).
    grid_lat, grid_lon : numpy.ndarray
        Ascending axes [degrees].

    Returns
    -------
    pathlib.Path
    """
    registry = load_variables()["variables"]
    units = _netcdf_units()
    t = pd.Timestamp(issue_time)
    n_steps = next(iter(fields.values())).shape[0]
    steps = np.arange(n_steps, dtype="int32")
    data = {}
    for var, _, std in FIELDS:
        x = convert_nwp_units(fields[var], registry[var]["units"], units[std])
        attrs = {"standard_name": std, "long_name": registry[var]["long_name"], "units": units[std]}
        if var in _HEIGHT_M:
            attrs["coordinates"] = "height valid_time"
        elif var in ("eastward_wind", "northward_wind"):
            attrs["coordinates"] = "height_above_ground_wind valid_time"
        else:
            attrs["coordinates"] = "valid_time"
        if var == "precipitation":
            attrs["long_name"] = "precipitation amount accumulated from the forecast reference time"
        data[std] = xr.Variable(
            ("time", "step", "latitude", "longitude"), x[None].astype("float32"), attrs
        )
    hours_since = int((t - pd.Timestamp("1970-01-01")) // pd.Timedelta(hours=1))
    coords = {
        "time": xr.Variable(
            "time",
            np.array([hours_since], dtype="int32"),
            {"standard_name": "forecast_reference_time", "long_name": "NWP issue time",
             "units": "hours since 1970-01-01 00:00:00", "calendar": "standard"},
        ),
        "step": xr.Variable(
            "step", steps,
            {"standard_name": "forecast_period", "long_name": "forecast lead", "units": "hours"},
        ),
        "valid_time": xr.Variable(
            ("time", "step"),
            (hours_since + steps)[None, :].astype("int32"),
            {"standard_name": "time", "long_name": "valid time",
             "units": "hours since 1970-01-01 00:00:00", "calendar": "standard"},
        ),
        "latitude": xr.Variable(
            "latitude", np.asarray(grid_lat, float),
            {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"},
        ),
        "longitude": xr.Variable(
            "longitude", np.asarray(grid_lon, float),
            {"standard_name": "longitude", "units": "degrees_east", "axis": "X"},
        ),
        "height": xr.Variable(
            (), np.float64(2.0),
            {"standard_name": "height", "units": "m", "positive": "up", "axis": "Z"},
        ),
        "height_above_ground_wind": xr.Variable(
            (), np.float64(_WIND_HEIGHT_M), {"standard_name": "height", "units": "m", "positive": "up"}
        ),
    }  # fmt: skip
    ds = xr.Dataset(data, coords=coords)
    ds.attrs = {
        "Conventions": "CF-1.8",
        "title": "Synthetic NWP run",
        "source": SOURCE,
        "institution": "Qingyuan (synthetic data, not from a weather centre)",
        "comment": (
            "Observed station weather spread to the grid by inverse-distance weighting, plus "
            "errors of published NWP verification size (features.nwp_errors); boundary-layer "
            "height is a diagnostic proxy (features.stagnation). Not a real forecast."
        ),
    }
    enc = {name: {"zlib": True, "complevel": 4, "_FillValue": np.float32(np.nan)} for name in data}
    for name in ("time", "valid_time", "step"):
        enc[name] = {"_FillValue": None, "dtype": "int32"}
    for name in ("latitude", "longitude", "height", "height_above_ground_wind"):
        enc[name] = {"_FillValue": None}
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, format="NETCDF4", engine="netcdf4", encoding=enc)
    return Path(path)


def _manifest(spec: SyntheticSpec, obs: ObservedWeather) -> dict:
    return {
        "format_version": _FORMAT_VERSION,
        "source": SOURCE,
        "spec": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(spec).items()},
        "stations": obs.stations,
    }


def ensure_synthetic_feed(
    obs: ObservedWeather,
    cache_dir: Path,
    *,
    issues: Iterable[pd.Timestamp] | None = None,
    spec: SyntheticSpec | None = None,
    formats: tuple[str, ...] = ("grib2", "netcdf"),
) -> dict[pd.Timestamp, dict[str, Path]]:
    """Generate (first use) or reuse the synthetic runs in a data-cache folder.

    Parameters
    ----------
    obs : ObservedWeather
        Truth (:func:`observed_weather` of ``StationStore.open()``).
    cache_dir : pathlib.Path
        E.g. ``<store>/<network>/nwp-cache/synthetic``.
    issues : iterable of pandas.Timestamp, optional
        Issue times (default: :func:`complete_issue_times`, decided from data up to each
        issue time).
    spec : SyntheticSpec, optional
        Settings (default :class:`SyntheticSpec()`).
    formats : tuple of str
        Any of ``"grib2"``, ``"netcdf"``.

    Returns
    -------
    dict
        Issue time -> format -> file.

    Raises
    ------
    ValueError
        If the folder holds a feed made with other settings or stations (named), or for an
        unknown format.
    """
    spec = spec or SyntheticSpec()
    unknown = set(formats) - {"grib2", "netcdf"}
    if unknown:
        raise ValueError(f"unknown synthetic NWP format(s) {sorted(unknown)}; known: grib2, netcdf")
    cache_dir = Path(cache_dir)
    manifest = _manifest(spec, obs)
    mpath = cache_dir / "synthetic.json"
    if mpath.exists():
        old = json.loads(mpath.read_text(encoding="utf-8"))
        if old != manifest:
            raise ValueError(
                f"{mpath}: the synthetic NWP cache was made with other settings or stations "
                f"({old.get('spec')} vs {manifest['spec']}); delete {cache_dir} to regenerate"
            )
    else:
        atomic_write(mpath, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    if issues is None:
        issues = complete_issue_times(obs, spec)
    glat, glon = synthetic_grid(obs.lat, obs.lon, spec=spec)
    out: dict[pd.Timestamp, dict[str, Path]] = {}
    issues = list(issues)
    for t in track(issues, total=len(issues), desc="synthetic weather-forecast runs"):
        t = pd.Timestamp(t)
        paths = {
            "grib2": cache_dir / "grib2" / f"{t:%Y%m%d%H}.grib2",
            "netcdf": cache_dir / "netcdf" / f"{t:%Y%m%d%H}.nc",
        }
        paths = {f: paths[f] for f in formats}
        todo = [f for f, p in paths.items() if not p.exists()]
        if todo:
            fields = make_run(obs, t, grid_lat=glat, grid_lon=glon, spec=spec)
            kw = {"issue_time": t, "grid_lat": glat, "grid_lon": glon}
            if "grib2" in todo:
                write_grib2(fields, paths["grib2"], **kw)
            if "netcdf" in todo:
                write_netcdf(fields, paths["netcdf"], **kw)
        out[t] = paths
    return out


def perfect_prognosis_runs(
    obs: ObservedWeather,
    *,
    feed: str = "perfect-prognosis",
    spec: SyntheticSpec | None = None,
    latency_hours: float = 5.0,
):
    """Track (c) of the benchmark: "runs" that are the observed future weather at the stations.

    The same truth as the synthetic feed (:func:`observed_weather`: cleaned, gaps of up to
    :data:`MAX_GAP_H` hours filled, boundary-layer height from the proxy) without any error and
    without the grid: the upper bound of what a weather forecast can give. Runs at
    ``spec.run_hours``, periods ``0..max_step_h``, NaN where the record ends. Never an
    operational feed (``synthetic`` is true and ``source`` says "perfect prognosis").

    Returns
    -------
    features.nwp_features.NWPRuns
    """
    from features.nwp_features import NWPRuns

    spec = spec or SyntheticSpec()
    runs = issue_times(obs.times[0], obs.times[-1], run_hours=spec.run_hours)
    n = spec.max_step_h + 1
    pos = obs.times.get_indexer(runs)[:, None] + np.arange(n)[None, :]  # R x P
    ok = (pos >= 0) & (pos < len(obs.times))
    pc = np.clip(pos, 0, len(obs.times) - 1)
    truth = {v: obs.values[v] for v, _, _ in FIELDS if v in obs.values}
    truth["boundary_layer_height"] = boundary_layer_height_proxy(
        obs.times.values[None, :],
        obs.values["wind_speed"],
        lat=obs.lat[:, None],
        lon=obs.lon[:, None],
        air_temperature=obs.values["air_temperature"],
        dew_point_temperature=obs.values["dew_point_temperature"],
    )
    values = {}
    for v, x in truth.items():
        a = x[:, pc].transpose(1, 0, 2)  # R x S x P
        values[v] = np.where(ok[:, None, :], a, np.nan).astype("float32")
    if "precipitation" in values:  # missing hourly rain counts as none, as in the synthetic feed
        values["precipitation"] = np.where(
            ok[:, None, :], np.nan_to_num(values["precipitation"]), np.nan
        ).astype("float32")
    return NWPRuns(
        feed=feed,
        stations=list(obs.stations),
        run_times=runs,
        periods=np.arange(n),
        values=values,
        latency_hours=latency_hours,
        source="perfect prognosis: the observed future weather (benchmark upper bound)",
        synthetic=True,
    )
