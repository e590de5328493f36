"""The synthetic national network of the benchmarks: valid configuration, read by the real code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.national import CHINA, city_centres, inside, stage, write_national


def test_city_centres_lie_inside_the_outline_and_lean_east():
    lon, lat = city_centres(300, np.random.default_rng(0))
    assert inside(lon, lat).all()
    assert 73 <= lon.min() and lon.max() <= 135 and 18 <= lat.min() and lat.max() <= 54
    assert np.median(lon) > 108  # denser towards the east coast, like the real networks
    assert not inside(np.array([125.0, 90.0]), np.array([30.0, 50.0]), CHINA).any()  # sea, Mongolia


@pytest.fixture()
def national(tmp_path, monkeypatch):
    ds = write_national(tmp_path, n_air=40, n_water=12, days=3, cities=8, seed=3)
    monkeypatch.setenv("QINGYUAN_CONFIG", str(ds.config))
    return ds


def test_written_set_validates_and_has_faults(national):
    from pipelines.config import load_network
    from pipelines.config.warnings import load_warning_config

    air, water = load_network("national_air"), load_network("national_water")
    assert len(air.stations) == 40 and air.kind == "air" and water.kind == "water"
    _, city = load_warning_config("national")
    assert city.network == "national_air" and len(city.areas) == 8
    assert sorted(s for a in city.areas for s in a.stations) == sorted(s.id for s in air.stations)
    f = national.faults["national_air"]
    assert f["random_gaps"] > 0 and f["sentinels"] > 0 and f["spikes"] > 0
    assert national.rows["national_air"] == {"archive": 40 * 72, "feed": 40 * 72}
    assert national.new_hour == pd.Timestamp("2024-01-04 01:00")


def test_the_real_ingest_reads_it_and_qc_flags_the_faults(national, tmp_path):
    import xarray as xr

    from pipelines.ingest import ingest

    stage(national, "national_air", "archive")
    now = pd.Timestamp("2030-01-01", tz="UTC")
    rep = ingest("national_air", tmp_path / "store", now=now)
    assert rep.balanced and rep.rows_in == 40 * 72 and rep.values_new > 0
    with xr.open_dataset(rep.partitions_written[0]) as ds:
        flags = ds["pm25_flag"].values
    assert (flags != 0).sum() > 0  # sentinels, gaps, spikes: not all normal
    stage(national, "national_air", "feed")  # the new hour: one more hour per station
    rep2 = ingest("national_air", tmp_path / "store", now=now)
    assert rep2.values_unchanged > 0 and rep2.values_new <= 40 * 6
