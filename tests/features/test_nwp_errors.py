"""Synthetic NWP error model: sizes at least the issue's floors, lead and spatial correlation."""

from __future__ import annotations

import numpy as np
import pytest

from features.geo import KM_PER_DEGREE, pairwise_km
from features.nwp_errors import (
    ERROR_SPECS,
    FLOORS,
    HEADROOM,
    correlated_normal,
    perturb,
    perturb_precipitation,
    rmse_at,
)

LEADS = np.arange(0, 97)
# two points 50 km apart (north-south)
LAT = np.array([40.0, 40.0 + 50.0 / KM_PER_DEGREE])
LON = np.array([116.4, 116.4])
DIST = pairwise_km(LAT, LON)
N = 1500


def _kw(truth):
    return {"truth": truth, "leads_h": LEADS, "distance_km": DIST}


def test_distance_of_the_pair():
    assert DIST[0, 1] == pytest.approx(50.0, rel=1e-3)


@pytest.mark.parametrize("variable", sorted(FLOORS))
def test_targets_are_floors_plus_headroom(variable):
    spec = ERROR_SPECS[variable]
    got = rmse_at(spec, [24, 48, 72])
    floors = np.array([FLOORS[variable][h] for h in (24, 48, 72)])
    np.testing.assert_allclose(got, HEADROOM * floors)
    # below 24 h: smaller, positive, increasing; beyond 72 h: linear extrapolation
    early = rmse_at(spec, [0, 6, 12, 24])
    assert np.all(np.diff(early) > 0) and early[0] > 0
    slope = (got[2] - got[1]) / 24
    assert rmse_at(spec, [96])[0] == pytest.approx(got[2] + 24 * slope)


def test_rmse_example_values():
    # T2m: floors 1.8/2.2/2.6 K x 1.1 -> 1.98/2.42/2.86; 96 h: 2.86 + 0.44 = 3.30; 0 h: 0.6 x 1.98
    np.testing.assert_allclose(
        rmse_at(ERROR_SPECS["air_temperature"], [0, 12, 24, 96]),
        [1.188, 1.584, 1.98, 3.30],
    )


def _samples(variable: str) -> np.ndarray:
    """``(sample, lead, point)`` errors of ``N`` independent runs at the two points."""
    out = np.empty((N, len(LEADS), 2))
    zero = np.zeros((len(LEADS), 2))
    for k in range(N):
        out[k] = perturb(np.random.default_rng([7, k]), variable, **_kw(zero))
    return out


@pytest.fixture(scope="module")
def errors() -> dict[str, np.ndarray]:
    return {v: _samples(v) for v in ("air_temperature", "eastward_wind", "air_pressure")}


@pytest.mark.parametrize("variable", ["air_temperature", "eastward_wind", "air_pressure"])
def test_error_statistics(errors, variable):
    e = errors[variable]
    spec = ERROR_SPECS[variable]
    for lead in (24, 48, 72):
        rmse = np.sqrt(np.mean(e[:, lead, :] ** 2))
        target = rmse_at(spec, [lead])[0]
        assert rmse >= FLOORS[variable][lead], (variable, lead, rmse)
        assert rmse == pytest.approx(target, rel=0.10), (variable, lead, rmse, target)
    # lag-1 autocorrelation along the lead: exp(-1 h / tau)
    a, b = e[:, 30:90, 0][:, :-1].ravel(), e[:, 30:90, 0][:, 1:].ravel()
    lag1 = np.corrcoef(a, b)[0, 1]
    assert lag1 > 0.5
    assert lag1 == pytest.approx(np.exp(-1.0 / spec.e_folding_h), abs=0.05)
    # between two stations 50 km apart: exp(-50 km / L)
    r = np.corrcoef(e[:, 48, 0], e[:, 48, 1])[0, 1]
    assert r > 0.5
    assert r == pytest.approx(np.exp(-DIST[0, 1] / spec.length_km), abs=0.06)


def test_wind_speed_error_from_uv_meets_its_floor(errors):
    """The gridded feed perturbs u and v; the implied speed error must meet the speed floor."""
    eu = errors["eastward_wind"][:, :, 0]
    ev = _samples("northward_wind")[:, :, 0]
    rng = np.random.default_rng(3)
    speed = rng.gamma(2.0, 1.2, size=eu.shape)  # typical 10-m winds, mean 2.4 m s-1
    direction = rng.uniform(0, 2 * np.pi, size=eu.shape)
    u, v = speed * np.sin(direction), speed * np.cos(direction)
    err = np.hypot(u + eu, v + ev) - speed
    for lead in (24, 48, 72):
        assert np.sqrt(np.mean(err[:, lead] ** 2)) >= FLOORS["wind_speed"][lead]


def test_runs_differ_and_seed_reproduces():
    zero = np.zeros((len(LEADS), 2))
    a = perturb(np.random.default_rng([1, 100]), "air_temperature", **_kw(zero))
    b = perturb(np.random.default_rng([1, 100]), "air_temperature", **_kw(zero))
    c = perturb(np.random.default_rng([1, 112]), "air_temperature", **_kw(zero))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_correlated_normal_is_standard():
    z = np.concatenate(
        [
            correlated_normal(
                np.random.default_rng(k), LEADS, distance_km=DIST, e_folding_h=12.0, length_km=250.0
            )
            for k in range(400)
        ]
    )
    assert z.mean() == pytest.approx(0.0, abs=0.05)
    assert z.std() == pytest.approx(1.0, abs=0.05)


def test_boundary_layer_height_is_lognormal():
    truth = np.full((len(LEADS), 2), 800.0)
    logs = np.stack(
        [
            np.log(perturb(np.random.default_rng(k), "boundary_layer_height", **_kw(truth)) / 800.0)
            for k in range(800)
        ]
    )
    assert np.all(np.isfinite(logs))
    assert logs[:, 0].std() == pytest.approx(0.30, rel=0.1)
    assert logs[:, 96].std() == pytest.approx(0.50, rel=0.1)


def test_precipitation_misses_false_alarms_and_amounts():
    truth = np.zeros((len(LEADS), 2))
    truth[::2] = 2.0  # every other hour wet
    runs = np.stack(
        [
            perturb_precipitation(np.random.default_rng(k), truth, leads_h=LEADS, distance_km=DIST)
            for k in range(600)
        ]
    )
    assert np.all(runs >= 0) and np.all(np.isfinite(runs))
    wet, dry = runs[:, ::2], runs[:, 1::2]
    miss = (wet == 0).mean(axis=(0, 2))  # per wet lead
    assert miss[0] == pytest.approx(0.15, abs=0.05)
    assert miss[-1] == pytest.approx(0.45, abs=0.06)
    false = (dry > 0).mean()
    assert 0.01 < false < 0.08
    hits = wet[wet > 0]
    assert hits.mean() == pytest.approx(2.0, rel=0.15)  # the amount error is mean-preserving


def test_unknown_variable_is_named():
    with pytest.raises(KeyError, match="ozone"):
        perturb(
            np.random.default_rng(0),
            "ozone",
            truth=np.zeros((3, 2)),
            leads_h=[0, 1, 2],
            distance_km=DIST,
        )
    with pytest.raises(ValueError, match="perturb_precipitation"):
        perturb(
            np.random.default_rng(0),
            "precipitation",
            truth=np.zeros((3, 2)),
            leads_h=[0, 1, 2],
            distance_km=DIST,
        )
