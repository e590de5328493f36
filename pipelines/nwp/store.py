"""The CF forecast store of NWP runs at stations, beside the observation store.

Layout: ``<store>/<network>/nwp/<feed>/<feed>_<YYYYMMDDTHHMM>Z.nc``, one file per run, dims
``station x lead_time``, with ``forecast_reference_time`` (scalar), ``forecast_period`` [h] and
the valid ``time`` of each lead. Writes are atomic and all-or-nothing per ingest; re-ingesting
the same files rewrites identical content.

Leak safety: :func:`runs_visible_at` lists runs by file name and opens only the newest one
with ``issue + latency <= T``; later runs are never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from features.units import cf_unit_attrs
from pipelines.config.locations import code_version
from pipelines.config.networks import NetworkSpec, WeatherFeedSpec, resolve_files
from pipelines.config.registry import load_variables
from pipelines.errors import SourceError
from pipelines.files import atomic_batch
from pipelines.nwp.runs import StationRun, grid_to_stations

__all__ = [
    "ValidTimeFeatures",
    "feed_files",
    "ingest_nwp",
    "list_runs",
    "load_feed_runs",
    "read_feed",
    "run_path",
    "runs_visible_at",
    "synthetic_cache",
    "valid_time_features",
    "write_runs",
]

_TIME_UNITS = "minutes since 1970-01-01 00:00:00"


def _feed_dir(store: Path, feed: str) -> Path:
    """``store`` is the network's store directory (``<store_root>/<network>``)."""
    return Path(store) / "nwp" / feed


def run_path(store: Path, feed: str, issue_time: pd.Timestamp) -> Path:
    """File of one run: ``<store>/nwp/<feed>/<feed>_<YYYYMMDDTHHMM>Z.nc``."""
    return _feed_dir(store, feed) / f"{feed}_{pd.Timestamp(issue_time):%Y%m%dT%H%M}Z.nc"


def list_runs(store: Path, feed: str) -> list[pd.Timestamp]:
    """Issue times (naive UTC) of the stored runs of a feed, oldest first (from file names)."""
    out = []
    for p in _feed_dir(store, feed).glob(f"{feed}_????????T????Z.nc"):
        out.append(pd.Timestamp(p.stem[len(feed) + 1 : -1]))
    return sorted(out)


def _to_dataset(run: StationRun, network: NetworkSpec, registry: dict) -> xr.Dataset:
    by_id = {s.id: s for s in network.stations}
    lead = run.leads.astype("float64")
    valid = run.issue_time + pd.to_timedelta(lead, unit="h")
    data = {}
    for v in sorted(run.values):
        meta = registry[v]
        attrs = {
            "long_name": f"{meta['long_name']} (NWP forecast)",
            **cf_unit_attrs(meta),
            "coordinates": "time forecast_reference_time lat lon",
        }
        if meta.get("standard_name"):
            attrs["standard_name"] = meta["standard_name"]
        if "valid_range" in meta:
            attrs["valid_min"] = np.float32(meta["valid_range"][0])
            attrs["valid_max"] = np.float32(meta["valid_range"][1])
        if v == "precipitation":
            attrs["cell_methods"] = "forecast_period: sum (interval ending at the valid time)"
        data[v] = xr.Variable(("station", "lead_time"), run.values[v].astype("float32"), attrs)
    coords = {
        "station_id": xr.Variable(
            "station", np.array(run.stations, dtype=object), {"cf_role": "timeseries_id"}
        ),
        "lat": xr.Variable(
            "station",
            np.array([by_id[s].lat for s in run.stations]),
            {"standard_name": "latitude", "units": "degrees_north"},
        ),
        "lon": xr.Variable(
            "station",
            np.array([by_id[s].lon for s in run.stations]),
            {"standard_name": "longitude", "units": "degrees_east"},
        ),
        "forecast_period": xr.Variable(
            "lead_time",
            lead,
            {"standard_name": "forecast_period", "long_name": "lead time", "units": "hours"},
        ),
        "forecast_reference_time": xr.Variable(
            (), np.datetime64(run.issue_time, "ns"), {"standard_name": "forecast_reference_time"}
        ),
        "time": xr.Variable(
            "lead_time", valid.values, {"standard_name": "time", "long_name": "valid time"}
        ),
    }
    ds = xr.Dataset(data, coords=coords)
    ds.attrs = {
        "Conventions": "CF-1.8",
        "featureType": "timeSeries",
        "title": f"NWP feed {run.feed} at the stations of network {network.name}",
        "network": network.name,
        "feed": run.feed,
        "nwp_issue_time": f"{run.issue_time:%Y-%m-%dT%H:%M:%SZ}",
        "source_files": " ".join(Path(f).name for f in run.files),
        "interpolation": run.method,
        "history": f"written by qingyuan {code_version()} (pipelines.nwp.store)",
    }
    return ds


def _encoding(ds: xr.Dataset) -> dict:
    enc = {
        "time": {"units": _TIME_UNITS, "calendar": "standard", "dtype": "int64"},
        "forecast_reference_time": {"units": _TIME_UNITS, "calendar": "standard", "dtype": "int64"},
        "station_id": {"dtype": "S1"},
        "lat": {"_FillValue": None},
        "lon": {"_FillValue": None},
        "forecast_period": {"_FillValue": None},
    }
    for v in ds.data_vars:
        enc[v] = {"_FillValue": np.float32(np.nan), "zlib": True, "complevel": 1}
    return enc


def synthetic_cache(store: Path, feed: WeatherFeedSpec) -> Path:
    """Data-cache folder of a synthetic feed: ``<store>/nwp-cache/<feed>``."""
    return Path(store) / "nwp-cache" / feed.name


def feed_files(network: NetworkSpec, feed: WeatherFeedSpec, store: Path) -> list[Path]:
    """List the files of a feed: its ``files`` globs, or a synthetic feed's generated files.

    A synthetic feed (``synthetic:`` in the YAML) is generated from the network's observed
    weather in the station store on first use (:func:`pipelines.nwp.synthetic.ensure_synthetic_feed`)
    and reused afterwards; runs for new observations are added as they arrive.
    """
    if feed.synthetic is None:
        return resolve_files(feed.files, network.path or ".")
    from pipelines.nwp.synthetic import (
        SyntheticSpec,
        ensure_synthetic_feed,
        observed_weather_from_store,
    )
    from pipelines.store import StationStore

    cfg = feed.synthetic
    spec = SyntheticSpec(
        seed=cfg.seed,
        resolution_deg=cfg.resolution_deg,
        margin_deg=cfg.margin_deg,
        max_step_h=cfg.max_step_h,
        run_hours=tuple(cfg.run_hours),
    )
    station_store = StationStore(Path(store).parent, network, load_variables()["variables"])
    obs = observed_weather_from_store(station_store)
    paths = ensure_synthetic_feed(
        obs, synthetic_cache(store, feed), spec=spec, formats=(feed.format,)
    )
    return [p[feed.format] for _, p in sorted(paths.items())]


def read_feed(
    network: NetworkSpec,
    feed: WeatherFeedSpec,
    *,
    now: pd.Timestamp | None = None,
    files: list[Path] | None = None,
) -> list[StationRun]:
    """Read every file of a feed into station runs (parts of one run merged), oldest first.

    ``files`` overrides the feed's own file globs (e.g. the generated files of a synthetic feed,
    or only the files not yet in the store).

    Raises
    ------
    SourceError
        From the readers (file, message/variable, reason), or when the feed has no file.
    """
    from pipelines.nwp.cf_netcdf import read_cf_netcdf
    from pipelines.nwp.grib import read_grib
    from pipelines.nwp.points import read_points

    files = resolve_files(feed.files, network.path or ".") if files is None else files
    if not files and feed.synthetic is None:
        raise SourceError(str(feed.files), f"feed {feed.name!r}: no file matches", field="files")
    runs: dict[pd.Timestamp, StationRun] = {}
    for path in files:
        if feed.format == "points":
            parts = read_points(path, network=network, feed=feed, now=now)
        else:
            reader = read_grib if feed.format == "grib2" else read_cf_netcdf
            grids = reader(path, step_hours=feed.step_hours, now=now)
            parts = [grid_to_stations(g, network, feed.name) for g in grids]
        for part in parts:
            have = runs.get(part.issue_time)
            runs[part.issue_time] = part if have is None else have.merge(part)
    return [runs[t] for t in sorted(runs)]


def write_runs(store: Path, network: NetworkSpec, runs: list[StationRun]) -> list[Path]:
    """Write runs to the store, all files moved into place together (atomic batch)."""
    registry = load_variables()["variables"]
    written = []
    with atomic_batch() as batch:
        for run in runs:
            ds = _to_dataset(run, network, registry)
            final = run_path(store, run.feed, run.issue_time)
            ds.to_netcdf(batch.path(final), encoding=_encoding(ds), format="NETCDF4")
            written.append(final)
    return written


def ingest_nwp(
    network: NetworkSpec, store_root: Path | str, *, now: pd.Timestamp | None = None
) -> dict[str, list[Path]]:
    """Read every weather-forecast feed of a network and write its runs (idempotent).

    Every file of every feed is read and checked before anything is written, so a bad file
    leaves the store unchanged.

    Parameters
    ----------
    network : NetworkSpec
        With its ``weather_forecasts`` feeds.
    store_root : pathlib.Path or str
        Store root; runs go to ``<store_root>/<network>/nwp/<feed>/``.
    now : pandas.Timestamp, optional
        The present (naive UTC) for the future-issue-time check.

    Returns
    -------
    dict
        Feed name -> files written.
    """
    store = Path(store_root) / network.name
    runs, todo = {}, {}
    for feed in network.weather_forecasts:
        files = feed_files(network, feed, store)
        if not files and feed.synthetic is None:
            raise SourceError(
                str(feed.files), f"feed {feed.name!r}: no file matches", field="files"
            )
        todo[feed.name] = _not_yet_stored(store, feed.name, files)
        runs[feed.name] = (
            read_feed(network, feed, now=now, files=todo[feed.name]) if todo[feed.name] else []
        )
    flat = [r for rs in runs.values() for r in rs]
    written = write_runs(store, network, flat) if flat else []
    for name, files in todo.items():
        if files:
            _record_ingested(store, name, files, runs[name])
    out: dict[str, list[Path]] = {f: [] for f in runs}
    for r, p in zip(flat, written, strict=True):
        out[r.feed].append(p)
    return out


def _index_path(store: Path, feed: str) -> Path:
    return _feed_dir(store, feed) / "ingested.json"


def _not_yet_stored(store: Path, feed: str, files: list[Path]) -> list[Path]:
    """Files to read: new or changed ones, and every other file of a run they are part of.

    ``<store>/nwp/<feed>/ingested.json`` records each ingested source file's size,
    modification time and the runs it held; it is written after the runs, so a crash in between
    reads the files again. When one part of a run changes (a corrected temperature file), all
    files of that run are read again, so that the rewritten run keeps its other parts and a
    correction that drops a variable or changes the steps replaces the run as a whole.
    """
    import json

    p = _index_path(store, feed)
    seen = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
    key = {Path(f): str(Path(f).resolve()) for f in files}
    changed = set()
    for f, k in key.items():
        st = f.stat()
        rec = seen.get(k)
        if rec is None or rec[:2] != [st.st_size, st.st_mtime_ns]:
            changed.add(f)
    touched = {r for f in changed for r in (seen.get(key[f]) or [0, 0, []])[2]}
    for f, k in key.items():
        if f not in changed and set((seen.get(k) or [0, 0, []])[2]) & touched:
            changed.add(f)
    return [f for f in files if Path(f) in changed]


def _record_ingested(store: Path, feed: str, files: list[Path], runs: list[StationRun]) -> None:
    import json

    from pipelines.files import atomic_write

    p = _index_path(store, feed)
    seen = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
    held: dict[str, list[str]] = {}
    for run in runs:
        for f in run.files:
            held.setdefault(Path(f).name, []).append(f"{run.issue_time:%Y%m%dT%H%M}")
    for f in files:
        st = Path(f).stat()
        seen[str(Path(f).resolve())] = [st.st_size, st.st_mtime_ns, held.get(Path(f).name, [])]
    atomic_write(p, json.dumps(seen, indent=0, sort_keys=True) + "\n")


def runs_visible_at(
    store: Path | str, feed: str, issue_time: pd.Timestamp | str, latency_hours: float
) -> xr.Dataset | None:
    """Return the newest run of a feed available at a forecast issue time, or None.

    Parameters
    ----------
    store : pathlib.Path or str
        The network's store directory (``<store_root>/<network>``).
    feed : str
        Feed name.
    issue_time : pandas.Timestamp or str
        Forecast issue time T (naive UTC).
    latency_hours : float
        Delay between an NWP run's issue time and its availability [h].

    Returns
    -------
    xarray.Dataset or None
        The run with the latest ``nwp_issue`` such that ``nwp_issue + latency <= T`` (loaded,
        file closed); never a later run. None when there is none.
    """
    from features.nwp_features import visible_runs

    runs = list_runs(Path(store), feed)
    i = int(visible_runs(pd.DatetimeIndex(runs), pd.DatetimeIndex([issue_time]), latency_hours)[0])
    if not runs or i < 0:
        return None
    with xr.open_dataset(run_path(Path(store), feed, runs[i])) as ds:
        out = ds.load()
    return out.assign_coords(station=out["station_id"].values.astype(str))


@dataclass
class ValidTimeFeatures:
    """NWP values at the valid time of each lead of a forecast issued at T.

    Attributes
    ----------
    issue_time : pandas.Timestamp
        Forecast issue time T (naive UTC).
    run_issue_time : pandas.Timestamp or None
        Issue time of the NWP run used (None: no run visible).
    data : xarray.Dataset
        Variables on ``(station, lead)``, ``lead`` [h] after T; NaN where missing.
    missing : dict
        Lead [h] -> reason, for every lead the run cannot give.
    """

    issue_time: pd.Timestamp
    run_issue_time: pd.Timestamp | None
    data: xr.Dataset
    missing: dict[int, str] = field(default_factory=dict)


def valid_time_features(
    store: Path | str,
    feed: str,
    issue_time: pd.Timestamp | str,
    leads: list[int] | np.ndarray,
    *,
    latency_hours: float,
    variables: list[str] | None = None,
    stations: list[str] | None = None,
) -> ValidTimeFeatures:
    """NWP values at T + h for each lead h, from the newest run visible at T.

    Parameters
    ----------
    store : pathlib.Path or str
        The network's store directory.
    feed : str
        Feed name.
    issue_time : pandas.Timestamp or str
        Forecast issue time T (naive UTC).
    leads : sequence of int
        Forecast leads [h].
    latency_hours : float
        Feed latency [h] (see :func:`runs_visible_at`).
    variables : list of str, optional
        Registry variables (default: those of the run).
    stations : list of str, optional
        Station ids (default: those of the run).

    Returns
    -------
    ValidTimeFeatures
        The value for lead h is the run's value at forecast period ``T + h - nwp_issue``; NaN
        with a reason in ``missing`` where the run does not reach it.
    """
    t = pd.Timestamp(issue_time)
    leads = np.asarray(leads, dtype=int)
    run = runs_visible_at(store, feed, t, latency_hours)
    if run is None:
        names = variables or []
        st = stations or []
        data = xr.Dataset(
            {v: (("station", "lead"), np.full((len(st), leads.size), np.nan)) for v in names},
            coords={"station": st, "lead": leads},
        )
        reason = (
            f"no run of feed {feed!r} visible at {t:%Y-%m-%dT%H:%MZ} (latency {latency_hours:g} h)"
        )
        return ValidTimeFeatures(t, None, data, {int(h): reason for h in leads})
    r = pd.Timestamp(run["forecast_reference_time"].values)
    names = variables or sorted(run.data_vars)
    st = stations or list(run["station"].values)
    periods = run["forecast_period"].values.astype("float64")
    need = leads + (t - r) / pd.Timedelta(hours=1)
    out = {}
    missing: dict[int, str] = {}
    pos = {float(p): j for j, p in enumerate(periods)}
    for h, p in zip(leads, need, strict=True):
        if float(p) not in pos:
            missing[int(h)] = (
                f"run {r:%Y-%m-%dT%H:%MZ} of feed {feed!r} has no forecast period {p:g} h "
                f"(it reaches {periods.max():g} h)"
            )
    for v in names:
        arr = np.full((len(st), leads.size), np.nan)
        if v in run:
            da = run[v].reindex(station=st)
            for k, p in enumerate(need):
                if float(p) in pos:
                    arr[:, k] = da.values[:, pos[float(p)]]
        out[v] = (("station", "lead"), arr)
    data = xr.Dataset(out, coords={"station": st, "lead": leads})
    data.attrs = {"feed": feed, "nwp_issue_time": f"{r:%Y-%m-%dT%H:%M:%SZ}"}
    return ValidTimeFeatures(t, r, data, missing)


def _hourly(values: np.ndarray, periods: np.ndarray, variable: str, n: int) -> np.ndarray:
    """``(station, period)`` on the run's own steps -> hourly periods ``0..n-1``.

    States are interpolated linearly between steps (not beyond the last one); a precipitation
    amount of a step (the interval ending at its valid time) is spread evenly over its hours.
    """
    out = np.full((values.shape[0], n), np.nan)
    hours = np.arange(n, dtype=float)
    if len(periods) == n and np.array_equal(periods, hours):
        return values.astype(float)  # already hourly from 0 h (the synthetic feed, most NWP)
    if variable == "precipitation":
        # each step's amount covers the hours since the previous step (the first: since 0 h)
        prev = np.concatenate([[0.0 if periods[0] > 0 else periods[0]], periods[:-1]])
        for j, (a, b) in enumerate(zip(prev, periods, strict=True)):
            if b <= a:
                if 0 <= b < n:
                    out[:, int(b)] = values[:, j]
                continue
            sel = (hours > a) & (hours <= b)
            out[:, sel] = values[:, j : j + 1] / (b - a)
        return out
    for i in range(values.shape[0]):
        ok = np.isfinite(values[i])
        if ok.sum() >= 2:
            x = periods[ok]
            inside = (hours >= x[0]) & (hours <= x[-1])
            out[i, inside] = np.interp(hours[inside], x, values[i, ok])
        elif ok.sum() == 1:
            h = int(periods[ok][0])
            if 0 <= h < n and periods[ok][0] == h:
                out[i, h] = values[i, ok][0]
    return out


def load_feed_runs(
    store: Path | str,
    network: NetworkSpec,
    feed: WeatherFeedSpec,
    *,
    issue_time: pd.Timestamp | str | None = None,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
):
    """Load the stored runs of a feed as one cube (:class:`features.nwp_features.NWPRuns`), or None.

    Parameters
    ----------
    store : pathlib.Path or str
        The network's store directory (``<store_root>/<network>``).
    network : NetworkSpec
        The network (station order of the cube).
    feed : WeatherFeedSpec
        The feed (name, latency, synthetic or not).
    issue_time : pandas.Timestamp or str, optional
        Forecast issue time T (naive UTC): only the newest run visible at T
        (``run + latency <= T``, :func:`runs_visible_at`) is read; later runs never are.
    start, end : pandas.Timestamp or str, optional
        Otherwise, the runs issued in ``[start, end]`` (default all).

    Returns
    -------
    NWPRuns or None
        None when no stored run qualifies.
    """
    from features.nwp_features import NWPRuns, visible_runs

    store = Path(store)
    times = list_runs(store, feed.name)
    if issue_time is not None:
        i = int(
            visible_runs(
                pd.DatetimeIndex(times), pd.DatetimeIndex([issue_time]), feed.latency_hours
            )[0]
        ) if times else -1  # fmt: skip
        times = times[i : i + 1] if i >= 0 else []
    else:
        if start is not None:
            times = [t for t in times if t >= pd.Timestamp(start)]
        if end is not None:
            times = [t for t in times if t <= pd.Timestamp(end)]
    if not times:
        return None
    import netCDF4

    stations = network.station_ids()
    parts, files = [], []
    for t in times:  # netCDF4 directly: ~10x faster to open than xarray for thousands of runs
        with netCDF4.Dataset(run_path(store, feed.name, t)) as nc:
            nc.set_auto_mask(False)
            raw = np.asarray(nc["station_id"][:])  # strings (``_Encoding``) or a char array
            ids = (netCDF4.chartostring(raw) if raw.ndim == 2 else raw).astype(str)
            periods = np.asarray(nc["forecast_period"][:], float)
            data = {
                v: np.asarray(x[:], float)
                for v, x in nc.variables.items()
                if x.dimensions == ("station", "lead_time")
            }
            files = str(getattr(nc, "source_files", "")).split()
        parts.append((pd.Index(ids).get_indexer(stations), periods, data))
    n = int(max(p.max() for _, p, _ in parts)) + 1
    variables = sorted({v for *_, d in parts for v in d})
    values = {v: np.full((len(times), len(stations), n), np.nan, "float32") for v in variables}
    for k, (pos, periods, data) in enumerate(parts):
        have = pos >= 0
        for v, arr in data.items():
            values[v][k, have] = _hourly(arr, periods, v, n)[pos[have]]
    from pipelines.nwp.synthetic import SOURCE

    return NWPRuns(
        feed=feed.name,
        stations=stations,
        run_times=pd.DatetimeIndex(times),
        periods=np.arange(n),
        values=values,
        latency_hours=float(feed.latency_hours),
        source=(SOURCE if feed.synthetic is not None else f"NWP feed {feed.name}")
        + (f"; run files {' '.join(files)}" if len(times) == 1 and files else ""),
        synthetic=feed.synthetic is not None,
    )
