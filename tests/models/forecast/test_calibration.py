"""Validation-fitted shrinkage and quantile-band scaling recover known miscalibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from models.forecast.calibration import apply_band_scale, fit_band_scale, fit_shrinkage, lead_groups


def test_lead_groups_cover_every_lead_once():
    g = lead_groups(20, 6)
    assert np.array_equal(np.concatenate(g), np.arange(1, 21))
    assert [len(x) for x in g] == [1, 1, 1, 1, 1, 1, 6, 6, 2]  # short leads one by one


def test_shrinkage_recovers_overconfident_anomalies():
    rng = np.random.default_rng(0)
    obs = rng.normal(0, 1, (5000, 12))
    lead = np.broadcast_to(np.arange(1, 13), obs.shape)
    # forecasts twice as large as the signal at leads 7..12, exact at 1..6
    pred = np.where(lead <= 6, obs, 2 * obs)
    c = fit_shrinkage(pred, obs, lead, 12, 6)
    assert c[:6] == pytest.approx(1.0)
    assert c[6:] == pytest.approx(0.5)


def test_band_scale_restores_nominal_coverage():
    rng = np.random.default_rng(1)
    n = 20000
    obs = rng.normal(0, 2.0, n)
    levels = (0.1, 0.5, 0.9)
    z = norm.ppf(levels)
    q = np.broadcast_to(z * 1.0, (n, 3))  # bands for sigma 1, truth is sigma 2: too narrow
    lead = np.ones(n, int)
    f = fit_band_scale(q, levels, obs, lead, 1, 6)
    assert f[0] == pytest.approx(2.0, rel=0.05)
    wide = apply_band_scale(q, levels, np.full(n, f[0]))
    cover = np.mean((obs >= wide[:, 0]) & (obs <= wide[:, 2]))
    assert cover == pytest.approx(0.8, abs=0.01)
    before = np.mean((obs >= q[:, 0]) & (obs <= q[:, 2]))
    assert before < 0.5
