"""The synthetic twins used by the benchmarks: plume localisation and river-tracing evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks._machine import machine, write_section
from benchmarks.twins.plume import Source
from benchmarks.twins.plume_eval import bearing_km, run_twin
from benchmarks.twins.river import random_tree
from benchmarks.twins.river_eval import evaluate_tracing
from features.geo import haversine_km
from features.tracing.trajectory import WindField


def test_bearing_km_points_and_measures_like_the_great_circle():
    brg, d = bearing_km(40.0, 116.0, np.array([40.3, 40.0, 39.7]), np.array([116.0, 116.4, 116.0]))
    assert np.allclose(brg, [0.0, 90.0, 180.0])
    gc = haversine_km(40.0, 116.0, np.array([40.3, 40.0, 39.7]), np.array([116.0, 116.4, 116.0]))
    assert np.allclose(d, gc, rtol=2e-3)


def rotating_field(hours: int) -> tuple[WindField, np.ndarray]:
    """A spatially uniform 4 m/s wind turning through the compass every 12 hours."""
    times = pd.date_range("2020-01-01", periods=hours, freq="h")
    wd = (np.arange(hours) * 30.0) % 360  # direction the wind blows from
    lat, lon = np.arange(38.0, 42.01, 0.25), np.arange(114.0, 118.01, 0.25)
    u = -4.0 * np.sin(np.radians(wd))[:, None, None] * np.ones((hours, len(lat), len(lon)))
    v = -4.0 * np.cos(np.radians(wd))[:, None, None] * np.ones_like(u)
    return WindField(times.values, lat, lon, u, v), wd


def test_run_twin_scores_every_method_and_is_reproducible():
    hours = 72
    field, wd = rotating_field(hours)
    times = pd.DatetimeIndex(field.times)
    rec_lat, rec_lon = np.array([40.0, 40.2]), np.array([116.0, 116.2])
    rec_ws = np.full((2, hours), 4.0)
    rec_wd = np.vstack([wd, wd])
    sources = [Source("W", 40.1, 115.5, 1.0)]
    kw = dict(traj_hours=12.0, cell_deg=0.1, every_hours=3, seed=1)
    table, extra = run_twin(field, sources, rec_lat, rec_lon, rec_ws, rec_wd, times, **kw)
    assert set(table["method"]) == {"pscf", "cwt", "cpf"}
    assert (table["source"] == "W").all() and np.isfinite(table["error_km"]).all()
    assert extra["conc"].shape == (2, hours) and extra["trajectories"] == 2 * 24
    cpf = float(table.loc[table["method"] == "cpf", "error_km"].iloc[0])
    assert cpf < 20.0  # the source lies ~45 km west of the receptors; CPF sees its sector
    again, _ = run_twin(field, sources, rec_lat, rec_lon, rec_ws, rec_wd, times, **kw)
    pd.testing.assert_frame_equal(table, again)


def test_evaluate_tracing_on_a_small_tree():
    net = random_tree(12, seed=4)
    table, summary = evaluate_tracing(net, spills=3, days=6.0, seed=2)
    assert len(table) == 3 and summary["spills"] == 3.0
    assert 0.0 <= summary["correct_reach_share"] <= summary["correct_group_share"] <= 1.0
    assert summary["top2_share"] >= summary["correct_reach_share"]
    assert (table["peak_z"] > 0).all()


def test_write_section_replaces_or_appends(tmp_path):
    p = tmp_path / "B.md"
    write_section(str(p), "One", "first\n")
    write_section(str(p), "Two", "second\n")
    write_section(str(p), "One", "again\n")
    text = p.read_text()
    assert text.startswith("# Benchmarks") and text.count("## One") == 1
    assert "again" in text and "first" not in text and text.index("## One") < text.index("## Two")
    assert "cores" in machine()


@pytest.mark.parametrize("n", [1, 5])
def test_random_tree_is_a_tree(n):
    net = random_tree(n, seed=0)
    assert len(net.sections) == n and len(net.outlets()) == 1
