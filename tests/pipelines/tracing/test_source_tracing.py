"""Polar and trajectory jobs on a stored network with wind: figures, data, and bad requests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from qy_helpers import write_network

from pipelines.ingest import ingest
from pipelines.tracing.air import polar_job, trajectory_job

NETWORK = """
name: windnet
title: synthetic network with wind
kind: air
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources:
  - adapter: column_table
    files: ["{files}"]
    time_column: time
    station_column: site
    columns:
      pm25: {{variable: pm25, units: ug m-3}}
      ws: {{variable: wind_speed, units: m s-1}}
      wd: {{variable: wind_from_direction, units: degree}}
stations:
  - {{id: A, name: Station A, lat: 39.90, lon: 116.40}}
  - {{id: B, name: Station B, lat: 40.00, lon: 116.50}}
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wind")
    rng = np.random.default_rng(0)
    times = pd.date_range("2020-01-01 01:00", periods=24 * 60, freq="h")
    rows = []
    for s in ("A", "B"):
        wd = rng.uniform(0, 360, len(times))
        ws = rng.gamma(2.0, 1.5, len(times))
        d = np.abs((wd - 200 + 180) % 360 - 180)  # a source to the south-south-west
        pm = 30 + 150 * np.exp(-0.5 * (d / 25) ** 2) + rng.normal(0, 5, len(times))
        for t, a, b, c in zip(times, pm, ws, wd, strict=True):
            rows.append(f"{t:%Y-%m-%d %H:%M},{s},{max(a, 1):.1f},{b:.2f},{c:.0f}")
    csv = tmp / "wind.csv"
    csv.write_text("time,site,pm25,ws,wd\n" + "\n".join(rows) + "\n", encoding="utf-8")
    path = write_network(tmp, NETWORK.format(files=csv), "windnet")
    ingest(str(path), tmp / "store")
    return tmp, str(path)


def test_polar_job_writes_figures_and_points_at_the_source(store):
    tmp, net = store
    res = polar_job(net, tmp / "store", tmp / "out", "pm25", ["A"])
    r = res["stations"]["A"]["pm25"]
    assert abs((r["cpf_peak_direction_deg"] - 200 + 180) % 360 - 180) < 25
    out = tmp / "out" / "source" / "windnet" / "polar"
    for f in ("A_pm25_polar.png", "A_pm25_polar.svg", "A_pm25_polar_cpf.csv", "A_pm25_sectors.csv"):
        assert (out / f).exists(), f


def test_polar_and_trajectory_jobs_refuse_bad_requests(store):
    tmp, net = store
    with pytest.raises(ValueError, match="no station 'Z'"):
        polar_job(net, tmp / "store", tmp / "out", "pm25", ["Z"])
    with pytest.raises(ValueError, match=r"store has no \['no2'\]"):
        polar_job(net, tmp / "store", tmp / "out", "no2")


def test_trajectory_job_maps_pscf_and_cwt(store):
    tmp, net = store
    res = trajectory_job(net, tmp / "store", tmp / "out", "pm25", hours=24, every_hours=6)
    assert res["trajectories"] > 100 and "extrapolated" in res["wind_field"]
    out = tmp / "out" / "source" / "windnet" / "trajectory"
    assert (out / "pscf_pm25.csv").exists() and (out / "trajectories_pm25.png").exists()
