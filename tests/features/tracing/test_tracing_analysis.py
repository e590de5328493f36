"""The analyses the tracing jobs run, as pure functions: polar, network trajectory maps, rivers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.twins.river import Spill, simulate_spill
from features.geo import KM_PER_DEGREE, haversine_km
from features.river_network import RiverNetwork, Section
from features.tracing.polar import polar_analysis, polar_surface
from features.tracing.trajectory import (
    SourceMap,
    WindField,
    local_maxima,
    map_grid,
    network_source_maps,
    peak_lat_lon,
)
from features.tracing.upstream import anomaly_z, trace_anomaly, trace_upstream


def test_polar_analysis_summarises_the_cpf_peak():
    rng = np.random.default_rng(0)
    wd, ws = rng.uniform(0, 360, 4000), rng.gamma(2.0, 1.5, 4000)
    d = np.abs((wd - 90 + 180) % 360 - 180)  # a source to the east
    conc = 20 + 80 * np.exp(-0.5 * (d / 20) ** 2) + rng.normal(0, 3, len(wd))
    pa = polar_analysis(ws, wd, conc, 75.0)
    s = pa.summary()
    assert abs((s["cpf_peak_direction_deg"] - 90 + 180) % 360 - 180) < 15
    assert s["readings"] == 4000 and s["cpf_threshold"] == pytest.approx(np.percentile(conc, 75))
    assert np.array_equal(pa.cpf.value, polar_surface(ws, wd, conc, "cpf").value, equal_nan=True)
    assert set(np.unique(pa.clusters)) == {-1, 0, 1, 2, 3} and len(pa.sectors) == 16


def test_map_grid_spans_ten_km_per_hour_and_is_capped():
    lat, lon = np.array([39.0, 41.0]), np.array([115.0, 117.0])
    glat, glon = map_grid(lat, lon, 24, 0.25)
    assert glat[0] == pytest.approx(40.0 - 240 / KM_PER_DEGREE) and glon[1] - glon[0] == 0.25
    glat, _ = map_grid(lat, lon, 1000, 0.5)
    assert glat[0] == pytest.approx(40.0 - 12.0)


def test_network_source_maps_point_upwind_of_the_network():
    hours = 120
    times = pd.date_range("2020-01-01", periods=hours, freq="h")
    lat, lon = np.arange(36.0, 44.01, 0.5), np.arange(112.0, 120.01, 0.5)
    shape = (hours, len(lat), len(lon))
    # southerly wind for the first half (polluted), northerly afterwards (clean)
    v = np.where(np.arange(hours)[:, None, None] < hours // 2, 4.0, -4.0) * np.ones(shape)
    field = WindField(times.values, lat, lon, np.zeros(shape), v)
    conc = np.where(np.arange(hours) < hours // 2, 150.0, 20.0)
    station = np.vstack([conc, conc + 1.0, np.full(hours, np.nan)])  # one station reports nothing
    glat, glon = map_grid(np.array([40.0]), np.array([116.0]), 24, 0.5)
    nsm = network_source_maps(
        field, times, station, 40.0, 116.0, glat, glon, cell_deg=0.5, hours=24, every_hours=3
    )
    assert nsm.arrive[0] == 24 and np.all(np.diff(nsm.arrive) == 3)
    assert nsm.trajectories["trajectory"].nunique() == len(nsm.arrive)
    assert set(nsm.maps) == {"pscf", "cwt"}
    peak = peak_lat_lon(nsm.maps["cwt"])
    assert peak[0] < 40.0  # polluted air came from the south
    assert peak == [round(v, 2) for v in peak]


def test_peak_and_local_maxima_respect_distance():
    value = np.full((3, 4), np.nan)
    value[0, 0], value[0, 1], value[2, 3] = 5.0, 4.0, 3.0
    smap = SourceMap(np.array([40.0, 40.1, 40.2]), np.array([116.0, 116.1, 116.2, 116.3]),
                     value, np.ones((3, 4)), "cwt")  # fmt: skip
    assert peak_lat_lon(smap) == [40.0, 116.0]
    gap = float(haversine_km(40.0, 116.0, 40.0, 116.1))  # ~8.5 km
    two = local_maxima(smap, 2, min_sep_km=gap + 1.0)
    assert [p[2] for p in two] == [5.0, 3.0]  # the neighbour cell is too close
    assert [p[2] for p in local_maxima(smap, 2, min_sep_km=gap - 1.0)] == [5.0, 4.0]


def chain(n=5, hours=10.0):
    ids = [f"C{i}" for i in range(n)]
    return RiverNetwork(
        "chain",
        {
            s: Section(
                s,
                downstream=ids[i + 1] if i + 1 < n else None,
                distance_km=hours * 1.8,
                travel_time_h=hours if i + 1 < n else 0.0,
            )
            for i, s in enumerate(ids)
        },
    )


def test_trace_anomaly_finds_the_detection_and_matches_trace_upstream():
    net = chain()
    times = pd.date_range("2024-06-01", periods=4 * 24 * 8, freq="15min")  # sub-hourly readings
    t0 = times[0] + pd.Timedelta(hours=90)
    obs = simulate_spill(net, Spill("C1", 0.5, t0, 1e5), times, seed=3)
    readings = pd.DataFrame(obs, index=times)
    tr = trace_anomaly(net, readings, "C4")
    hourly = readings.resample("1h").mean()
    assert tr.detected == hourly.index[int(np.argmax(anomaly_z(hourly["C4"].to_numpy(), 48)))]
    assert tr.window.index[0] == max(hourly.index[0], tr.detected - pd.Timedelta(days=5))
    assert tr.window.index[-1] == tr.detected + pd.Timedelta(days=1)
    z = {s: anomaly_z(tr.window[s].interpolate(limit=3).to_numpy(), 48) for s in net.sections}
    ref = trace_upstream(net, tr.window.index, z, "C4")
    pd.testing.assert_frame_equal(tr.ranking, ref)
    assert tr.ranking.iloc[0]["reach"] == "C1"
    at = trace_anomaly(net, readings, "C4", str(tr.detected))
    assert at.detected == tr.detected
    gappy = readings.copy()
    gappy.loc[:, "C4"] = np.nan
    with pytest.raises(ValueError, match="C4 has fewer than 24 hourly do readings"):
        trace_anomaly(net, gappy, "C4", str(tr.detected), variable="do")
