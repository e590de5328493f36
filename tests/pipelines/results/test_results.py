"""The read-only results layer on a small real workspace.

The module fixture builds one workspace in a temporary folder the way the runs do: the last five
weeks of the bundled Beijing data and the last days of the NDFA sondes are ingested
(:func:`pipelines.ingest.ingest`), assessed (:mod:`pipelines.assess`), forecast files are
written (:func:`models.forecast.dataset.forecast_dataset` + ``write_forecast``) and the warning
job decides on them (issue, upgrade, lift, a stale forecast), the polar / trajectory jobs and a
small PMF run write their outputs and a water anomaly is traced upstream. Every reader is then
checked against what the files hold.
"""

from __future__ import annotations

import json
import lzma
import os
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pipelines.results as R
from features.aqi import sub_index
from features.assessment import hourly_aqi as features_hourly_aqi
from features.assessment import mask_invalid
from features.water_class import CLASS_NAMES
from models.forecast.base import Forecast
from models.forecast.dataset import forecast_attrs, forecast_dataset
from models.forecast.drivers import GROUPS
from pipelines import assess
from pipelines.config import aqi_standards, load_network, load_qc, load_variables
from pipelines.forecast.files import forecast_path, write_forecast
from pipelines.ingest import ingest
from pipelines.store import StationStore
from pipelines.warnings.job import run_warnings
from pipelines.warnings.outbox import outbox_status

ROOT = Path(__file__).resolve().parents[3]
DAYS = 35  # Beijing: 2017-01-25 .. 2017-02-28 local, two monthly partitions
NDFA_READINGS = 400  # last 100 h of every sonde (15 min)
NOW = pd.Timestamp("2020-01-01", tz="UTC")
ISSUES = ["2016-12-14 00:00", "2016-12-15 00:00", "2016-12-18 00:00"]
DAILY_PM25 = [[60, 200, 200, 60], [200, 280, 280, 200], [40, 40, 40, 40]]


def _tail(src: Path, dst: Path, n: int, extra: bytes = b"") -> None:
    lines = [x for x in lzma.open(src).read().split(b"\n") if x.strip()]
    dst.write_bytes(b"\n".join([lines[0], *lines[-n:]]) + b"\n" + extra)


def _forecast(out: Path, issue: str, daily: list[float]) -> Path:
    net = load_network("beijing")
    stations = [s.id for s in net.stations]
    t = pd.Timestamp(issue)
    hourly = np.repeat(np.asarray(daily, float), 24)
    S, L = len(stations), len(hourly)
    ramp = np.linspace(0.9, 1.1, S)[:, None, None]  # stations differ a little
    mean = np.broadcast_to(hourly, (S, 1, L)) * ramp
    fc = Forecast(mean, np.stack([0.85 * mean, mean, 1.15 * mean], axis=-1), (0.1, 0.5, 0.9))
    drivers = np.zeros((S, 1, L, len(GROUPS)))
    drivers[..., 0] = 0.6 * mean
    drivers[..., 1] = 0.4 * mean
    wf = {"feed": "synthetic-nwp", "run_issue_time": f"{t:%Y-%m-%dT00:00}Z", "status": "used"}
    prov = {
        "pm25": {
            "model_uri": "models:/beijing-pm25@champion",
            "mlflow_run_id": "abc123",
            "weather_forecast": wf,
        }
    }
    reg = load_variables()["variables"]
    ds = forecast_dataset(
        {"pm25": fc},
        stations,
        issue_times=[t],
        leads=np.arange(1, L + 1),
        lat=[s.lat for s in net.stations],
        lon=[s.lon for s in net.stations],
        station_names=[s.name or s.id for s in net.stations],
        variables={"pm25": reg["pm25"]},
        provenance=prov,
        drivers={"pm25": drivers},
        recent={"pm25": np.array([True] * (S - 1) + [False])},
        attrs=forecast_attrs(
            "beijing",
            issue=t,
            cutoff=t,
            provenance=prov,
            created="2016-12-14T00:05:00+00:00",
            history="qingyuan test forecast",
        ),
        dtype="float32",
    )
    return write_forecast(ds, forecast_path(out, "beijing", t))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    t0 = time.perf_counter()
    root = tmp_path_factory.mktemp("results")
    store, out = root / "store", root / "outputs"
    # --- Beijing: the last DAYS days of every station (one truncated row to quarantine)
    bj = root / "data" / "beijing"
    bj.mkdir(parents=True)
    for src in sorted((ROOT / "data" / "beijing").glob("PRSA_Data_*.csv.xz")):
        extra = b"35065,2017,3,1\n" if "Dongsi" in src.name else b""
        _tail(src, bj / src.name.removesuffix(".xz"), 24 * DAYS, extra)
    net_bj = load_network("beijing").model_copy(deep=True)
    net_bj.sources[0].files = [str(bj / "PRSA_Data_*_20130301-20170228.csv")]
    rep_bj = ingest(net_bj, store, now=NOW)
    # --- NDFA: the last readings of every sonde
    nd = root / "data" / "ndfa"
    nd.mkdir(parents=True)
    for src in sorted((ROOT / "data" / "ndfa").glob("NDFA_2019_continuous_*.csv.xz")):
        _tail(src, nd / src.name.removesuffix(".xz"), NDFA_READINGS)
    net_nd = load_network("ndfa").model_copy(deep=True)
    for s in net_nd.sources:
        s.files = [str(nd / Path(f).name.removesuffix(".xz")) for f in s.files]
    rep_nd = ingest(net_nd, store, now=NOW)
    # --- assessment tables, as the assess flow writes them
    reg = load_variables()["variables"]
    out.mkdir()
    st_bj = StationStore(store, load_network("beijing"), reg)
    assess.write_assessment(assess.assess_air(st_bj), out / "beijing_daily_aqi.nc")
    st_nd = StationStore(store, load_network("ndfa"), reg)
    assess.write_assessment(assess.assess_water(st_nd), out / "ndfa_daily_class.nc")
    from pipelines.config.rivers import load_river_network
    from pipelines.flows.assess import write_water_compliance

    write_water_compliance(st_nd, load_river_network("ndfa"), out)
    # --- forecasts and the warning lifecycle: issue, upgrade, lift, then a stale forecast
    paths = []
    for issue, daily in zip(ISSUES, DAILY_PM25, strict=True):
        paths.append(_forecast(out, issue, daily))
        run_warnings("beijing", out, forecast_path=paths[-1], now=pd.Timestamp(issue))
    run_warnings(
        "beijing", out, forecast_path=paths[-1], now=pd.Timestamp(ISSUES[-1]) + pd.Timedelta("5D")
    )
    # --- source tracing and PMF
    from pipelines.tracing.air import polar_job, trajectory_job
    from pipelines.tracing.pmf import run_pmf
    from pipelines.tracing.water import trace_job

    polar_job("beijing", store, out, "pm25", ["Dongsi"])
    trajectory_job("beijing", store, out, "pm25", hours=24, every_hours=24)
    esat = ROOT / "data" / "esat_examples"
    run_pmf(
        esat / "Dataset-BatonRouge-con.csv.xz",
        esat / "Dataset-BatonRouge-unc.csv.xz",
        3,
        out / "pmf" / "BatonRouge_f3",
        starts=2,
        total="TNMOC",
        bootstrap_n=0,
        track=False,
    )
    trace = trace_job("ndfa", store, out, "I80", "turbidity", days_before=2.0)
    return {
        "ws": R.Workspace(store=store, outputs=out),
        "root": root,
        "reports": {"beijing": rep_bj, "ndfa": rep_nd},
        "forecasts": paths,
        "trace": trace,
        "seconds": time.perf_counter() - t0,
    }


@pytest.fixture(scope="module")
def ws(built) -> R.Workspace:
    return built["ws"]


# --------------------------------------------------------------------------- workspace
def test_workspace_default_and_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("QINGYUAN_STORE", str(tmp_path / "s"))
    monkeypatch.setenv("QINGYUAN_OUTPUTS", str(tmp_path / "o"))
    w = R.Workspace.default()
    assert w.store == (tmp_path / "s").resolve() and w.outputs == (tmp_path / "o").resolve()
    assert w.warnings_db == w.outputs / "warnings" / "warnings.db"
    assert isinstance(R.Workspace("a", "b").store, Path)
    assert issubclass(R.NotFound, LookupError)


# --------------------------------------------------------------------------- networks, stations
def test_networks_and_stations(ws, built):
    r = R.networks(ws)
    by = {n["name"]: n for n in r.data}
    bj, nd = by["beijing"], by["ndfa"]
    assert bj["kind"] == "air" and nd["kind"] == "water" and bj["time_zone"] == "Asia/Shanghai"
    assert bj["n_stations"] == 12 and bj["has_store"] and bj["n_partitions"] == 2
    assert {"pm25", "so2", "wind_speed"} <= set(bj["variables"])
    period = built["reports"]["beijing"].period  # naive UTC text of the first and last time
    assert bj["first_time"] == pd.Timestamp(period[0]).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert bj["last_time"] == "2017-02-28T15:00:00Z"
    assert r.modified is not None and r.modified.tzinfo is not None
    assert any(s.endswith("beijing_2017-02.nc") for s in r.sources)
    st = R.stations(ws, "beijing").data
    assert len(st) == 12
    dongsi = next(s for s in st if s["id"] == "Dongsi")
    assert dongsi == {
        "id": "Dongsi",
        "name": "东四",
        "code": "1003A",
        "lat": 39.9522,
        "lon": 116.434,
        "alt": None,
        "kind": "air",
        "network": "beijing",
    }
    with pytest.raises(
        R.NotFound,
        match=r"unknown network 'nowhere'; known: beijing, ndfa$",  # source networks not named
    ):
        R.stations(ws, "nowhere")


def test_a_source_network_without_store_has_its_enterprises_and_no_aqi(tmp_path):
    empty = R.Workspace(tmp_path / "store", tmp_path / "outputs")
    status = R.current_status(empty, "beijing_sources").data
    assert status and all(s["time"] is None and "aqi" not in s and "class" not in s for s in status)
    ents = R.enterprises(empty, "beijing_sources").data
    assert len(ents) == 20 and all(e["alert"] is None for e in ents)
    st = ents[0]["stations"][0]
    assert st["standard"]["limits"] and st["latest"]["time"] is None
    assert "mn" not in st and "password" not in st
    src = {s["id"]: s for s in R.stations(empty, "beijing_sources").data}
    assert src["E01-G1"]["stack_height_m"] == 210 and "password" not in src["E01-G1"]
    with pytest.raises(R.NotFound, match="has no enterprises"):
        R.enterprises(empty, "beijing")
    with pytest.raises(R.NotFound, match="source network and has no AQI"):
        R.daily_aqi(empty, "beijing_sources")


def test_a_workspace_without_store_or_outputs_is_empty_and_stays_empty(tmp_path):
    empty = R.Workspace(tmp_path / "store", tmp_path / "outputs")
    nets = R.networks(empty).data
    assert all(not n["has_store"] and n["first_time"] is None for n in nets)
    assert R.warnings(empty).data == [] and R.lifecycle_audit(empty).data == []
    assert R.ops_alerts(empty).data == [] and R.outbox(empty).data["rows"] == []
    assert R.forecast_index(empty, "beijing").data == []
    assert R.pmf_runs(empty).data == [] and R.water_trace(empty, "ndfa").data == []
    assert R.ingest_reports(empty).data == [] and R.last_runs(empty).data["summary"] is None
    status = R.current_status(empty, "beijing").data
    assert len(status) == 12 and all(s["time"] is None and s["aqi"] is None for s in status)
    with pytest.raises(R.NotFound, match="has no stored data"):
        R.observations(empty, "beijing", "Dongsi", start="2017-01-01", end="2017-01-02")
    with pytest.raises(R.NotFound, match="no forecast yet"):
        R.forecast(empty, "beijing")
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "store").exists()


# --------------------------------------------------------------------------- observations
def test_observations_hold_what_the_store_holds(ws):
    r = R.observations(ws, "beijing", "Dongsi", start="2017-02-20 00:00", end="2017-02-21 23:00")
    df = r.data
    assert len(df) == 48 and str(df.index.tz) == "UTC" and df.index.name == "time"
    assert {"pm25", "pm25_flag", "pm25_qc", "co", "wind_speed_flag"} <= set(df.columns)
    assert df["pm25_flag"].dtype == np.int64 and df["pm25_qc"].dtype == np.int64
    with xr.open_dataset(ws.store / "beijing" / "beijing_2017-02.nc") as ds:
        i = list(ds["station_id"].values.astype(str)).index("Dongsi")
        t = np.datetime64("2017-02-20T12:00")
        stored = float(ds["pm25"].sel(time=t).values[i])
        flag = int(ds["pm25_flag"].sel(time=t).values[i])
    got = df.loc[pd.Timestamp("2017-02-20 12:00", tz="UTC")]
    assert got["pm25"] == pytest.approx(stored, rel=1e-6) and got["pm25_flag"] == flag
    assert df.attrs["units"]["pm25"] == "ug m-3" and df.attrs["units"]["co"] == "mg m-3"
    fm = df.attrs["flag_meanings"]
    assert (
        fm["flag"]["0"] == "normal" and fm["hj212"]["6"] == "T" and fm["qc"]["1"] == "range_invalid"
    )
    assert fm["valid_flags"] == [0, 3, 8]
    one = R.observations(
        ws, "beijing", "Dongsi", start="2017-02-20", end="2017-02-20 05:00", variables=["pm25"]
    )
    assert list(one.data.columns) == ["pm25", "pm25_flag", "pm25_qc"]
    # a range across the two partitions
    both = R.observations(ws, "beijing", "Dongsi", start="2017-01-31 20:00", end="2017-02-01 03:00")
    assert len(both.data) == 8 and len(both.sources) == 2
    # outside the stored months: an empty table with the same columns
    none = R.observations(
        ws, "beijing", "Dongsi", start="2015-01-01", end="2015-01-02", variables=["pm25"]
    )
    assert none.data.empty and list(none.data.columns) == ["pm25", "pm25_flag", "pm25_qc"]


def test_observations_not_found_messages(ws):
    with pytest.raises(
        R.NotFound,
        match=r"unknown station 'X' in network 'beijing'; known: Wanshouxigong, Dingling, Dongsi",
    ):
        R.observations(ws, "beijing", "X", start="2017-02-01", end="2017-02-02")
    with pytest.raises(
        R.NotFound,
        match=r"unknown variable 'nh3n' in the store of network 'beijing'; known: .*pm25",
    ):
        R.observations(
            ws, "beijing", "Dongsi", start="2017-02-01", end="2017-02-02", variables=["nh3n"]
        )
    with pytest.raises(R.NotFound, match="unknown network 'mars'"):
        R.observations(ws, "mars", "Dongsi", start="2017-02-01", end="2017-02-02")


def test_observations_dataset_is_a_one_station_cf_file(ws, tmp_path):
    r = R.observations_dataset(
        ws, "ndfa", "RMB", start="2019-12-01", end="2019-12-02", variables=["ph"]
    )
    ds = r.data
    assert ds.sizes["station"] == 1 and ds.attrs["featureType"] == "timeSeries"
    assert {"ph", "ph_flag", "ph_qc", "ph_source_flag"} <= set(ds.data_vars)
    assert "turbidity" not in ds and str(ds["station_id"].values[0]) == "RMB"
    path = tmp_path / "rmb.nc"
    ds.to_netcdf(path)
    with xr.open_dataset(path) as back:
        assert back.sizes["station"] == 1 and back["ph"].attrs["ancillary_variables"].startswith(
            "ph_flag"
        )


# --------------------------------------------------------------------------- AQI and water class
def test_hourly_aqi_is_features_hourly_aqi_on_the_valid_values(ws):
    start, end = pd.Timestamp("2017-02-10 00:00"), pd.Timestamp("2017-02-12 23:00")
    r = R.hourly_aqi(ws, "beijing", "Dongsi", start=start, end=end)
    df = r.data
    assert len(df) == 72 and df.index[0] == start.tz_localize("UTC")
    assert {"iaqi_pm25", "iaqi_so2", "iaqi_o3", "aqi", "category", "primary", "edition"} <= set(
        df.columns
    )
    assert set(df["edition"]) == {"hj633-2012"}
    # the same computation straight from the store and features
    net, reg = load_network("beijing"), load_variables()
    raw = StationStore(ws.store, net, reg["variables"]).open(
        start=start - pd.Timedelta("23h"), end=end
    )
    pols = ["pm25", "pm10", "so2", "no2", "co", "o3"]
    valid = mask_invalid(raw.sel(station=["Dongsi"]), pols, load_qc(net)["valid_statuses"])
    stds = aqi_standards("hj633")
    ref = features_hourly_aqi(
        valid, stds, reg["variables"], net.time_zone, reg["reference_conditions"]
    )
    ref = ref.sel(time=slice(start, end)).isel(station=0)
    np.testing.assert_array_equal(df["aqi"].to_numpy(), ref["aqi"].values)
    np.testing.assert_array_equal(df["category"].to_numpy(), ref["category"].values)
    # the PM2.5 IAQI is the 24-h table applied to the hourly value (realtime_pm_averaging: 1h)
    std = stds[0]
    pm = valid["pm25"].sel(time=slice(start, end)).values[0]
    iaqi, _ = sub_index(pm, std.pollutants["pm25_24h"], std)
    np.testing.assert_array_equal(df["iaqi_pm25"].to_numpy(), iaqi)
    ok = ~np.isnan(df["aqi"].to_numpy())
    assert ok.sum() > 60
    top = df[ok].drop(columns=["aqi", "category", "primary", "edition"]).max(axis=1)
    np.testing.assert_array_equal(top.to_numpy(), df["aqi"].to_numpy()[ok])
    assert (df.loc[df["aqi"] <= 50, "primary"].isna()).all()
    with pytest.raises(
        R.NotFound, match="is a water network and has no AQI; air networks: beijing"
    ):
        R.hourly_aqi(ws, "ndfa", "RMB", start=start, end=end)


def test_daily_aqi_records_are_the_assessed_table(ws):
    rows = R.daily_aqi(ws, "beijing", station="Dongsi", start="2017-02-01", end="2017-02-28").data
    assert [r["date"] for r in rows] == [f"2017-02-{d:02d}" for d in range(1, 29)]
    with xr.open_dataset(ws.outputs / "beijing_daily_aqi.nc") as ds:
        day = ds.sel(station="Dongsi", date="2017-02-15")
        rec = next(r for r in rows if r["date"] == "2017-02-15")
        assert rec["aqi"] == float(day["aqi"]) and rec["category"] == int(day["category"])
        assert rec["primary"] == (str(day["primary_pollutant"].values) or None)
        assert rec["iaqi_pm25_24h"] == float(day["iaqi_pm25_24h"])
        assert rec["edition"] == "hj633-2012"
    everything = R.daily_aqi(ws, "beijing").data
    assert {r["station"] for r in everything} == {s.id for s in load_network("beijing").stations}
    # a UTC time is taken as the local date it falls on
    late = R.daily_aqi(
        ws, "beijing", station="Dongsi", start=pd.Timestamp("2017-02-27T17:00Z")
    ).data
    assert [r["date"] for r in late] == ["2017-02-28"]
    with pytest.raises(R.NotFound, match="unknown station 'RMB' in network 'beijing'"):
        R.daily_aqi(ws, "beijing", station="RMB")
    with pytest.raises(R.NotFound, match="no daily AQI of network"):
        R.daily_aqi(R.Workspace(ws.store, ws.store.parent / "no-outputs"), "beijing")


def test_water_class_daily_and_weekly(ws):
    rows = R.water_class(ws, "ndfa").data
    assert rows and all(r["class"] in (*CLASS_NAMES, None) for r in rows)
    with xr.open_dataset(ws.outputs / "ndfa_daily_class.nc") as ds:
        r = next(x for x in rows if x["class_code"])
        code = int(ds["water_class"].sel(station=r["station"], date=r["date"]))
        assert r["class"] == CLASS_NAMES[code - 1] and r["limiting"] == str(
            ds["determining"].sel(station=r["station"], date=r["date"]).values
        )
    one = R.water_class(ws, "ndfa", station=r["station"], start=r["date"], end=r["date"]).data
    assert (
        len(one) == 1 and one[0]["dissolved_oxygen_daily_mean"] == r["dissolved_oxygen_daily_mean"]
    )
    weekly = R.water_class(ws, "ndfa", period="weekly").data
    assert weekly and {"station", "week", "class", "target_class", "complies"} <= set(weekly[0])
    with pytest.raises(R.NotFound, match="is an air network and has no water class"):
        R.water_class(ws, "beijing")


def test_current_status_for_the_map(ws):
    air = R.current_status(ws, "beijing").data
    assert len(air) == 12
    dongsi = next(s for s in air if s["id"] == "Dongsi")
    hourly = R.hourly_aqi(ws, "beijing", "Dongsi", start="2017-02-28", end="2017-02-28 23:00").data
    last = hourly["aqi"].last_valid_index()
    assert dongsi["time"] == last.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert dongsi["aqi"] == hourly.loc[last, "aqi"] and 1 <= dongsi["category"] <= 6
    assert dongsi["primary"] == hourly.loc[last, "primary"]
    assert dongsi["iaqi"]["pm25"] == hourly.loc[last, "iaqi_pm25"]
    assert (dongsi["lat"], dongsi["lon"], dongsi["name"]) == (39.9522, 116.434, "东四")
    water = R.current_status(ws, "ndfa").data
    seen = [s for s in water if s["time"] is not None]
    assert seen and all(s["class"] in CLASS_NAMES for s in seen)
    s = seen[0]
    obs = R.observations(
        ws, "ndfa", s["id"], start=s["time"], end=s["time"], variables=["dissolved_oxygen"]
    ).data
    assert s["values"]["dissolved_oxygen"] == obs["dissolved_oxygen"].iloc[0]


def test_current_status_is_fast_when_warm_and_thread_safe(ws):
    R.networks(ws), R.current_status(ws, "beijing"), R.cities(ws), R.warnings(ws, status="active")
    t = time.perf_counter()
    for _ in range(10):
        (
            R.networks(ws),
            R.current_status(ws, "beijing"),
            R.cities(ws),
            R.warnings(ws, status="active"),
        )
    assert (time.perf_counter() - t) / 10 < 0.05
    results, errors = [], []

    def read() -> None:
        try:
            results.append(R.current_status(ws, "ndfa").data)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and all(r == results[0] for r in results)


# --------------------------------------------------------------------------- the cache
def test_cache_hit_returns_the_same_data_and_a_changed_file_invalidates(ws, tmp_path):
    before = R.cache_info()["hits"]
    a = R.observations(ws, "beijing", "Tiantan", start="2017-02-01", end="2017-02-02")
    b = R.observations(ws, "beijing", "Tiantan", start="2017-02-01", end="2017-02-02")
    assert R.cache_info()["hits"] > before
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.data.attrs == b.data.attrs and a.modified == b.modified
    b.data.iloc[0, 0] = -1.0  # a caller's copy: the cache keeps its own
    c = R.observations(ws, "beijing", "Tiantan", start="2017-02-01", end="2017-02-02")
    pd.testing.assert_frame_equal(a.data, c.data)
    # a feed that is rewritten is read again
    mine = R.Workspace(tmp_path / "store", tmp_path / "outputs")
    feed = mine.outputs / "warnings" / "x" / "feed.json"
    feed.parent.mkdir(parents=True)
    feed.write_text(json.dumps({"city": "x", "active": []}))
    assert R.feed(mine, "x").data == {"city": "x", "active": []}
    assert R.feed(mine, "x").data == {"city": "x", "active": []}
    feed.write_text(json.dumps({"city": "x", "active": [{"id": 1}]}))
    os.utime(feed, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert R.feed(mine, "x").data["active"] == [{"id": 1}]
    # a new forecast file appears in the index
    src = next(iter(sorted((ws.outputs / "forecasts" / "beijing").glob("*.nc"))))
    (mine.outputs / "forecasts" / "beijing").mkdir(parents=True)
    (mine.outputs / "forecasts" / "beijing" / src.name).write_bytes(src.read_bytes())
    assert len(R.forecast_index(mine, "beijing").data) == 1
    later = forecast_path(mine.outputs, "beijing", pd.Timestamp("2016-12-30 00:00"))
    later.write_bytes(src.read_bytes())
    assert [f["file"] for f in R.forecast_index(mine, "beijing").data] == [later.name, src.name]


def test_memo_cache_is_bounded():
    cache = R.MemoCache(maxsize=3)
    for i in range(5):
        cache.memo("f", i, files=[], compute=lambda i=i: i * 10)
    assert cache.info()["entries"] == 3
    calls = []
    cache.memo("f", 4, files=[], compute=lambda: calls.append(1) or 40)
    assert calls == []  # still cached
    cache.memo("f", 0, files=[], compute=lambda: calls.append(1) or 0)
    assert calls == [1]  # evicted, computed again


# --------------------------------------------------------------------------- forecasts
def test_forecast_index_and_one_forecast(ws, built):
    idx = R.forecast_index(ws, "beijing").data
    assert [f["issue_time"] for f in idx] == [
        "2016-12-18T00:00:00Z",
        "2016-12-15T00:00:00Z",
        "2016-12-14T00:00:00Z",
    ]
    top = idx[0]
    assert top["file"] == "beijing_20161218T0000Z.nc" and top["variables"] == ["pm25"]
    assert top["data_cutoff"] == "2016-12-18T00:00:00Z"
    assert top["model_uris"] == {"pm25": "models:/beijing-pm25@champion"}
    assert top["mlflow_run_ids"] == {"pm25": "abc123"}
    assert top["weather_forecast"]["pm25"]["feed"] == "synthetic-nwp" and top["drivers"] is True
    fc = R.forecast(ws, "beijing").data
    assert fc["issue_time"] == "2016-12-18T00:00:00Z" and fc["quantiles"] == [0.1, 0.5, 0.9]
    assert fc["provenance"]["mlflow_run_ids"] == {"pm25": "abc123"} and len(fc["series"]) == 12
    one = R.forecast(
        ws, "beijing", issue_time="2016-12-15T00:00:00Z", station="Dongsi", variable="pm25"
    ).data
    (s,) = one["series"]
    assert s["station"] == "Dongsi" and s["unit"] == "ug m-3" and s["lead_time_h"][:2] == [1, 2]
    assert s["valid_time"][0] == "2016-12-15T01:00:00Z" and len(s["mean"]) == 96
    with xr.open_dataset(built["forecasts"][1]) as ds:
        mean = ds["pm25_mean"].sel(station="Dongsi").values[0]
        q90 = ds["pm25_quantile"].sel(station="Dongsi", quantile=0.9).values[0]
        local = ds["pm25_drivers"].sel(station="Dongsi", driver="local").values[0]
    np.testing.assert_allclose(s["mean"], mean, rtol=1e-6)
    np.testing.assert_allclose(s["quantiles"]["0.9"], q90, rtol=1e-6)
    assert set(s["quantiles"]) == {"0.1", "0.5", "0.9"} and set(s["drivers"]) == set(GROUPS)
    np.testing.assert_allclose(s["drivers"]["local"], local, rtol=1e-6)
    assert s["input_recent"] is True and s["model_uri"] == "models:/beijing-pm25@champion"
    json.dumps(fc)  # JSON-able
    with pytest.raises(
        R.NotFound,
        match=r"unknown forecast issue time '2016-12-16T00:00:00Z' of network 'beijing'; known: 2016-12-18",
    ):
        R.forecast(ws, "beijing", issue_time="2016-12-16 00:00")
    with pytest.raises(R.NotFound, match="unknown station 'Nowhere' in forecast"):
        R.forecast(ws, "beijing", station="Nowhere")
    with pytest.raises(R.NotFound, match=r"unknown variable 'o3' in forecast .*; known: pm25"):
        R.forecast(ws, "beijing", variable="o3")


# --------------------------------------------------------------------------- warnings
def test_warnings_and_one_lifecycle(ws):
    rows = R.warnings(ws, city="beijing").data
    city = next(w for w in rows if w["area"] == "beijing")
    assert city["status"] == "lifted" and city["last_action"] == "lift" and city["level"] == "red"
    assert city["area_names"] == {"zh": "北京市", "en": "Beijing"}
    assert (
        city["first_issued"] == "2016-12-14T00:00:00Z"
        and city["last_updated"] == "2016-12-18T00:00:00Z"
    )
    assert city["message"]["action"] == "lift" and city["why"]
    assert city["provenance"]["mlflow_run_ids"] == {"pm25": "abc123"}
    assert R.warnings(ws, city="beijing", status="active").data == []
    assert {w["id"] for w in R.warnings(ws, status="lifted").data} >= {city["id"]}
    w = R.warning(ws, city["id"]).data
    assert [m["action"] for m in w["messages"]] == ["issue", "upgrade", "lift"]
    assert [m["msg_type"] for m in w["messages"]] == ["Alert", "Update", "Cancel"]
    issued = w["messages"][0]["message"]
    assert issued["level"] == "yellow" and issued["expected_aqi"]["p90"] > 200
    assert issued["primary_pollutant"] == "pm25" and issued["health"]["advice"]["en"]
    assert issued["measures"] and issued["drivers"]["groups"][0]["driver"] == "local"
    assert w["messages"][1]["refs"].startswith(w["messages"][0]["identifier"])
    assert [d["action"] for d in w["decisions"]] == ["issue", "upgrade", "lift"]
    assert w["decisions"][0]["decision"]["level"] == "yellow"
    assert [a["action"] for a in w["audit"]] == ["issue", "upgrade", "lift"]
    assert w["audit"][0]["provenance"]["model_uris"] == {"pm25": "models:/beijing-pm25@champion"}
    json.dumps(w)
    cap = R.cap_message(ws, w["messages"][-1]["identifier"]).data
    assert cap.startswith("<?xml") and "<msgType>Cancel</msgType>" in cap
    with pytest.raises(R.NotFound, match=r"unknown warning 9999; known ids: 1\.\."):
        R.warning(ws, 9999)
    with pytest.raises(
        R.NotFound, match=r"unknown CAP message 'qingyuan.x'; newest: qingyuan\.beijing"
    ):
        R.cap_message(ws, "qingyuan.x")
    with pytest.raises(R.NotFound, match="not a valid name"):
        R.cap_message(ws, "../warnings")
    with pytest.raises(R.NotFound, match="unknown warning city 'atlantis'; known: beijing"):
        R.warnings(ws, city="atlantis")


def test_feed_bulletin_audit_alerts_outbox_cities(ws):
    feed = R.feed(ws, "beijing").data
    assert feed["city"] == "beijing" and "messages" in feed
    assert R.bulletin_path(ws, "beijing").name == "bulletin.html"
    with pytest.raises(R.NotFound, match=r"unknown warning city feed 'ndfa' .*; known: beijing"):
        R.feed(ws, "ndfa")
    with pytest.raises(R.NotFound, match="not a valid name"):
        R.bulletin_path(ws, "..")
    audit = R.lifecycle_audit(ws, city="beijing").data
    con = sqlite3.connect(ws.warnings_db)
    n = con.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    con.close()
    assert len(audit) == n == len(R.lifecycle_audit(ws).data) and audit[0]["seq"] < audit[-1]["seq"]
    assert audit[0]["issue_time"] == "2016-12-14T00:00:00Z" and isinstance(
        audit[0]["decision"], dict
    )
    alerts = R.ops_alerts(ws, city="beijing").data
    assert alerts and alerts[-1]["kind"] and "forecast" in alerts[-1]["message"]
    box = R.outbox(ws).data
    status = outbox_status(ws.warnings_db)
    assert box["counts"] == status["counts"] and box["rows"] == [] and box["undelivered"] == []
    cities = {c["name"]: c for c in R.cities(ws).data}
    assert {"beijing", "ndfa"} <= set(cities)
    bj = cities["beijing"]
    assert bj["network"] == "beijing" and bj["kind"] == "air"
    areas = {a["id"]: a for a in bj["areas"]}
    assert len(areas["beijing"]["stations"]) == 12 and areas["beijing"]["all_stations"]
    assert areas["beijing-north"]["stations"] == ["Dingling", "Shunyi", "Huairou", "Changping"]
    assert areas["beijing-urban"]["names"]["zh"] == "北京城区"
    assert cities["ndfa"]["kind"] == "water" and [lv["name"] for lv in bj["levels"]][-1] == "red"


def test_reads_never_create_the_database(tmp_path):
    mine = R.Workspace(tmp_path / "s", tmp_path / "o")
    (tmp_path / "o" / "warnings").mkdir(parents=True)
    for fn in (R.warnings, R.lifecycle_audit, R.ops_alerts, R.outbox, R.last_runs):
        fn(mine)
    with pytest.raises(R.NotFound):
        R.warning(mine, 1)
    assert not mine.warnings_db.exists()


# --------------------------------------------------------------------------- sources
def test_polar_and_trajectory(ws):
    p = R.polar(ws, "beijing").data
    assert p["variables"] == ["pm25"]
    (dongsi,) = p["stations"]
    assert dongsi["station"] == "Dongsi" and dongsi["name"] == "东四"
    res = dongsi["results"]["pm25"]
    assert res["figure"] == "Dongsi_pm25_polar.png" and res["readings"] > 500
    assert set(dongsi["figures"]) == {"Dongsi_pm25_polar.png", "Dongsi_pm25_polar.svg"}
    assert "Dongsi_pm25_sectors.csv" in dongsi["tables"]
    assert R.polar(ws, "ndfa").data["stations"] == []
    t = R.trajectory(ws, "beijing").data["results"]["pm25"]
    assert t["summary"]["trajectories"] > 0 and t["summary"]["figure"] == "trajectories_pm25.png"
    grid = pd.read_csv(ws.outputs / "source" / "beijing" / "trajectory" / "pscf_pm25.csv")
    assert len(t["pscf"]) == len(grid) and set(t["pscf"][0]) == {"lat", "lon", "value", "n"}
    k = int(grid["points"].to_numpy().argmax())
    assert t["pscf"][k]["n"] == grid["points"][k] and t["pscf"][k]["value"] == pytest.approx(
        grid["value"][k]
    )
    assert len(t["cwt"]) == len(grid) and "trajectories_pm25.svg" in t["figures"]


def test_pmf_runs_and_one_run(ws):
    runs = R.pmf_runs(ws).data
    (run,) = runs
    assert run["name"] == "BatonRouge_f3" and run["factors"] == 3 and run["q_true"] > 0
    assert run["inputs"]["concentration"] == "Dataset-BatonRouge-con.csv.xz"  # names, not paths
    assert "profiles.png" in run["files"]
    one = R.pmf_run(ws, "BatonRouge_f3").data
    conc = pd.read_csv(
        ws.outputs / "pmf" / "BatonRouge_f3" / "profiles_concentration.csv", index_col=0
    )
    first = one["profiles"]["concentration"][0]
    assert first["species"] == conc.index[0] and first["factor_2"] == pytest.approx(conc.iloc[0, 1])
    assert len(one["profiles"]["percent_of_species"]) == len(conc)
    assert [f["factor"] for f in one["factor_share"]] == ["factor_1", "factor_2", "factor_3"]
    assert {f["total"] for f in one["factor_share"]} == {"TNMOC"}
    assert one["contributions"][0]["time"] == "2005-06-01T06:00:00"
    assert set(one["contributions"][0]) == {"time", "factor_1", "factor_2", "factor_3"}
    assert "contributions.png" in one["figures"] and "runs.csv" in one["tables"]
    with pytest.raises(R.NotFound, match="unknown PMF run 'nope'; known: BatonRouge_f3"):
        R.pmf_run(ws, "nope")


def test_water_trace(ws, built):
    entries = R.water_trace(ws, "ndfa").data
    (e,) = entries
    assert (e["river"], e["section"], e["variable"]) == ("ndfa", "I80", "turbidity")
    assert e["table"] == Path(built["trace"]["table"]).name and e["figure"].endswith(".png")
    assert e["ranking"][0]["reach"] == built["trace"]["ranking"][0]["reach"]
    assert e["detected"] == pd.Timestamp(built["trace"]["detected"]).strftime("%Y-%m-%dT%H:00:00Z")
    assert R.water_trace(ws, "beijing").data == []
    assert R.artifact_path(ws, "ndfa", e["figure"]).is_file()


def test_artifact_path_resolves_inside_and_refuses_traversal(ws):
    fig = R.artifact_path(ws, "beijing", "Dongsi_pm25_polar.svg")
    assert fig == (ws.outputs / "source" / "beijing" / "polar" / "Dongsi_pm25_polar.svg").resolve()
    assert R.artifact_path(ws, "beijing", "cwt_pm25.csv").parent.name == "trajectory"
    assert R.artifact_path(ws, "BatonRouge_f3", "profiles.png").is_file()
    for bad in ("../summary.json", "..", "/etc/passwd", "polar/Dongsi_pm25_polar.svg", "a\\b"):
        with pytest.raises(R.NotFound):
            R.artifact_path(ws, "beijing", bad)
    with pytest.raises(R.NotFound):
        R.artifact_path(ws, "..", "warnings.db")
    evil = ws.outputs / "source" / "beijing" / "polar" / "evil.png"
    evil.symlink_to(ws.warnings_db)
    try:
        with pytest.raises(R.NotFound, match="unknown file 'evil.png' for 'beijing'"):
            R.artifact_path(ws, "beijing", "evil.png")
    finally:
        evil.unlink()
    with pytest.raises(R.NotFound, match="unknown file 'missing.png' for 'beijing'; known: "):
        R.artifact_path(ws, "beijing", "missing.png")


# --------------------------------------------------------------------------- registry
def test_registered_models_from_a_tmp_store(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("t", artifact_location=(tmp_path / "art").as_uri())
    run = client.create_run(exp, run_name="beijing-pm25-lightgbm-backtest")
    client.log_metric(run.info.run_id, "rmse", 12.5)
    client.log_param(run.info.run_id, "target", "pm25")
    client.log_param(run.info.run_id, "model.params.lgbm.num_leaves", "31")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("beijing-pm25")
    for _ in range(2):
        client.create_model_version(
            "beijing-pm25", f"runs:/{run.info.run_id}/model", run.info.run_id
        )
    client.set_registered_model_alias("beijing-pm25", "champion", "1")
    client.set_registered_model_alias("beijing-pm25", "challenger", "2")
    assert R.default_tracking_uri() == uri
    (m,) = R.registered_models().data
    assert m["name"] == "beijing-pm25" and m["aliases"] == {"champion": 1, "challenger": 2}
    v1 = m["versions"][0]
    assert v1["version"] == 1 and v1["run_id"] == run.info.run_id and v1["aliases"] == ["champion"]
    assert v1["metrics"] == {"rmse": 12.5} and v1["params"] == {"target": "pm25"}
    assert v1["created"].endswith("Z") and v1["run_name"] == "beijing-pm25-lightgbm-backtest"
    json.dumps(m)
    # a store that does not exist is not created
    missing = tmp_path / "nothing" / "mlflow.db"
    assert R.registered_models(tracking_uri=f"sqlite:///{missing}").data == []
    assert not missing.parent.exists()
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert R.default_tracking_uri() == f"sqlite:///{(ROOT / 'mlruns' / 'mlflow.db').resolve()}"


# --------------------------------------------------------------------------- operations
def test_ingest_reports_quarantine_and_last_runs(ws, built):
    reps = R.ingest_reports(ws).data
    assert [r["network"] for r in reps] == ["ndfa", "beijing"]  # newest first
    bj = next(r for r in reps if r["network"] == "beijing")
    assert bj["id"] == built["reports"]["beijing"].ingest_id and bj["rows_quarantined"] == 1
    assert (
        bj["quarantine_file"] == f"{bj['id']}_quarantine.csv"
        and bj["report_file"] == f"{bj['id']}.json"
    )
    assert bj["partitions_written"] == ["beijing_2017-01.nc", "beijing_2017-02.nc"]
    assert bj["started"].endswith("Z")
    assert len(R.ingest_reports(ws, network="ndfa", limit=5).data) == 1
    assert len(R.ingest_reports(ws, limit=1).data) == 1
    q = R.quarantine(ws, "beijing", bj["id"]).data
    assert list(q.columns) == ["file", "line", "field", "reason", "raw", "kind"] and len(q) == 1
    assert (
        q["file"][0].endswith("PRSA_Data_Dongsi_20130301-20170228.csv")
        and q["line"][0] == 24 * DAYS + 2
    )
    with pytest.raises(
        R.NotFound, match=r"unknown ingest report 'nope' of network 'beijing'; known: "
    ):
        R.quarantine(ws, "beijing", "nope")
    nd = next(r for r in reps if r["network"] == "ndfa")
    if nd["quarantine_file"] is None:
        with pytest.raises(R.NotFound, match="quarantined no rows"):
            R.quarantine(ws, "ndfa", nd["id"])
    runs = R.last_runs(ws).data
    assert runs["summary"] is None  # no main run wrote summary.json here
    assert runs["ingest"]["beijing"]["id"] == bj["id"] and runs["ingest"]["ndfa"]["id"] == nd["id"]
    assert runs["forecasts"]["beijing"] == {
        "issue_time": "2016-12-18T00:00:00Z",
        "file": "beijing_20161218T0000Z.nc",
    }
    assert runs["warnings"]["beijing"]["issue_time"] == "2016-12-18T00:00:00Z"
    assert runs["warnings"]["beijing"]["decisions"] == len(
        R.lifecycle_audit(ws, city="beijing").data
    )


def test_last_runs_reads_the_summary(tmp_path):
    mine = R.Workspace(tmp_path / "s", tmp_path / "o")
    mine.outputs.mkdir(parents=True)
    summary = {
        "networks": {
            "beijing": {
                "kind": "air",
                "period_utc": ["2013-02-28 16:00:00", "2017-02-28 15:00:00"],
                "ingest": {"rows_in": 3, "report_file": "/x/store/beijing/reports/r.json"},
                "days_per_aqi_category": {},
                "forecast": {
                    "file": "/x/outputs/forecasts/beijing/beijing_20170228T1500Z.nc",
                    "trained": ["pm25"],
                },
                "warnings": [
                    {"city": "beijing", "issue_time": "2017-02-28 15:00:00", "decisions": {}}
                ],
            }
        },
        "pmf_demo": {"outputs": "/x/outputs/pmf/run", "mlflow_run_id": "r1", "seconds": 1.0},
    }
    (mine.outputs / "summary.json").write_text(json.dumps(summary))
    s = R.last_runs(mine).data["summary"]
    b = s["networks"]["beijing"]
    assert s["generated"].endswith("Z") and b["period_utc"][1] == "2017-02-28T15:00:00Z"
    assert b["steps"] == ["assess", "forecast", "ingest", "warnings"]
    assert (
        b["ingest"]["report_file"] == "r.json"
        and b["forecast"]["file"] == "beijing_20170228T1500Z.nc"
    )
    assert b["warnings"][0]["issue_time"] == "2017-02-28T15:00:00Z" and s["pmf"]["outputs"] == "run"


def test_outbox_rows_are_what_outbox_status_reports(ws, tmp_path):
    mine = R.Workspace(tmp_path / "s", tmp_path / "o")
    mine.warnings_db.parent.mkdir(parents=True)
    src = sqlite3.connect(ws.warnings_db)
    dst = sqlite3.connect(mine.warnings_db)
    src.backup(dst)
    src.close()
    ident = dst.execute("SELECT identifier FROM messages LIMIT 1").fetchone()[0]
    dst.executemany(
        "INSERT INTO outbox (identifier, url, format, status, attempts, next_attempt_at, last_error) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                ident,
                "http://a.example/hook",
                "cap",
                "pending",
                2,
                "2016-12-14T01:00:00+00:00",
                "HTTP 500",
            ),
            (
                ident,
                "http://b.example/hook",
                "json",
                "delivered",
                1,
                "2016-12-14T00:00:00+00:00",
                None,
            ),
        ],
    )
    dst.commit()
    dst.close()
    box = R.outbox(mine).data
    status = outbox_status(mine.warnings_db)
    assert box["counts"] == status["counts"] == {"pending": 1, "delivered": 1}
    assert [r["url"] for r in box["undelivered"]] == [r["url"] for r in status["undelivered"]]
    assert box["undelivered"][0]["next_attempt_at"] == "2016-12-14T01:00:00Z"
    assert [r["status"] for r in box["rows"]] == ["pending", "delivered"]


@pytest.mark.parametrize("name", ["beijing_daily_aqi.nc", "ndfa_daily_class.nc"])
def test_the_assessment_files_pass_the_cf_checker(built, name):
    from qy_helpers import cf_check

    report = cf_check(built["ws"].outputs / name)
    failures = [(p["name"], m) for p in report["all_priorities"] for m in p["msgs"]]
    assert report["scored_points"] == report["possible_points"], "\n".join(map(str, failures))


def _flip_one_bit(path: Path) -> None:
    """Flip a bit in the middle of a file, keeping its size and modification time."""
    st = path.stat()
    with open(path, "r+b") as fh:
        fh.seek(st.st_size // 2)
        byte = fh.read(1)
        fh.seek(st.st_size // 2)
        fh.write(bytes([byte[0] ^ 0x10]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_damaged_partition_is_refused_by_every_results_read(ws, tmp_path):
    import shutil

    from pipelines.errors import StoreCorrupted

    mine = R.Workspace(tmp_path / "store", tmp_path / "outputs")
    shutil.copytree(ws.store, mine.store)
    shutil.copytree(ws.outputs, mine.outputs)
    R.clear_cache()  # the copies have new paths anyway; no read of the originals is reused
    last = StationStore(mine.store, load_network("beijing"), load_variables()["variables"])
    part = last.partitions()[-1]
    _flip_one_bit(part)
    listed = {n["name"]: n for n in R.networks(mine).data}  # listed, with the damage named
    assert listed["beijing"]["damaged"] == {
        "file": part.name,
        "reason": "corrupted partition, not read",
    }
    assert listed["beijing"]["variables"] == [] and listed["ndfa"]["damaged"] is None
    for read in (
        lambda: R.hourly_aqi(mine, "beijing", "Dongsi", start=None, end=None),
        lambda: R.observations(mine, "beijing", "Dongsi", start=None, end=None),
        lambda: R.current_status(mine, "beijing"),
    ):
        with pytest.raises(StoreCorrupted, match="corrupted partition, not read") as exc:
            read()
        assert exc.value.path == str(part)
    assert R.networks(ws).data[0]["damaged"] is None  # the intact original still reads
