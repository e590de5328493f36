"""Station store: CF compliance, idempotent and overlapping upserts, gridded fields."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from qy_helpers import GENERIC_NETWORK, cf_check, hourly_csv, write_network

from pipelines.config import load_network, load_variables
from pipelines.ingest import ingest
from pipelines.store import StationStore

NOW = pd.Timestamp("2016-06-01", tz="UTC")


@pytest.fixture()
def small(tmp_path):
    (tmp_path / "data").mkdir()
    hourly_csv(tmp_path / "data" / "a.csv", hours=24 * 45)
    net_path = write_network(tmp_path, GENERIC_NETWORK.format(name="t1", files="data/a.csv"))
    net = load_network(str(net_path))
    return tmp_path, net_path, StationStore(tmp_path / "store", net, load_variables()["variables"])


def test_store_passes_compliance_checker(small):
    tmp_path, net_path, store = small
    ingest(str(net_path), tmp_path / "store", now=NOW)
    for part in store.partitions():
        report = cf_check(part)
        failures = [(p["name"], p["msgs"]) for p in report["all_priorities"] if p["msgs"]]
        assert report["scored_points"] == report["possible_points"], failures
        with xr.open_dataset(part) as ds:
            assert ds.attrs["featureType"] == "timeSeries"
            assert ds["station_id"].attrs["cf_role"] == "timeseries_id"
            assert ds["pm25"].attrs["units"] == "ug m-3"
            assert ds["co"].attrs["standard_name"] == "mass_concentration_of_carbon_monoxide_in_air"


def test_reingest_is_idempotent(small):
    tmp_path, net_path, store = small
    ingest(str(net_path), tmp_path / "store", now=NOW)
    first = store.open()
    rep = ingest(str(net_path), tmp_path / "store", now=NOW)
    assert rep.values_new == 0 and rep.values_changed == 0 and rep.values_unchanged > 0
    xr.testing.assert_identical(first, store.open())


def test_overlapping_and_late_data(small):
    tmp_path, net_path, store = small
    ingest(str(net_path), tmp_path / "store", now=NOW)
    before = store.open()
    # a late file re-sends the last 10 days with one corrected value and 5 new days
    csv = tmp_path / "data" / "a.csv"
    lines = csv.read_text().splitlines()
    late = hourly_csv(tmp_path / "data" / "late.csv", start="2016-02-05 01:00", hours=24 * 15)
    late_lines = late.read_text().splitlines()
    late_lines[1] = "2016-02-05 01:00,A,999.5,1000.0,1.00"
    late.write_text("\n".join(late_lines) + "\n")
    net2 = write_network(tmp_path, GENERIC_NETWORK.format(name="t1", files="data/late.csv"))
    rep = ingest(str(net2), tmp_path / "store", now=NOW)
    after = store.open()
    assert rep.values_changed >= 1 and rep.values_new > 0
    t = pd.Timestamp("2016-02-04 17:00")  # 2016-02-05 01:00 Beijing time
    assert float(after["pm25"].sel(station="A", time=t)) == 999.5
    # everything before the late window is unchanged
    early = slice(None, pd.Timestamp("2016-02-04 16:00"))
    np.testing.assert_array_equal(
        before["pm25"].sel(time=early).values, after["pm25"].sel(time=early).values
    )
    assert len(lines) > 1


def test_time_bounds_follow_label_convention(small):
    tmp_path, net_path, store = small
    ingest(str(net_path), tmp_path / "store", now=NOW)
    with xr.open_dataset(store.partitions()[1]) as ds:
        b = ds["time_bnds"].values
        assert (b[:, 1] == ds["time"].values).all()  # hour-ending: the label is the upper bound
        assert ((b[:, 1] - b[:, 0]) == np.timedelta64(1, "h")).all()
        assert ds.attrs["time_label"] == "interval_end"


def test_grid_is_cf_and_interpolates(small):
    from pipelines.assess import write_grid

    tmp_path, net_path, store = small
    ingest(str(net_path), tmp_path / "store", now=NOW)
    out = write_grid(store, "pm25", tmp_path / "grid.nc", method="idw", resolution=0.02)
    report = cf_check(out)
    assert report["scored_points"] == report["possible_points"]
    with xr.open_dataset(out) as g:
        field = g["pm25"].isel(time=0).values
        assert np.isfinite(field).all()
        daily = store.open()["pm25"]
        assert field.min() >= float(daily.min()) - 1e-3 and field.max() <= float(daily.max()) + 1e-3


def test_qc_threads_from_the_environment(monkeypatch):
    from pipelines.store import QC_THREADS_ENV, qc_threads

    monkeypatch.setenv(QC_THREADS_ENV, "3")
    assert qc_threads() == 3
    monkeypatch.delenv(QC_THREADS_ENV)
    assert qc_threads() >= 1
    for bad in ("two", "0"):
        monkeypatch.setenv(QC_THREADS_ENV, bad)
        with pytest.raises(ValueError, match=QC_THREADS_ENV):
            qc_threads()


def test_temporaries_of_a_killed_write_are_removed_by_the_next_ingest(small):
    tmp_path, net_path, store = small
    ingest(str(net_path), tmp_path / "store", now=NOW)
    before = {p.name: p.read_bytes() for p in store.partitions()}
    part = store.partitions()[0]
    debris = part.with_name(f"{part.name}.4242.tmp")  # what a SIGKILL in to_netcdf leaves
    debris.write_bytes(b"half a netCDF file")
    keep = part.with_name("notes.tmp")  # not a temporary of ours: left alone
    keep.write_text("x")
    rep = ingest(str(net_path), tmp_path / "store", now=NOW)
    assert not debris.exists() and keep.exists()
    assert rep.temporaries_removed == [str(debris)]
    assert {p.name: p.read_bytes() for p in store.partitions()}.keys() == before.keys()
    assert ingest(str(net_path), tmp_path / "store", now=NOW).temporaries_removed == []


def test_the_daily_aqi_file_passes_the_cf_checker(small):
    from pipelines.assess import assess_air, write_assessment

    tmp_path, net_path, store = small
    ingest(str(net_path), tmp_path / "store", now=NOW)
    path = write_assessment(assess_air(store), tmp_path / "t1_daily_aqi.nc")
    report = cf_check(path)
    failures = [(p["name"], m) for p in report["all_priorities"] for m in p["msgs"]]
    assert report["scored_points"] == report["possible_points"], "\n".join(map(str, failures))
    with xr.open_dataset(path) as ds:
        assert ds["category"].dtype == "int8" and ds["pm25_24h"].attrs["units"] == "ug m-3"
        assert "daily (24-h) mean of" in ds["pm25_24h"].attrs["long_name"]
