"""Polar surfaces / CPF, back-trajectories, PSCF / CWT and the puff twin on controlled winds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.twins.plume import Source, simulate_receptors
from features.tracing.polar import cluster_surface, polar_surface, sector_table
from features.tracing.trajectory import WindField, back_trajectories, cwt, local_maxima, pscf


def test_cpf_points_at_the_direction_of_a_source():
    rng = np.random.default_rng(0)
    n = 6000
    wd = rng.uniform(0, 360, n)
    ws = rng.gamma(2.0, 1.5, n)
    # a source to the south-east (135 deg): high values when the wind comes from there
    d = np.abs((wd - 135 + 180) % 360 - 180)
    conc = 20 + 80 * np.exp(-0.5 * (d / 20) ** 2) + rng.normal(0, 3, n)
    tab = sector_table(wd, conc, sectors=16, cpf_percentile=75)
    by = tab.set_index("sector_centre")
    assert by.loc[135.0, "cpf"] == by["cpf"].max() > 0.9
    assert by.loc[315.0, "cpf"] < 0.02  # the opposite direction (almost) never exceeds P75
    assert by["mean"].idxmax() == 135.0
    assert tab["frequency_percent"].sum() == pytest.approx(100.0)
    s = polar_surface(ws, wd, conc, "cpf", percentile=75)
    direction, _, peak = s.peak()
    assert abs((direction - 135 + 180) % 360 - 180) < 15 and peak > 0.6
    mean = polar_surface(ws, wd, conc, "mean")
    assert abs((mean.peak()[0] - 135 + 180) % 360 - 180) < 15
    assert np.isnan(mean.value[0, 0])  # grid corners lie outside the wind-speed circle
    labels = cluster_surface(mean, k=3)
    assert set(np.unique(labels)) == {-1, 0, 1, 2}
    with pytest.raises(ValueError, match="statistic"):
        polar_surface(ws, wd, conc, "median")


def uniform_field(u: float, v: float, hours: int = 60) -> WindField:
    times = pd.date_range("2020-01-01", periods=hours, freq="h").values
    lat, lon = np.arange(35.0, 45.01, 0.5), np.arange(110.0, 122.01, 0.5)
    shape = (hours, len(lat), len(lon))
    return WindField(times, lat, lon, np.full(shape, u), np.full(shape, v))


def test_back_trajectory_in_uniform_wind_goes_straight_upwind():
    f = uniform_field(u=5.0, v=0.0)  # westerly 5 m/s: air came from the west
    tr = back_trajectories(f, [40.0], [116.0], [np.datetime64("2020-01-02T12:00")], hours=24)
    end = tr[tr["hour_back"] == 24].iloc[0]
    km_west = (116.0 - end["lon"]) * 111.2 * np.cos(np.radians(40.0))
    assert km_west == pytest.approx(5.0 * 24 * 3.6, rel=0.01)  # 432 km
    assert end["lat"] == pytest.approx(40.0, abs=1e-6)
    assert len(tr) == 25


def test_from_stations_reproduces_uniform_station_winds():
    times = pd.date_range("2020-01-01", periods=3, freq="h")
    st_lat, st_lon = np.array([39.9, 40.1]), np.array([116.3, 116.5])
    u = np.full((2, 3), 2.0)
    v = np.array([[1.0, np.nan, 1.0], [1.0, np.nan, 1.0]])  # a gap at t=1
    f = WindField.from_stations(
        times, st_lat, st_lon, u, v, np.arange(39, 41.1, 0.5), np.arange(115, 117.1, 0.5)
    )
    assert np.allclose(f.u, 2.0) and np.allclose(
        f.v, 1.0
    )  # the gap is filled from a neighbour time


def test_pscf_and_cwt_highlight_the_cells_polluted_air_came_through():
    # two regimes: polluted air from the south, clean from the north
    f_s = uniform_field(0.0, 3.0)
    f_n = uniform_field(0.0, -3.0)
    t = np.array([np.datetime64("2020-01-02T12:00")] * 40)
    a = back_trajectories(f_s, np.full(20, 40.0), np.full(20, 116.0), t[:20], hours=24)
    b = back_trajectories(f_n, np.full(20, 40.0), np.full(20, 116.0), t[20:], hours=24)
    b["trajectory"] += 20
    traj = pd.concat([a, b])
    conc = np.r_[np.full(20, 150.0), np.full(20, 20.0)]
    lat_e, lon_e = np.arange(36.0, 44.01, 0.5), np.arange(114.0, 118.01, 0.5)
    p = pscf(traj, conc, lat_e, lon_e, percentile=50)
    c = cwt(traj, conc, lat_e, lon_e)
    south = p.lat < 39.5
    north = p.lat > 40.5
    assert np.nanmax(p.value[south]) > 0.5 and np.nanmax(np.nan_to_num(p.value[north])) == 0.0
    assert np.nanmean(c.value[south]) > np.nanmean(c.value[north])
    peak = local_maxima(c, 1)[0]
    assert peak[0] < 40.0
    assert {"lat", "lon", "value", "points"} <= set(c.to_frame().columns)


def test_puff_twin_receptor_downwind_sees_the_source():
    f = uniform_field(4.0, 0.0, hours=48)  # westerly
    times = pd.date_range("2020-01-01", periods=48, freq="h")
    src = [Source("W", 40.0, 115.5, 1.0)]
    c = simulate_receptors(
        f, src, np.array([40.0, 40.0]), np.array([116.0, 115.0]), times, noise=0.0, background=0.0
    )
    # downwind (east, 116.0) receives the plume once it has arrived; upwind (115.0) never
    assert c[0, 24:].min() > 1.0 and c[1].max() < 1e-6
