"""Forecast files: atomic netCDF writes and a reader that names the file and what it lacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from models.forecast.base import Forecast
from models.forecast.dataset import forecast_attrs, forecast_dataset
from models.forecast.drivers import GROUPS
from pipelines.forecast.files import ForecastFileError, forecast_path, open_forecast, write_forecast


def _dataset(drivers: bool = True) -> xr.Dataset:
    mean = np.arange(2 * 1 * 6, dtype=float).reshape(2, 1, 6)
    fc = Forecast(mean, np.stack([mean, 2 * mean], axis=-1), (0.5, 0.9))
    return forecast_dataset(
        {"pm25": fc},
        ["A1", "B2"],
        issue_times=[pd.Timestamp("2017-01-01 00:00")],
        leads=np.arange(1, 7),
        lat=[39.9, 40.0],
        lon=[116.3, 116.4],
        station_names=["东四", "B2"],
        drivers={"pm25": np.ones((2, 1, 6, len(GROUPS)))} if drivers else None,
        recent={},
        attrs={"issue_time": "2017-01-01T00:00:00Z"},
        dtype="float32",
    )


def test_write_and_open_round_trip(tmp_path):
    path = forecast_path(tmp_path, "net", pd.Timestamp("2017-01-01 00:00"))
    assert path == tmp_path / "forecasts" / "net" / "net_20170101T0000Z.nc"
    assert write_forecast(_dataset(), path) == path
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    ds = open_forecast(path)
    assert [str(s) for s in ds["station"].values] == ["A1", "B2"]
    assert [str(s) for s in ds["station_name"].values] == ["东四", "B2"]
    assert [str(g) for g in ds["driver"].values] == list(GROUPS)
    assert ds["pm25_quantile"].dtype == np.float32
    np.testing.assert_array_equal(ds["pm25_quantile"].values[..., 1], 2 * ds["pm25_mean"].values)
    assert pd.Timestamp(ds["issue_time"].values[0]) == pd.Timestamp("2017-01-01")
    assert ds.attrs["issue_time"] == "2017-01-01T00:00:00Z"
    assert open_forecast(path, variables=["pm25_drivers"])["pm25_drivers"].shape == (
        2,
        1,
        6,
        len(GROUPS),
    )


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f.nc"
    write_forecast(_dataset(drivers=False), path)
    before = path.read_bytes()

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(OSError, match="disk full"):
        write_forecast(_dataset(), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["f.nc"]


def test_open_names_the_file_and_what_is_wrong(tmp_path):
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"CDF\x01 truncated")
    with pytest.raises(ForecastFileError, match="cannot be read") as err:
        open_forecast(junk)
    assert str(err.value).startswith(f"forecast file {junk}: ")
    assert isinstance(err.value, ValueError) and err.value.path == junk
    with pytest.raises(ForecastFileError, match="cannot be read"):
        open_forecast(tmp_path / "none.nc")
    nolead = tmp_path / "nolead.nc"
    _dataset(drivers=False).drop_vars("pm25_input_recent").isel(lead_time=0).drop_vars(
        "lead_time"
    ).to_netcdf(nolead)
    with pytest.raises(ForecastFileError) as err:
        open_forecast(nolead)
    assert str(err.value) == f"forecast file {nolead}: lacks ['lead_time']"
    assert err.value.missing == ["lead_time"]
    plain = tmp_path / "plain.nc"
    write_forecast(_dataset(drivers=False), plain)
    with pytest.raises(ForecastFileError) as err:
        open_forecast(plain, variables=["pm25_drivers"])
    assert err.value.missing == ["pm25_drivers"] and err.value.problem == "lacks ['pm25_drivers']"


def test_a_forecast_file_passes_the_cf_checker(tmp_path, registry):
    from qy_helpers import cf_check

    mean = np.arange(2 * 1 * 6, dtype=float).reshape(2, 1, 6)
    fc = Forecast(mean, np.stack([mean, 2 * mean], axis=-1), (0.5, 0.9))
    ds = forecast_dataset(
        {"pm25": fc, "turbidity": fc},  # turbidity: FNU, which UDUNITS does not know
        ["A1", "B2"],
        issue_times=[pd.Timestamp("2017-01-01 00:00")],
        leads=np.arange(1, 7),
        lat=[39.9, 40.0],
        lon=[116.3, 116.4],
        station_names=["东四", "B2"],
        drivers={"pm25": np.ones((2, 1, 6, len(GROUPS)))},
        recent={},
        attrs=forecast_attrs(
            "net",
            issue=pd.Timestamp("2017-01-01 00:00"),
            cutoff=pd.Timestamp("2016-12-31 23:00"),
            provenance={t: {"model_uri": "m", "mlflow_run_id": "r"} for t in ("pm25", "turbidity")},
            created="2017-01-01T00:05:00Z",
            history="test",
        ),
        variables=registry["variables"],
        dtype="float32",
    )
    path = write_forecast(ds, tmp_path / "f.nc")
    report = cf_check(path)
    failures = [(p["name"], m) for p in report["all_priorities"] for m in p["msgs"]]
    # Known, documented deviation: the file's dimensions are (station, issue_time, lead_time[,
    # quantile]), which §2.4 only *recommends* against (T first); everything else must pass.
    order = "spatio-temporal dimensions are not in the recommended order"
    others = [f for f in failures if f[0] != "§2.4 Dimensions" or order not in f[1]]
    assert not others, "\n".join(map(str, others))
    assert {m.split("'")[0] for _, m in failures} == {
        f"{t}_{k}" for t in ("pm25", "turbidity") for k in ("mean", "quantile")
    } | {"pm25_drivers", "time"}

    back = open_forecast(path)
    assert back["turbidity_mean"].attrs["units_metadata"] == "measured in FNU"
