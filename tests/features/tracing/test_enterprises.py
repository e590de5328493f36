"""Ranking enterprises as the explanation of an anomaly (pure): small twins with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.twins.plume import Source, simulate_receptors
from benchmarks.twins.river import Spill, simulate_spill
from features.river_network import RiverNetwork, Section
from features.tracing.enterprises import (
    AttributionParams,
    Emitter,
    anomaly_hours,
    attribute_air,
    attribute_water,
    emission_rate,
)
from features.tracing.trajectory import WindField

REC = (40.0, 116.4)  # the air station
HOURS = 150
TURN = 120  # the wind turns towards the station from one enterprise at this hour


def uniform_field(times: pd.DatetimeIndex, wd: np.ndarray, speed: float = 3.0) -> WindField:
    lat, lon = np.arange(39.0, 41.01, 0.1), np.arange(115.4, 117.41, 0.1)
    shape = (len(times), len(lat), len(lon))
    u = -speed * np.sin(np.radians(wd))[:, None, None] * np.ones(shape)
    v = -speed * np.cos(np.radians(wd))[:, None, None] * np.ones(shape)
    return WindField(times.values, lat, lon, u, v)


def air_case(upwind_from: float, *, seed: int = 0):
    """Two steady emitters 25 km W and E of the station; north wind, then from one of them."""
    times = pd.date_range("2021-01-01 01:00", periods=HOURS, freq="h")
    wd = np.where(np.arange(HOURS) < TURN, 0.0, upwind_from)
    field = uniform_field(times, wd)
    west = Emitter("W", "west works", 40.0, 116.107, np.full(HOURS, 2000.0))
    east = Emitter("E", "east works", 40.0, 116.693, np.full(HOURS, 2000.0))
    srcs = [Source(e.id, e.lat, e.lon, 2.0) for e in (west, east)]  # 2000 kg/h in t/h
    conc = simulate_receptors(
        field, srcs, [REC[0]], [REC[1]], times, background=8.0, noise=0.05, seed=seed
    )[0]
    rng = np.random.default_rng(seed)
    rates = [e.rate * (1 + rng.normal(0, 0.05, HOURS)) for e in (west, east)]
    emitters = [
        Emitter(e.id, e.name, e.lat, e.lon, r) for e, r in zip((west, east), rates, strict=True)
    ]
    at = times[TURN + int(np.argmax(conc[TURN : TURN + 12]))]
    return times, conc, at, emitters, field


def test_emission_rate_prefers_the_mass_then_concentration_times_flow():
    mass = np.array([2.0, np.nan, np.nan])
    conc = np.array([50.0, 100.0, np.nan])  # mg m-3
    flow = np.array([10.0, 10.0, 10.0])  # m3 s-1
    rate = emission_rate(mass, conc, flow)
    assert rate[0] == 2.0 and rate[1] == pytest.approx(3.6) and np.isnan(rate[2])
    assert emission_rate(np.array([3.0]), period_h=0.5)[0] == 6.0  # kg per half hour
    assert np.isnan(emission_rate(None, conc, None)).all()
    with pytest.raises(ValueError):
        emission_rate(None)


@pytest.mark.parametrize(("upwind_from", "first"), [(270.0, "W"), (90.0, "E")])
def test_the_enterprise_the_wind_comes_from_ranks_first(upwind_from, first):
    times, conc, at, emitters, field = air_case(upwind_from)
    res = attribute_air(times, conc, at, emitters, field=field, lat=REC[0], lon=REC[1])
    table = res.ranking
    assert list(table["enterprise"]) == [first, "E" if first == "W" else "W"]
    top, other = table.iloc[0], table.iloc[1]
    assert top["rank"] == 1 and other["rank"] == 2
    assert top["score"] > 4 * other["score"] and top["share"] > 0.5 and other["share"] < 0.1
    assert 0.5 < top["scale"] < 3  # the puff simulator and the footprint roughly agree
    assert top["bearing_deg"] == pytest.approx(upwind_from, abs=1)
    assert top["distance_km"] == pytest.approx(25, abs=0.5)
    assert 1.0 < top["lag_h"] < 4.0  # 25 km at 3 m/s: 2.3 h
    assert f"({'W' if first == 'W' else 'E'})" in top["evidence"] and top["evidence_hours"]
    assert res.anomaly_z > 3 and res.times[-1] == at and len(res.times) == 24
    assert set(res.series().columns) >= {"observed", "excess", first}


def test_data_after_the_anomaly_hour_are_not_used():
    times, conc, at, emitters, field = air_case(270.0)
    base = attribute_air(times, conc, at, emitters, field=field, lat=REC[0], lon=REC[1])
    later = conc.copy()
    later[times > at] = 1e4
    again = attribute_air(times, later, at, emitters, field=field, lat=REC[0], lon=REC[1])
    pd.testing.assert_frame_equal(base.ranking, again.ranking)


def test_enterprises_without_data_are_listed_not_dropped():
    times, conc, at, emitters, field = air_case(270.0)
    silent = Emitter("N", "no monitor", 40.1, 116.4, np.full(HOURS, np.nan))
    it = times.get_loc(at)
    sparse_rate = np.full(HOURS, np.nan)
    sparse_rate[it - 12 : it + 1] = emitters[1].rate[it - 12 : it + 1]  # 13 of the 49 h needed
    sparse = Emitter("E", "east works", emitters[1].lat, emitters[1].lon, sparse_rate)
    res = attribute_air(
        times, conc, at, [emitters[0], sparse, silent], field=field, lat=REC[0], lon=REC[1]
    )
    t = res.ranking.set_index("enterprise")
    assert list(res.ranking["enterprise"])[-1] == "N"
    assert t.loc["N", "status"] == "no data" and pd.isna(t.loc["N", "rank"])
    assert np.isnan(t.loc["N", "score"]) and t.loc["N", "coverage"] == 0.0
    assert "no valid emission data" in t.loc["N", "evidence"]
    assert t.loc["E", "status"] == "partial data" and t.loc["E", "coverage"] < 0.5
    assert t.loc["W", "rank"] == 1


def test_bad_requests():
    times, conc, at, emitters, field = air_case(270.0)
    kw = {"field": field, "lat": REC[0], "lon": REC[1]}
    with pytest.raises(ValueError, match="is not an hour of the data"):
        attribute_air(times, conc, times[-1] + pd.Timedelta(hours=1), emitters, **kw)
    gap = conc.copy()
    gap[times.get_loc(at)] = np.nan
    with pytest.raises(ValueError, match="no valid reading"):
        attribute_air(times, gap, at, emitters, **kw)
    short = [Emitter("W", "w", 40.0, 116.1, np.ones(5))]
    with pytest.raises(ValueError, match="5 rates for 150 hours"):
        attribute_air(times, conc, at, short, **kw)


def test_anomaly_hours_is_the_run_ending_at_t():
    y = np.array([0.0, 5.0, 1.0, 6.0, 8.0, 10.0])
    assert anomaly_hours(y, 5, 6).tolist() == [False, False, False, True, True, True]
    assert anomaly_hours(y, 5, 2).sum() == 2
    assert anomaly_hours(np.array([1.0, -1.0]), 1, 6).tolist() == [False, True]


# --------------------------------------------------------------------------- water
def river() -> RiverNetwork:
    """A -> B -> C, 18 km each at 0.5 m/s (10 h)."""
    secs = {
        "A": Section("A", downstream="B", distance_km=18, travel_time_h=10.0, flow_m3_s=10.0),
        "B": Section("B", downstream="C", distance_km=18, travel_time_h=10.0, flow_m3_s=12.0),
        "C": Section("C", flow_m3_s=15.0),
    }
    return RiverNetwork("abc", secs)


def water_case(episodes: dict[str, tuple[int, int, float]], *, seed: int = 1):
    """Readings at B from discharge episodes {outfall: (start hour, hours, kg/h)}."""
    net = river()
    times = pd.date_range("2021-06-01 01:00", periods=200, freq="h")
    where = {"U": ("A", 0.5), "U2": ("A", 0.2), "D": ("B", 0.5)}
    amb = simulate_spill(net, Spill("A", 0.5, times[0], 0.0), times, background=0.5, seed=seed)
    rates = {k: np.full(len(times), 2.0) for k in where}
    for k, (s, d, dq) in episodes.items():
        rates[k][s : s + d] += dq
        reach, frac = where[k]
        sec = net.sections[reach]
        u = sec.distance_km * 1000 / (sec.travel_time_h * 3600)
        for h in range(d):
            t = times[s + h] - pd.Timedelta(minutes=30)
            pulse = simulate_spill(net, Spill(reach, frac, t, dq), times, background=0.0, noise=0.0)
            for sid in amb:
                amb[sid] = amb[sid] + pulse[sid] * 1000 * u / sec.flow_m3_s
    emitters = [
        Emitter(k, f"outfall {k}", np.nan, np.nan, rates[k], *where[k]) for k in ("U", "U2", "D")
    ]
    return net, times, amb, emitters


def test_water_the_upstream_outfall_whose_discharge_arrives_ranks_first():
    # U (5 h from B) discharges at hour 150; D, below B, discharges far more at the same time
    net, times, amb, emitters = water_case({"U": (150, 4, 40.0), "D": (150, 4, 400.0)})
    at = times[150 + int(np.argmax(amb["B"][150:180]))]
    res = attribute_water(times, amb["B"], at, emitters, net=net, section="B")
    t = res.ranking.set_index("enterprise")
    assert res.ranking.iloc[0]["enterprise"] == "U" and t.loc["U", "rank"] == 1
    assert t.loc["D", "status"] == "not upstream" and pd.isna(t.loc["D", "rank"])
    assert "not upstream" in t.loc["D", "evidence"]
    assert 4.0 <= t.loc["U", "lag_h"] <= 6.3  # 5 h x the travel-time factors
    assert t.loc["U", "share"] > 0.5 and t.loc["U2", "score"] < t.loc["U", "score"]


def test_water_timing_separates_two_outfalls_on_one_reach():
    # U2 (8 h from B) discharges at 140 and arrives at 148; U (5 h) discharges at 143: both reach
    # B at ~148; only U2's discharge fits when U discharged at 160 instead (nothing at 148)
    net, times, amb, emitters = water_case({"U2": (140, 3, 40.0), "U": (160, 3, 40.0)})
    at = times[140 + int(np.argmax(amb["B"][140:158]))]
    res = attribute_water(times, amb["B"], at, emitters, net=net, section="B")
    assert res.ranking.iloc[0]["enterprise"] == "U2"
    assert res.ranking.set_index("enterprise").loc["U", "score"] == 0


def test_water_needs_a_known_section():
    net, times, amb, emitters = water_case({})
    with pytest.raises(ValueError, match="no section 'Z'"):
        attribute_water(times, amb["B"], times[-1], emitters, net=net, section="Z")


def test_parameters_are_plain_values():
    times, conc, at, emitters, field = air_case(270.0)
    res = attribute_air(
        times,
        conc,
        at,
        emitters,
        field=field,
        lat=REC[0],
        lon=REC[1],
        params=AttributionParams(window_hours=12),
    )
    p = res.parameters()
    assert p["window_hours"] == 12 and isinstance(p["travel_time_factors"], list)
    assert len(res.times) == 12
    assert AttributionParams().history_hours() == 24 + 72 + 24 + 1
