"""River networks, the spill simulator, upstream tracing, weekly class rating."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.twins.river import Spill, random_tree, simulate_spill
from features.river_network import RiverNetwork, Section, check_sections
from features.tracing.upstream import anomaly_z, trace_upstream
from features.water_class import river_rating


def chain(n=6, hours=10.0):
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


def test_links_are_checked():
    with pytest.raises(ValueError, match="cycle: A -> B -> A"):
        check_sections([Section("A", downstream="B"), Section("B", downstream="A")])
    with pytest.raises(ValueError, match="'Z' is not a section"):
        check_sections([Section("A", downstream="Z")])
    with pytest.raises(ValueError, match="duplicate"):
        check_sections([Section("A"), Section("A")])
    net = chain()
    assert net.travel_time("C1", "C4") == pytest.approx(30.0)
    assert net.travel_time("C4", "C1") is None
    assert net.upstream_of("C2") == ["C1", "C0"]
    assert net.reaches(upstream_of="C2") == ["C1", "C0", "above C0"]


@pytest.mark.parametrize(("reach", "frac"), [("C1", 0.5), ("C3", 0.3), ("C0", 0.8)])
def test_tracing_finds_the_reach_and_time_of_a_simulated_spill(reach, frac):
    net = chain()
    times = pd.date_range("2024-06-01", periods=24 * 8, freq="h")
    t0 = times[0] + pd.Timedelta(hours=80)
    obs = simulate_spill(net, Spill(reach, frac, t0, 1e5), times, seed=3)
    z = {s: anomaly_z(v, 48) for s, v in obs.items()}
    ranked = trace_upstream(net, times, z, "C5")
    assert ranked.iloc[0]["reach"] == reach
    # entry time and position in the reach trade off: within a reach-length of the truth
    assert abs((ranked.iloc[0]["entry_time"] - t0) / pd.Timedelta(hours=1)) <= 8
    assert ranked["delta"].iloc[1] > 0  # the runner-up fits worse


def test_tracing_100_sections_is_fast():
    import time

    net = random_tree(100, seed=2)
    times = pd.date_range("2024-06-01", periods=24 * 8, freq="h")
    leaf = net.headwaters()[0]
    obs = simulate_spill(net, Spill(leaf, 0.5, times[90], 1e5), times, seed=1)
    z = {s: anomaly_z(v, 48) for s, v in obs.items()}
    t = time.perf_counter()
    ranked = trace_upstream(net, times, z, net.outlets()[0])
    assert (
        len(ranked) >= 1 and time.perf_counter() - t < 5.0
    )  # a loose bound; BENCHMARKS.md has the figure


def test_anomaly_z_ignores_a_steady_series_and_flags_a_drop():
    v = np.r_[np.full(60, 8.0) + np.sin(np.arange(60)) * 0.1, np.full(5, 3.0)]
    assert anomaly_z(v, 48, sign=-1)[-1] > 10
    assert anomaly_z(v, 48, sign=+1)[-1] == 0.0


def test_river_rating_rules():
    assert river_rating(np.array([1, 2, 3, 3, 2, 1, 2, 3, 2, 3]))["rating"] == "优"
    assert river_rating(np.array([1, 2, 3, 4, 2, 1, 2, 3]))["rating"] == "良好"  # 7/8 = 87.5 %
    assert river_rating(np.array([4, 4, 3, 3, 2, 6]))["rating"] == "轻度污染"  # 50 %, 劣V 17 %
    assert river_rating(np.array([4, 6, 3, 3, 2]))["rating"] == "中度污染"  # 劣V 20 %
    assert river_rating(np.array([6, 6, 4, 3, 2]))["rating"] == "重度污染"  # 劣V 40 %
    assert river_rating(np.array([1, 2, 0]))["rating"] is None  # fewer than 5 sections
