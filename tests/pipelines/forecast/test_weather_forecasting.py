"""Forecasts from a weather-forecast feed, end to end: GRIB2 and CF netCDF files -> NWP store ->
LightGBM trained with the feed -> issued forecast with the NWP run as provenance; a missing run
falls back as configured, or the forecast is refused naming the feed and issue time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from qy_helpers import GENERIC_NETWORK, write_network

from features.forecast_features import MissingWeatherForecast
from pipelines.config import load_network
from pipelines.ingest import ingest
from pipelines.nwp.store import ingest_nwp, list_runs
from pipelines.nwp.synthetic import write_grib2, write_netcdf

ROOT = Path(__file__).resolve().parents[3]
GRID_LAT = np.array([39.5, 39.75, 40.0, 40.25])
GRID_LON = np.array([116.0, 116.25, 116.5, 116.75])
START = pd.Timestamp("2016-01-01 00:00")
DAYS = 110
LAST_RUN = pd.Timestamp("2016-04-10 00:00")  # runs daily at 00 UTC up to here, 120 h long
FEEDS = {
    "grib2": '  - {name: nwp, format: grib2, files: ["nwp/*.grib2"], latency_hours: 3}',
    "netcdf": '  - {name: nwp, format: netcdf, files: ["nwp/*.nc"], latency_hours: 3}',
}


def _weather(n_hours: int, seed: int = 5) -> dict[str, np.ndarray]:
    """Smooth hourly 'true' weather (uniform in space): stagnation drives the PM."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_hours)
    slow = np.convolve(rng.normal(0, 1, n_hours + 96), np.ones(96) / 96**0.5, "valid")[:n_hours]
    wind = np.clip(3.0 + 1.5 * slow, 0.2, None)
    return {
        "air_temperature": 5 + 5 * np.sin(2 * np.pi * t / 24),
        "dew_point_temperature": -5 + 2 * slow,
        "eastward_wind": wind,
        "northward_wind": np.zeros(n_hours),
        "air_pressure": 1015 - 3 * slow,
        "precipitation": np.zeros(n_hours),
        "boundary_layer_height": 300 + 150 * wind,
    }


def _write_feed(folder: Path, fmt: str, truth: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for issue in pd.date_range(START, LAST_RUN, freq="24h"):
        i0 = int((issue - START) / pd.Timedelta(hours=1))
        fields = {}
        for v, x in truth.items():
            seg = x[i0 : i0 + 121]
            if v == "precipitation":
                seg = np.cumsum(seg)
            fields[v] = np.broadcast_to(seg[:, None, None], (121, 4, 4)).astype(float).copy()
        kw = {"issue_time": issue, "grid_lat": GRID_LAT, "grid_lon": GRID_LON}
        if fmt == "grib2":
            write_grib2(fields, folder / f"{issue:%Y%m%d%H}.grib2", **kw)
        else:
            write_netcdf(fields, folder / f"{issue:%Y%m%d%H}.nc", **kw)


def _network_text(fmt: str, fallback: str) -> str:
    base = GENERIC_NETWORK.format(name="wxnet", files="data/x.csv")
    return (
        base
        + "weather_forecasts:\n"
        + FEEDS[fmt]
        + f"\nforecast_weather: {{feed: nwp, fallback: {fallback}}}\n"
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wx")
    n = 24 * (DAYS + 6)
    truth = _weather(n)
    rng = np.random.default_rng(1)
    times = START + pd.to_timedelta(np.arange(1, 24 * DAYS), unit="h")
    vent = truth["eastward_wind"] * truth["boundary_layer_height"]
    rows = []
    for k, t in enumerate(times):
        i = k + 1
        pm = 20 + 9e4 / vent[i] + rng.normal(0, 3)  # stagnant air -> high PM2.5
        for s, st in enumerate("ABC"):
            v = max(pm * (1 + 0.05 * s), 1.0)
            rows.append(f"{t:%Y-%m-%d %H:%M},{st},{v:.1f},{1.4 * v:.1f},{v / 80:.2f}")
    (tmp / "data").mkdir()
    (tmp / "data" / "x.csv").write_text("time,site,pm25,pm10,co\n" + "\n".join(rows) + "\n")
    _write_feed(tmp / "nwp", "grib2", truth)
    _write_feed(tmp / "nwp", "netcdf", truth)
    net = write_network(tmp, _network_text("grib2", "no_weather"), "wxnet")
    ingest(str(net), tmp / "store", now=pd.Timestamp("2030-01-01", tz="UTC"))
    ingest_nwp(load_network(str(net)), tmp / "store", now=pd.Timestamp("2030-01-01"))
    mp = pytest.MonkeyPatch()
    mp.setenv("QINGYUAN_HOME", str(tmp))
    mp.setenv("QINGYUAN_CONFIG", str(ROOT / "configs"))
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(tmp / 'mlruns' / 'mlflow.db').resolve()}")
    yield tmp, str(net)
    mp.undo()


@pytest.fixture(scope="module")
def trained(env):
    from pipelines.forecast.jobs import backtest_network

    tmp, net = env
    res = backtest_network(
        net,
        tmp / "store",
        targets=["pm25"],
        start="2016-03-16",
        end="2016-04-12",
        train_end="2016-03-15",
        models=["persistence", "lightgbm"],
    )
    return tmp, net, res["pm25"]


def test_grib_runs_reach_the_store_through_the_adapter(env):
    tmp, _ = env
    runs = list_runs(tmp / "store" / "wxnet", "nwp")
    assert runs[0] == START and runs[-1] == LAST_RUN and len(runs) == DAYS - 10 + 1
    with xr.open_dataset(tmp / "store" / "wxnet" / "nwp" / "nwp" / "nwp_20160301T0000Z.nc") as ds:
        assert ds.attrs["source_files"] == "2016030100.grib2"
        assert ds["air_temperature"].attrs["units"] == "degC"


def test_weather_model_beats_the_no_weather_companion(trained):
    _, _, res = trained
    t = res.table.set_index(["model", "lead"])["rmse"]
    assert res.fitted["lightgbm"].weather_feed_ == "nwp"
    assert res.fitted["lightgbm-no-weather"].weather_feed_ is None
    for h in (24, 48, 72):
        assert t[("lightgbm", h)] < 0.8 * t[("lightgbm-no-weather", h)], h


def _issue(tmp, net, when):
    from pipelines.forecast.jobs import issue_forecast

    return issue_forecast(net, tmp / "store", when, tmp / "out", targets=["pm25"])


def test_forecast_records_the_nwp_run_it_used(trained):
    tmp, net, _ = trained
    # 03:00 UTC: the 00 UTC run is just visible (3 h latency); the day before's is too short
    path = _issue(tmp, net, "2016-04-01 11:00")
    with xr.open_dataset(path) as ds:
        wx = json.loads(ds.attrs["weather_forecast"])["pm25"]
        uri = json.loads(ds.attrs["model_uris"])["pm25"]
    assert wx["status"] == "used" and wx["feed"] == "nwp" and not wx["synthetic"]
    assert wx["run_issue_time"] == "2016-04-01T00:00Z"
    early = _issue(tmp, net, "2016-04-01 10:00")  # 02:00 UTC: 31 Mar run needs 122 h of 120
    with xr.open_dataset(early) as ds:
        wx = json.loads(ds.attrs["weather_forecast"])["pm25"]
    assert wx["status"] == "missing" and "needs 122 h" in wx["reason"]
    assert uri == "models:/wxnet-pm25@champion"


def test_missing_run_falls_back_as_configured_and_says_so(trained):
    tmp, net, _ = trained
    # last run 10 Apr 00 UTC reaches 120 h = 15 Apr 00 UTC; an issue on 12 Apr needs 96 h more
    path = _issue(tmp, net, "2016-04-12 20:00")
    with xr.open_dataset(path) as ds:
        wx = json.loads(ds.attrs["weather_forecast"])["pm25"]
        uri = json.loads(ds.attrs["model_uris"])["pm25"]
        assert np.isfinite(ds["pm25_mean"].values).all()
    assert wx["status"] == "missing" and "reaches 120 h" in wx["reason"]
    assert wx["fallback"] == "no_weather: models:/wxnet-pm25-no-weather@champion"
    assert uri == "models:/wxnet-pm25-no-weather@champion"


def test_refuse_names_the_feed_and_the_issue_time(trained, tmp_path):
    tmp, net, _ = trained
    refuse = Path(net).with_name("wxnet_refuse.yml")
    refuse.write_text(_network_text("grib2", "refuse"))
    # same network name, same store and registry: only the fallback setting differs
    with pytest.raises(MissingWeatherForecast, match=r"feed 'nwp'.*2016-04-12T12:00Z.*'refuse'"):
        _issue(tmp, str(refuse), "2016-04-12 20:00")


def test_the_same_runs_as_netcdf_give_the_same_forecast(trained, tmp_path):
    """A bureau switching its feed from GRIB2 to CF netCDF files: same runs, same forecast."""
    tmp, net, _ = trained
    grib_path = _issue(tmp, net, "2016-04-01 11:00")
    with xr.open_dataset(grib_path) as ds:
        grib = ds["pm25_mean"].values.copy()
    store = tmp / "store"
    shutil.copytree(store, tmp_path / "store")
    shutil.rmtree(tmp_path / "store" / "wxnet" / "nwp")
    nc_net = Path(net).with_name("wxnet_nc.yml")
    nc_net.write_text(_network_text("netcdf", "refuse"))
    ingest_nwp(load_network(str(nc_net)), tmp_path / "store", now=pd.Timestamp("2030-01-01"))
    from pipelines.forecast.jobs import issue_forecast

    path = issue_forecast(
        str(nc_net), tmp_path / "store", "2016-04-01 11:00", tmp_path / "out", targets=["pm25"]
    )
    with xr.open_dataset(path) as ds:
        assert json.loads(ds.attrs["weather_forecast"])["pm25"]["status"] == "used"
        # GRIB2 packs to 16 bits: the features differ in the last digits, the forecast hardly
        np.testing.assert_allclose(ds["pm25_mean"].values, grib, rtol=0.02, atol=1.0)
