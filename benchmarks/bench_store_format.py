"""Station-store formats side by side (issue #15): CF netCDF per month, netCDF per group, Zarr v3.

Run: ``.venv/bin/python benchmarks/bench_store_format.py`` (2,000 stations x 6 variables x 1 year
hourly) or ``--stations 200 --months 2`` for a quick run; ``--no-write`` prints only. Everything
is written under a temporary folder.

Candidates, each holding the same CF variables (value float32, ``_flag`` / ``_source_flag``
int8, ``_qc`` int16 per variable; :meth:`pipelines.store.StationStore._to_dataset` makes every
dataset, so the attributes are the store's):

- **monthly netCDF (today)**: ``StationStore.upsert`` month by month (merge + QC + atomic
  write, one writer under the lock), and its write step alone (``_to_dataset`` +
  ``to_netcdf``, zlib 1, tmp file + ``os.replace``);
- **netCDF per station group and month**: ``--group`` stations per file, written by
  ``--writers`` processes in parallel, tmp file + ``os.replace``;
- **Zarr v3** (zarr 3.1.6, one store for the year): metadata written once, then region writes
  of (station group x month) chunks from ``--writers`` processes in parallel (chunks =
  ``--group`` stations x one month, aligned, so writers never share a chunk).

Measured: write throughput (station-hours/s, all variables), read latency of one station's
year and of one hour across all stations (median of 5, warm page cache), crash safety (a writer
killed with SIGKILL mid-write, then: does the store open, what is lost, what is corrupt), the CF
attributes of the Zarr store as xarray opens it and its export to CF netCDF (checked with
``compliance-checker --test=cf:1.8``). Peak memory: largest RSS of the process tree (writers
included) sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._machine import machine, write_section  # noqa: E402
from benchmarks.bench_national import Stage  # noqa: E402

TITLE = "Station store format at national scale (issue #15)"
VARS = ["pm25", "pm10", "so2", "no2", "co", "o3"]
START = pd.Timestamp("2024-01-01")


# ---------------------------------------------------------------------------------- set-up
def make_network(tmp: Path, n: int) -> Path:
    """A network YAML of ``n`` synthetic air stations (positions over China)."""
    from benchmarks.national import AIR_VARIABLES, _network_yaml, city_centres

    rng = np.random.default_rng(1)
    lon, lat = city_centres(n, rng)
    ids = [f"A{i:05d}" for i in range(n)]
    path = tmp / "storebench.yml"
    _network_yaml(path, "storebench", "air", AIR_VARIABLES, ids, lat, lon, tmp / "none")
    return path


@functools.lru_cache(maxsize=4)
def _ctx(yml: Path) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    from pipelines.config import load_network, load_qc, load_variables
    from pipelines.store import StationStore

    net = load_network(str(yml))
    reg = load_variables()["variables"]
    return net, StationStore, reg, load_qc(net)


def month_values(s0: int, s1: int, month: pd.Timestamp) -> tuple[pd.DatetimeIndex, dict]:
    """Deterministic synthetic values of stations ``s0:s1`` over one month (UTC hours)."""
    times = pd.date_range(month, month + pd.offsets.MonthBegin(1), freq="h", inclusive="left")
    rng = np.random.default_rng([s0, month.month, month.year])
    S, T = s1 - s0, len(times)
    base = rng.lognormal(np.log(40), 0.4, (S, 1)) * (1 + 0.3 * np.sin(np.arange(T) / 24 * 6.28))
    vals = {}
    for k, v in enumerate(VARS):
        a = (base * (1 + 0.2 * k) * rng.lognormal(0, 0.2, (S, T))).astype("float32")
        a[rng.random((S, T)) < 0.02] = np.nan
        vals[v] = a.astype("float64")
    return times, vals


def cf_dataset(store: Any, stations: list[str], times: pd.DatetimeIndex, vals: dict, month):
    """The store's own CF dataset of these values (flags N, no QC bits)."""
    S, T = len(stations), len(times)
    zeros8 = {v: np.zeros((S, T), "int8") for v in vals}
    return store._to_dataset(
        stations,
        times,
        vals,
        zeros8,
        {v: np.zeros((S, T), "uint16") for v in vals},
        {v: np.where(np.isnan(a), 10, 0).astype("int8") for v, a in vals.items()},
        month,
    )


def months(n: int) -> list[pd.Timestamp]:
    """The first ``n`` month starts of the benchmark year."""
    return list(pd.date_range(START, periods=n, freq="MS"))


# ---------------------------------------------------------------------------------- writers
def write_upsert(yml: Path, root: Path, n_months: int) -> int:
    """Today's path: ``StationStore.upsert`` month by month (merge + QC + write)."""
    from pipelines.normalise import CanonicalBlock

    net, StationStore, reg, qc = _ctx(yml)
    store = StationStore(root, net, reg)
    ids = [s.id for s in net.stations]
    rows = 0
    for m in months(n_months):
        times, vals = month_values(0, len(ids), m)
        S, T = len(ids), len(times)
        block = CanonicalBlock(
            ids,
            times,
            vals,
            {v: np.zeros((S, T), "int8") for v in vals},
            {v: np.zeros((S, T), "uint16") for v in vals},
            np.ones((S, T), bool),
        )
        store.upsert(block, qc)
        rows += S * T
    return rows


def write_monthly_nc(yml: Path, root: Path, n_months: int) -> int:
    """Today's format, write step only: one CF netCDF per month (tmp + os.replace, fsync)."""
    from pipelines.files import atomic_batch

    net, StationStore, reg, _ = _ctx(yml)
    store = StationStore(root, net, reg)
    store.dir.mkdir(parents=True, exist_ok=True)
    ids = [s.id for s in net.stations]
    rows = 0
    for m in months(n_months):
        times, vals = month_values(0, len(ids), m)
        ds = cf_dataset(store, ids, times, vals, m)
        with atomic_batch(fsync=True) as batch:
            ds.to_netcdf(
                batch.path(store.path_for(m)), format="NETCDF4", encoding=store._encoding(ds)
            )
        rows += len(ids) * len(times)
    return rows


def _group_nc_task(job: tuple[str, str, int, int, int, int]) -> int:
    yml, root, g, s0, s1, n_months = job
    from pipelines.files import atomic_batch

    net, StationStore, reg, _ = _ctx(Path(yml))
    store = StationStore(Path(root), net, reg)
    ids = [s.id for s in net.stations][s0:s1]
    rows = 0
    for m in months(n_months):
        times, vals = month_values(s0, s1, m)
        ds = cf_dataset(store, ids, times, vals, m)
        final = Path(root) / f"grp{g:03d}_{m:%Y-%m}.nc"
        with atomic_batch(fsync=True) as batch:
            ds.to_netcdf(batch.path(final), format="NETCDF4", encoding=store._encoding(ds))
        rows += len(ids) * len(times)
    return rows


def _groups(n: int, size: int) -> list[tuple[int, int, int]]:
    return [(g, s0, min(n, s0 + size)) for g, s0 in enumerate(range(0, n, size))]


def write_group_nc(yml: Path, root: Path, n: int, n_months: int, group: int, writers: int) -> int:
    """netCDF per station group and month, ``writers`` processes."""
    root.mkdir(parents=True, exist_ok=True)
    jobs = [(str(yml), str(root), g, a, b, n_months) for g, a, b in _groups(n, group)]
    with mp.get_context("spawn").Pool(writers) as pool:
        return sum(pool.map(_group_nc_task, jobs))


def zarr_template(yml: Path, path: Path, n: int, n_months: int, group: int) -> None:
    """Write the Zarr v3 store's metadata and coordinates (no data chunks)."""
    import dask.array as da
    import xarray as xr

    net, StationStore, reg, _ = _ctx(yml)
    store = StationStore(path.parent, net, reg)
    ids = [s.id for s in net.stations]
    m0 = months(1)[0]
    times = pd.date_range(m0, m0 + pd.offsets.MonthBegin(n_months), freq="h", inclusive="left")
    small, svals = month_values(0, 2, m0)
    proto = cf_dataset(store, ids[:2], small, svals, m0)
    coords_ds = cf_dataset(store, ids, times[:1], {v: np.zeros((n, 1)) for v in VARS}, m0)
    data = {}
    t_chunk = 24 * 31
    for name, v in proto.data_vars.items():
        if "time" not in v.dims or name == "time_bnds":
            continue
        fill = np.nan if v.dtype.kind == "f" else 0
        data[name] = (("station", "time"), da.full((n, len(times)), fill, dtype=v.dtype,
                                                    chunks=(group, t_chunk)), v.attrs)  # fmt: skip
    lo, hi = times - pd.Timedelta("1h"), times
    data["time_bnds"] = (("time", "nv"), np.stack([lo.values, hi.values], 1))
    ds = xr.Dataset(
        data,
        coords={
            c: coords_ds[c].variable for c in ("station_id", "station_name", "lat", "lon", "alt")
        },
    )
    ds = ds.assign_coords(time=xr.Variable("time", times.values, proto["time"].attrs))
    ds.attrs = dict(
        proto.attrs,
        summary=f"Quality-controlled station observations of network '{net.name}' (UTC).",
    )
    enc = {k: {"chunks": (group, t_chunk)} for k in data if k != "time_bnds"}
    for k in ("station_id", "station_name"):
        ds[k] = ds[k].astype(str)
    ds.to_zarr(path, mode="w", compute=False, zarr_format=3, encoding=enc, consolidated=False)
    # coordinates and time bounds now (compute=False skips only the dask-backed variables)


def _zarr_task(job: tuple[str, str, int, int, int, int]) -> int:
    yml, path, s0, s1, m_index, _ = job
    import xarray as xr

    net, StationStore, reg, _ = _ctx(Path(yml))
    store = StationStore(Path(path).parent, net, reg)
    ids = [s.id for s in net.stations][s0:s1]
    m = months(m_index + 1)[m_index]
    times, vals = month_values(s0, s1, m)
    ds = cf_dataset(store, ids, times, vals, m)
    t0 = int((m - START) / pd.Timedelta("1h"))
    keep = [v for v in ds.data_vars if "station" in ds[v].dims and "time" in ds[v].dims]
    out = ds[keep].drop_vars([c for c in ds.coords if c != "time"]).drop_vars("time")
    for v in out.variables.values():
        v.encoding, v.attrs = {}, {}
    out.to_zarr(path, region={"station": slice(s0, s1), "time": slice(t0, t0 + len(times))},
                zarr_format=3, consolidated=False)  # fmt: skip
    del xr
    return len(ids) * len(times)


def write_zarr(yml: Path, path: Path, n: int, n_months: int, group: int, writers: int) -> int:
    """Zarr v3: template, then (group x month) region writes from ``writers`` processes."""
    zarr_template(yml, path, n, n_months, group)
    jobs = [
        (str(yml), str(path), a, b, k, 0) for _, a, b in _groups(n, group) for k in range(n_months)
    ]
    with mp.get_context("spawn").Pool(writers) as pool:
        return sum(pool.map(_zarr_task, jobs))


# ---------------------------------------------------------------------------------- reads
def _median(fn, k: int = 5) -> float:
    out = []
    for _ in range(k):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return float(np.median(out))


def reads(
    yml: Path, roots: dict[str, Path], n: int, n_months: int, group: int
) -> dict[str, dict[str, float]]:
    """Median latency [s] of one station's whole period and of one hour over all stations."""
    import xarray as xr

    net, StationStore, reg, _ = _ctx(yml)
    sid, si = net.stations[n // 2].id, n // 2
    hour = START + pd.Timedelta(hours=24 * 15 + 12)
    g = si // group
    res: dict[str, dict[str, float]] = {}
    store = StationStore(roots["monthly"], net, reg)
    files = store.partitions()

    def m_station() -> None:
        for f in files:
            with xr.open_dataset(f) as ds:
                ids = ds["station_id"].values.astype(str)
                ds[VARS].isel(station=int(np.flatnonzero(ids == sid)[0])).load()

    def m_hour() -> None:
        with xr.open_dataset(store.path_for(pd.Timestamp(hour.year, hour.month, 1))) as ds:
            ds[VARS].sel(time=hour).load()

    def m_open_station() -> None:
        store.open(variables=VARS).sel(station=sid)

    res["monthly netCDF (today)"] = {"station": _median(m_station), "hour": _median(m_hour),
                                     "station via StationStore.open": _median(m_open_station, 2)}  # fmt: skip

    def g_station() -> None:
        for f in sorted(roots["group"].glob(f"grp{g:03d}_*.nc")):
            with xr.open_dataset(f) as ds:
                ds[VARS].isel(station=si - g * group).load()

    def g_hour() -> None:
        for f in sorted(roots["group"].glob(f"grp*_{hour:%Y-%m}.nc")):
            with xr.open_dataset(f) as ds:
                ds[VARS].sel(time=hour).load()

    res["netCDF per group and month"] = {"station": _median(g_station), "hour": _median(g_hour)}

    def z_station() -> None:
        with xr.open_zarr(roots["zarr"], consolidated=False) as ds:
            ds[VARS].isel(station=si).load()

    def z_hour() -> None:
        with xr.open_zarr(roots["zarr"], consolidated=False) as ds:
            ds[VARS].sel(time=hour).load()

    res["Zarr v3"] = {"station": _median(z_station), "hour": _median(z_hour)}
    return res


# ---------------------------------------------------------------------------------- crash
CRASH = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from benchmarks import bench_store_format as b
import xarray, zarr, netCDF4
from pipelines.store import StationStore
b._ctx(Path({yml!r}))
print("ready", flush=True)
{body}
"""


def _kill_after(code: str, delay: float, marker: str = "ready") -> tuple[float, bool]:
    """Run ``code``; ``delay`` s after it prints ``marker``, SIGKILL it. Returns (delay, killed)."""
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    while True:
        line = p.stdout.readline()
        if not line or line.startswith(marker):
            break
    time.sleep(delay)
    alive = p.poll() is None
    if alive:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    return delay, alive


def crash_tests(
    yml: Path, tmp: Path, n: int, group: int, trials: int, per_month: dict[str, float]
) -> dict[str, Any]:
    """Kill a writer with SIGKILL mid-write; inspect what opens, what is lost or corrupt.

    ``per_month``: measured seconds per month of each path; kills are spread over the write.
    """
    frac = [(k + 1) / (trials + 1) for k in range(trials)]
    import xarray as xr

    net, StationStore, reg, _ = _ctx(yml)
    out: dict[str, Any] = {}
    # (1) today's upsert: a store with 2 months, then an upsert of month 2 killed mid-way
    rows = []
    for k in range(trials):
        root = tmp / f"crash_up{k}"
        write_upsert(yml, root, 1)
        store = StationStore(root, net, reg)
        before = {f.name: f.stat().st_mtime_ns for f in store.partitions()}
        delay = round(per_month["upsert"] * (1 + frac[k]), 2)
        body = f"b.write_upsert(Path({str(yml)!r}), Path({str(root)!r}), 2)"
        _, alive = _kill_after(CRASH.format(root=str(ROOT), yml=str(yml), body=body), delay)
        ok, bad = 0, 0
        for f in store.partitions():
            try:
                with xr.open_dataset(f) as ds:
                    ds.load()
                ok += 1
            except Exception:
                bad += 1
        tmps = len(list(store.dir.glob("*.tmp")))
        after = {f.name: f.stat().st_mtime_ns for f in store.partitions()}
        rows.append({"kill_s": delay, "killed": alive, "files_ok": ok, "files_corrupt": bad,
                     "stale_tmp": tmps, "changed": sorted(x for x in after if after[x] != before.get(x))})  # fmt: skip
    out["monthly netCDF upsert"] = rows
    # (2) netCDF written in place (no tmp + rename): what atomic writes protect against
    rows = []
    for k in range(trials):
        root = tmp / f"crash_direct{k}"
        root.mkdir()
        body = (
            "import numpy as np\n"
            f"net, S, reg, _ = b._ctx(Path({str(yml)!r})); st = S(Path({str(root)!r}), net, reg)\n"
            "ids = [s.id for s in net.stations]\n"
            "m = b.months(1)[0]; t, v = b.month_values(0, len(ids), m)\n"
            "ds = b.cf_dataset(st, ids, t, v, m)\n"
            "print('go', flush=True)\n"
            "ds.to_netcdf(Path({root!r}) / 'direct.nc', format='NETCDF4', encoding=st._encoding(ds))\n"
        ).replace("{root!r}", repr(str(root)))
        _, alive = _kill_after(
            CRASH.format(root=str(ROOT), yml=str(yml), body=body), per_month["monthly"] * frac[k]
        )
        f = root / "direct.nc"
        state = "absent"
        if f.exists():
            try:
                with xr.open_dataset(f) as ds:
                    ds.load()
                state = "opens"
            except Exception as exc:
                state = f"corrupt ({type(exc).__name__})"
        rows.append(
            {"kill_s": round(per_month["monthly"] * frac[k], 2), "killed": alive, "file": state}
        )
    out["netCDF in place"] = rows
    # (3) Zarr v3: a template, then region writes killed mid-way
    rows = []
    for k in range(trials):
        path = tmp / f"crash_zarr{k}.zarr"
        zarr_template(yml, path, n, 1, group)
        body = (
            f"jobs = [(str(Path({str(yml)!r})), {str(path)!r}, a, c, 0, 0) for _, a, c in b._groups({n}, {group})]\n"
            "for j in jobs:\n    b._zarr_task(j)\n"
        )
        _, alive = _kill_after(
            CRASH.format(root=str(ROOT), yml=str(yml), body=body), per_month["zarr1"] * frac[k]
        )
        kill = round(per_month["zarr1"] * frac[k], 2)
        rows.append(dict(kill_s=kill, killed=alive, **zarr_state(yml, path, n, group)))
    out["Zarr v3 region writes"] = rows
    return out


def zarr_state(yml: Path, path: Path, n: int, group: int) -> dict[str, Any]:
    """Open a Zarr store; per station group: complete, never written, or corrupt/partial."""
    import xarray as xr

    res: dict[str, Any] = {"opens": False, "groups_complete": 0, "groups_empty": 0,
                           "groups_partial": 0, "groups_corrupt": 0}  # fmt: skip
    try:
        ds = xr.open_zarr(path, consolidated=False)
    except Exception as exc:
        res["error"] = f"{type(exc).__name__}: {exc}"[:120]
        return res
    res["opens"] = True
    m = months(1)[0]
    for _, a, b in _groups(n, group):
        _, vals = month_values(a, b, m)
        state = set()
        try:
            for v in VARS:
                got = ds[v].isel(station=slice(a, b)).values
                if np.array_equal(got, vals[v].astype("float32"), equal_nan=True):
                    state.add("complete")
                elif np.isnan(got).all():
                    state.add("empty")
                else:
                    state.add("corrupt")
        except Exception:
            state.add("corrupt")
        if "corrupt" in state:
            res["groups_corrupt"] += 1
        elif state == {"complete"}:
            res["groups_complete"] += 1
        elif state == {"empty"}:
            res["groups_empty"] += 1
        else:
            res["groups_partial"] += 1  # some variables written, others not yet
    return res


# ---------------------------------------------------------------------------------- CF
def cf_check(zarr_path: Path, tmp: Path, monthly: Path) -> dict[str, Any]:
    """Attributes of the Zarr store as xarray opens it; export of a month to CF netCDF."""
    import xarray as xr

    ds = xr.open_zarr(zarr_path, consolidated=False)
    checks = {
        "Conventions": ds.attrs.get("Conventions"),
        "featureType": ds.attrs.get("featureType"),
        "station_id cf_role": ds["station_id"].attrs.get("cf_role"),
        "pm25 standard_name": ds["pm25"].attrs.get("standard_name"),
        "pm25 ancillary_variables": ds["pm25"].attrs.get("ancillary_variables"),
        "pm25_flag flag_meanings": (ds["pm25_flag"].attrs.get("flag_meanings") or "")[:30],
        "time bounds": ds["time"].attrs.get("bounds"),
        "time dtype": str(ds["time"].dtype),
    }
    m = ds.sel(time=slice("2024-01-01", "2024-01-31 23:00")).load()
    for v in m.variables.values():
        v.encoding = {}
    from pipelines.store import StationStore

    enc = StationStore._encoding(None, m)  # type: ignore[arg-type]
    checks["flag_values type after Zarr"] = type(m["pm25_flag"].attrs["flag_values"]).__name__
    checks["export to CF netCDF, attributes as read"] = _checker(m, enc, tmp / "export_raw.nc")
    # Zarr v3 attributes are JSON: typed attribute arrays come back as plain numbers; restore
    for v in m.data_vars.values():
        for att in ("flag_values", "flag_masks"):
            if att in v.attrs:
                v.attrs[att] = np.asarray(v.attrs[att], dtype=v.dtype)
        for att in ("valid_min", "valid_max"):
            if att in v.attrs:
                v.attrs[att] = np.asarray(v.attrs[att], dtype=v.dtype)[()]
    checks["export to CF netCDF, attribute dtypes restored"] = _checker(m, enc, tmp / "export.nc")
    checks["reference: today's monthly file"] = _checker(None, {}, monthly)
    return checks


def _checker(ds: Any, enc: dict[str, Any], out: Path) -> str:
    """Write ``ds`` as netCDF-4 and run ``compliance-checker --test=cf:1.8 --criteria=strict``."""
    if ds is not None:
        ds.to_netcdf(out, format="NETCDF4", encoding=enc)
    js = out.parent / (out.stem + "_cc.json")
    cc = subprocess.run(
        [str(Path(sys.executable).parent / "compliance-checker"), "--test=cf:1.8",
         "--criteria=strict", "--format=json", "-o", str(js), str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    try:
        r = next(iter(json.loads(js.read_text()).values()))
    except (OSError, ValueError, StopIteration) as exc:
        return f"checker exit {cc.returncode}, no report ({type(exc).__name__})"
    failed = [
        f"{x['name']}: {x['msgs'][0][:90] if x['msgs'] else ''}"
        for pri in ("high_priorities", "medium_priorities")
        for x in r.get(pri, [])
        if x["value"][0] < x["value"][1]
    ]
    head = f"score {r['scored_points']}/{r['possible_points']}, checker exit {cc.returncode}"
    return head + ("; failed: " + " | ".join(failed[:3]) if failed else "; no failure")


# ---------------------------------------------------------------------------------- main
def du(path: Path) -> float:
    """Size of a folder [MB]."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


def recommendation(stages: dict, rows: dict, rd: dict, crash: dict) -> str:
    """The recommendation paragraph, computed from this run's figures."""

    def rate(k: str) -> float:
        return rows[k] / stages[k]["wall_s"] if k in rows else float("nan")

    z_bad = sum(t.get("groups_corrupt", 0) for t in crash["Zarr v3 region writes"])
    z_part = sum(t.get("groups_partial", 0) for t in crash["Zarr v3 region writes"])
    up_bad = sum(t["files_corrupt"] for t in crash["monthly netCDF upsert"])
    direct = [t["file"] for t in crash["netCDF in place"]]
    m, z = rd["monthly netCDF (today)"], rd["Zarr v3"]
    if all(x == "absent" for x in direct):
        direct_txt = (
            "the in-place netCDF kills all landed before the file existed (xarray prepares the "
            "whole dataset first), so that control is inconclusive"
        )
    else:
        direct_txt = f"a netCDF written in place was left: {', '.join(direct)}"
    return (
        "**Recommendation.** The format is not what limits national ingest: the upsert path "
        f"stores {rate('upsert'):,.0f} station-hours/s, its netCDF write step alone "
        f"{rate('monthly'):,.0f} (one process); merge + QC take "
        f"{100 * (1 - stages['monthly']['wall_s'] / stages['upsert']['wall_s']):.0f} % of the upsert "
        "and parallelise by station group whatever the format (`pipelines.engine`). A second Zarr "
        f"writer gave {rate('zarr') / rate('zarr1'):.1f}x over one, but on these 2 shared cores "
        f"neither parallel variant (netCDF per group {rate('group'):,.0f}, Zarr {rate('zarr'):,.0f}) "
        "beat the single monthly writer. Reads are where the formats differ: one station's year "
        f"{m['station']:.2f} s from the monthly files ({m['station via StationStore.open']:.1f} s "
        f"through `StationStore.open`, which loads every month whole) vs {z['station']:.2f} s from "
        f"Zarr; one hour of all stations {m['hour']:.2f} s vs {z['hour']:.2f} s. Crash safety: "
        f"after every killed upsert all files opened ({up_bad} corrupt) and no temporary file was "
        "left - each file is old or new (tmp + `os.replace`); the kills landed in the merge/QC "
        "part, the write itself is a small share of the upsert, and its atomicity rests on "
        f"`os.replace`; {direct_txt}. Zarr region writes left {z_bad} undecodable groups but "
        f"{z_part} partly written group(s) (some variables written, others not): a Zarr store "
        "needs a commit marker per region and a re-run of unfinished ones. CF: Zarr keeps the CF "
        "attributes, but typed attribute arrays (`flag_values`, `flag_masks`, `valid_min/max`) "
        "come back as JSON numbers, and a plain export fails the CF 1.8 checker; restoring their "
        "dtypes makes it pass. So: keep the monthly CF netCDF as the store of record with its one "
        "writer; make `StationStore.open` select before it loads; add a Zarr v3 read replica "
        "(station-group x month chunks, rebuilt from the monthly files after each upsert) only "
        "if station-history reads must be sub-second at national scale."
    )


def main() -> None:
    """Run every measurement and write the section."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stations", type=int, default=2000)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--group", type=int, default=100)
    p.add_argument("--writers", type=int, default=2)
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--skip-upsert", action="store_true", help="skip the (slow) upsert path")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--from-json", type=Path, help="write the section from a saved run's JSON")
    p.add_argument("--command", default=None, help="the command to quote (with --from-json)")
    a = p.parse_args()
    t_all = time.perf_counter()
    n, M, G, W = a.stations, a.months, a.group, a.writers
    tmp = None
    if a.from_json:  # re-write the section from a saved run's figures
        d = json.loads(a.from_json.read_text())
        stages, rows, sizes, rd, crash, cf = (
            d[k] for k in ("stages", "rows", "sizes", "reads", "crash", "cf")
        )
        t_all -= 60 * d.get("minutes", 0.0)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="qy-storefmt-"))
        yml = make_network(tmp, a.stations)
        stages: dict[str, dict[str, float]] = {}
        rows: dict[str, int] = {}
        print(f"{n} stations x {len(VARS)} variables x {M} months; tmp {tmp}", flush=True)
        if not a.skip_upsert:
            with Stage("upsert", stages):
                rows["upsert"] = write_upsert(yml, tmp / "upsert", M)
        with Stage("monthly", stages):
            rows["monthly"] = write_monthly_nc(yml, tmp / "monthly", M)
        with Stage("group", stages):
            rows["group"] = write_group_nc(yml, tmp / "group", n, M, G, W)
        with Stage("zarr", stages):
            rows["zarr"] = write_zarr(yml, tmp / "store.zarr", n, M, G, W)
        with Stage("zarr1", stages):
            rows["zarr1"] = write_zarr(yml, tmp / "store1.zarr", n, M, G, 1)
        sizes = {"upsert": du(tmp / "upsert") if "upsert" in rows else None, "monthly": du(tmp / "monthly"),
                 "group": du(tmp / "group"), "zarr": du(tmp / "store.zarr"), "zarr1": du(tmp / "store1.zarr")}  # fmt: skip
        rd = reads(
            yml,
            {"monthly": tmp / "monthly", "group": tmp / "group", "zarr": tmp / "store.zarr"},
            n,
            M,
            G,
        )
        print(json.dumps(rd), flush=True)
        per_month = {k: v["wall_s"] / M for k, v in stages.items()}
        per_month.setdefault("upsert", 10.0 * per_month["monthly"])
        crash = crash_tests(yml, tmp, n, G, a.trials, per_month)
        print(json.dumps(crash, default=str), flush=True)
        cf = cf_check(tmp / "store.zarr", tmp, sorted((tmp / "monthly").rglob("*.nc"))[0])
        print(json.dumps(cf), flush=True)
    labels = {
        "upsert": "monthly netCDF (today): `StationStore.upsert` month by month (merge + QC + write), 1 process",
        "monthly": "monthly netCDF (today): write step only, 1 process (one writer by design)",
        "group": f"netCDF per group ({G} stations) and month, {W} writer processes",
        "zarr": f"Zarr v3, region writes ({G} stations x 1 month chunks), {W} writer processes",
        "zarr1": "Zarr v3, region writes, 1 writer process",
    }
    L = [
        "",
        f"Machine: {machine()}. Command: `.venv/bin/python benchmarks/bench_store_format.py "
        f"{a.command or ' '.join(sys.argv[1:])}`.",
        f"Synthetic air network: {n:,} stations x {len(VARS)} variables x {M} month(s) hourly "
        f"({n * len(pd.date_range(START, START + pd.offsets.MonthBegin(M), freq='h', inclusive='left')):,} station-hours; each variable with "
        "its `_flag`, `_source_flag` and `_qc`). Same CF variables and attributes in every format "
        "(`StationStore._to_dataset`). Rows = station-hours (all variables). The 2 cores were shared with other "
        "jobs (3 helpers and the lead): figures are noisy; the parallel writers compete with them.",
        "",
        "| write path | wall [s] | rows/s | peak RSS, all processes [MB] | on disk [MB] |",
        "|---|---|---|---|---|",
    ]
    for k, lab in labels.items():
        if k not in rows:
            L.append(f"| {lab} | not measured (`--skip-upsert`) | | | |")
            continue
        s = stages[k]
        L.append(
            f"| {lab} | {s['wall_s']:.1f} | {rows[k] / s['wall_s']:,.0f} | {s['peak_rss_mb']:.0f} | {sizes[k]:.0f} |"
        )
    L += ["", "Read latency (median of 5, warm page cache; xarray, the 6 values only):", "",
          "| format | one station, whole period [s] | one hour, all stations [s] |", "|---|---|---|"]  # fmt: skip
    for k, v in rd.items():
        extra = (
            f" (through `StationStore.open`, which loads every file whole: {v['station via StationStore.open']:.1f} s)"
            if "station via StationStore.open" in v
            else ""
        )
        L.append(f"| {k} | {v['station']:.3f}{extra} | {v['hour']:.3f} |")
    L += [
        "",
        f"Crash safety (writer killed with SIGKILL, {a.trials} trials each, at increasing delays):",
        "",
    ]
    for k, trials in crash.items():
        L.append(
            f"- {k}: " + "; ".join(", ".join(f"{x}={y}" for x, y in t.items()) for t in trials)
        )
    L += ["", "CF: the Zarr store opened with `xarray.open_zarr`:", ""]
    L += [f"- {k}: `{v}`" for k, v in cf.items()]
    L += ["", recommendation(stages, rows, rd, crash)]
    L.append(f"\nWhole benchmark: {(time.perf_counter() - t_all) / 60:.1f} min.\n")
    body = "\n".join(L) + "\n"
    Path(tempfile.gettempdir(), "bench_store_format.json").write_text(
        json.dumps(
            {
                "stages": stages,
                "rows": rows,
                "sizes": sizes,
                "reads": rd,
                "crash": crash,
                "cf": cf,
                "minutes": (time.perf_counter() - t_all) / 60,
            },  # fmt: skip
            default=str,
            indent=1,
        )
    )
    if not a.no_write:
        write_section(str(ROOT / "BENCHMARKS.md"), TITLE, body)
    print(body)
    if tmp is not None:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
