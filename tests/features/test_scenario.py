"""Control-measure scenarios (features.scenario) and their synthetic twin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.scenario import (
    ASSUMPTIONS,
    class_share,
    combine_intervals,
    deviation_paths,
    effective_cut,
    quantile_function,
    scenario_draws,
    share_deviations,
    share_multipliers,
    share_variability,
)

LEVELS = (0.1, 0.5, 0.9)


def _contributions(days: int = 20) -> pd.DataFrame:
    """Factor_1 carries 60 % of the total at local night (22-05), 20 % by day."""
    t = pd.date_range("2016-12-01", periods=24 * days, freq="h")  # naive UTC
    local_hour = (t.hour + 8) % 24
    night = (local_hour >= 22) | (local_hour < 6)
    f1 = np.where(night, 60.0, 20.0)
    return pd.DataFrame({"factor_1": f1, "factor_2": 100.0 - f1}, index=t)


def test_share_by_local_hour_and_recent():
    g = _contributions()
    want = pd.DatetimeIndex(["2016-12-21 15:00", "2016-12-22 04:00"])  # 23:00 and 12:00 local
    s = class_share(g, ["factor_1"], want, time_zone="Asia/Shanghai")
    assert s == pytest.approx([0.6, 0.2])
    overall = class_share(g, ["factor_1"], want, method="recent")
    assert overall == pytest.approx([(8 * 0.6 + 16 * 0.2) / 24] * 2)
    assert class_share(g, ["factor_1", "factor_2"], want, method="recent") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="factor_9"):
        class_share(g, ["factor_9"], want)


def test_share_by_level_and_by_wind():
    g = _contributions().copy()
    # polluted hours (total 300) are all factor_1; clean ones (100) as before
    g.iloc[::5] = [270.0, 30.0]
    want = pd.DatetimeIndex(["2016-12-21 15:00", "2016-12-21 16:00"])
    s = class_share(g, ["factor_1"], want, method="by_level", level=np.array([300.0, 100.0]))
    assert s[0] == pytest.approx(0.9) and s[1] < 0.5
    wind = np.where(np.arange(len(g)) % 2 == 0, 0.0, 180.0)  # north on even hours, south on odd
    g2 = g.copy()
    g2["factor_1"] = np.where(wind == 0.0, 80.0, 10.0)
    g2["factor_2"] = 100.0 - g2["factor_1"]
    s = class_share(
        g2, ["factor_1"], want, method="by_wind", sample_wind=wind, wind=np.array([10.0, 170.0])
    )
    assert s == pytest.approx([0.8, 0.1])


def test_effective_cut_lag_and_ramp():
    t = pd.date_range("2016-12-16 00:00", periods=8, freq="h")
    start = pd.Timestamp("2016-12-16 01:00")
    assert effective_cut(t, start, 0.3).tolist() == pytest.approx(
        [0, 0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    )
    c = effective_cut(t, start, 0.4, lag_hours=1, ramp_hours=4)
    assert c.tolist() == pytest.approx([0, 0, 0, 0.1, 0.2, 0.3, 0.4, 0.4])
    with pytest.raises(ValueError, match="between 0 and 1"):
        effective_cut(t, start, 1.2)


def test_quantile_function_passes_through_the_quantiles():
    q = np.array([[80.0, 100.0, 130.0], [10.0, 20.0, 40.0]])
    v = quantile_function(q, LEVELS, np.array([0.1, 0.5, 0.9, 0.3, 0.0]))
    assert v[:3].T == pytest.approx(q)
    assert v[3] == pytest.approx([90.0, 15.0])
    assert v[4, 0] == pytest.approx(75.0)  # P10 - 0.1 x the slope of the P10-P50 segment
    assert (v >= 0).all()


def test_draws_scale_the_forecast_by_the_cut_share():
    L = 48
    mean = np.full(L, 200.0)
    q = np.stack([np.full(L, 150.0), mean, np.full(L, 260.0)], axis=-1)
    share = np.full(L, 0.5)
    cut = np.where(np.arange(L) >= 12, 0.3, 0.0)
    sc = scenario_draws(mean, q, LEVELS, share=share, cut=cut, draws=4000)
    factor = 1 - share * cut
    assert sc.cut_mean == pytest.approx(mean * factor)
    assert sc.cut_quantiles[:12] == pytest.approx(q[:12], rel=0.01)  # before the cut: unchanged
    assert sc.cut_quantiles[12:] == pytest.approx(q[12:] * factor[12:, None], rel=0.01)
    assert sc.reduction_mean[12:] == pytest.approx(np.full(L - 12, 30.0))
    # an uncertain share widens the band of the reduction, not its centre
    wide = scenario_draws(
        mean, q, LEVELS, share=share, cut=cut, share_interval=(0.5, 1.6), draws=4000
    )

    def width(s):
        return s.reduction_quantiles[20, -1] - s.reduction_quantiles[20, 0]

    assert width(wide) > 1.3 * width(sc)
    assert wide.reduction_mean == pytest.approx(sc.reduction_mean)
    # a 2-D (station x lead) forecast keeps its shape
    two = scenario_draws(np.stack([mean, mean]), np.stack([q, q]), LEVELS, share=share, cut=cut)
    assert two.cut_quantiles.shape == (2, L, 3)


def _persistent_mix(days: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Factor_1's share wanders between 10 % and 70 %, persisting ~12 h (a wind regime)."""
    rng = np.random.default_rng(seed)
    n = 24 * days
    z = np.zeros(n)
    for i in range(1, n):  # AR(1), lag-1 correlation 0.92, unit variance
        z[i] = 0.92 * z[i - 1] + np.sqrt(1 - 0.92**2) * rng.standard_normal()
    share = 0.1 + 0.6 / (1 + np.exp(-2 * z))
    total = 100.0 * np.exp(rng.normal(0, 0.2, n))
    t = pd.date_range("2016-12-01", periods=n, freq="h")
    g = pd.DataFrame({"factor_1": share * total, "factor_2": (1 - share) * total}, index=t)
    return g, total


def test_share_deviations_are_the_samples_departures_from_the_methods_share():
    g = _contributions()
    d = share_deviations(g, ["factor_1"], time_zone="Asia/Shanghai")
    assert d.to_numpy() == pytest.approx(1.0)  # the hour of day explains every sample's share
    r = share_deviations(g, ["factor_1"], method="recent")
    overall = (8 * 0.6 + 16 * 0.2) / 24
    assert sorted(set(np.round(r.to_numpy(), 6))) == pytest.approx([0.2 / overall, 0.6 / overall])
    g.iloc[3] = [0.0, 0.0]  # no total: no deviation, not a crash
    assert np.isnan(share_deviations(g, ["factor_1"], method="recent").iloc[3])
    assert len(share_deviations(g, ["factor_1"], window_days=5)) == 24 * 5


def test_deviation_paths_are_runs_of_the_record():
    g, _ = _persistent_mix(30, 1)
    d = share_deviations(g, ["factor_1"], method="recent")
    paths = deviation_paths(d, 48, 300, np.random.default_rng(0))
    assert paths.shape == (300, 48)
    assert set(np.round(paths.ravel(), 9)) <= set(np.round(d.to_numpy(), 9))
    lag1 = np.corrcoef(paths[:, :-1].ravel(), paths[:, 1:].ravel())[0, 1]
    assert lag1 > 0.8  # runs keep the persistence of the regimes (independent draws: ~0)
    # a record shorter than the path: runs joined; daily samples hold for their day
    short = deviation_paths(d.iloc[:10], 48, 5, np.random.default_rng(0))
    assert short.shape == (5, 48)
    daily = pd.Series([0.5, 2.0], index=pd.DatetimeIndex(["2016-12-01 12:00", "2016-12-02 12:00"]))
    p = deviation_paths(daily, 24, 50, np.random.default_rng(0))
    assert set(np.unique(p)) <= {0.5, 2.0} and (np.unique(p, axis=None).size == 2)
    assert (deviation_paths(daily.iloc[:1], 6, 3, np.random.default_rng(0)) == 1).all()


def test_hourly_band_covers_the_true_reduction_with_record_deviations():
    """A class whose share departs from the typical one for hours: without the record's
    deviations the P10-P90 band of the hourly reduction misses most hours (measured: 0 %, the
    band is the forecast's only); with them it covers close to its 80 % (measured 70-94 % over
    seeds 2-7, 75 % for this one)."""
    g, _ = _persistent_mix(40, 2)
    train, test = g.iloc[: 24 * 30], g.iloc[24 * 30 :]
    L = len(test)
    y = test.sum(axis=1).to_numpy()
    q = np.stack([y, y, y], axis=-1)  # an exact forecast: only the share is uncertain
    share = class_share(train, ["factor_1"], test.index, method="recent")
    cut = np.full(L, 0.3)
    true = 0.3 * test["factor_1"].to_numpy()

    def coverage(paths):
        sc = scenario_draws(y, q, LEVELS, share=share, cut=cut, share_paths=paths, draws=1000)
        lo, hi = sc.reduction_quantiles[:, 0], sc.reduction_quantiles[:, -1]
        return np.mean((true >= lo - 1e-9) & (true <= hi + 1e-9)), sc

    d = share_deviations(train, ["factor_1"], method="recent")
    paths = deviation_paths(d, L, 1000, np.random.default_rng(3))
    without, _ = coverage(None)
    with_dev, sc = coverage(paths)
    assert without < 0.1
    assert 0.65 <= with_dev <= 0.95  # 0.75
    # the period's band comes from the draws' period means: around the central reduction and
    # narrower than the mean of the hourly bands (hourly departures partly cancel)
    lo, hi = sc.period_reduction_quantiles[[0, -1]]
    assert lo < sc.reduction_mean.mean() < hi
    assert hi - lo < 0.5 * np.mean(sc.reduction_quantiles[:, -1] - sc.reduction_quantiles[:, 0])
    with pytest.raises(ValueError, match="draws x leads"):
        scenario_draws(y, q, LEVELS, share=share, cut=cut, share_paths=paths[:, :5], draws=1000)


def test_share_multipliers_and_intervals():
    rng = np.random.default_rng(0)
    m = share_multipliers(0.5, 2.0, 20000, rng)
    assert np.percentile(m, [5, 50, 95]) == pytest.approx([0.5, 1.0, 2.0], rel=0.05)
    with pytest.raises(ValueError):
        share_multipliers(1.2, 2.0, 10, rng)
    lo, hi = combine_intervals((0.5, 2.0), (0.5, 2.0))
    assert (lo, hi) == pytest.approx((0.5**2**0.5, 2.0**2**0.5))
    g = _contributions()
    assert share_variability(g, ["factor_1"]) == pytest.approx((1.0, 1.0))  # same mix each day
    g.iloc[: 24 * 10, 0] *= 2.0
    lo, hi = share_variability(g, ["factor_1"])
    assert lo < 0.85 and hi > 1.15
    assert any("linear" in a for a in ASSUMPTIONS) and any("chemistry" in a for a in ASSUMPTIONS)


def test_twin_predicted_reduction_close_to_the_true_one():
    """Synthetic twin: PMF on puff-simulated receptor species, cut vs re-simulated truth.

    Bound (30 % cut, 10 training days, two 72-h windows): PMF shares within 3 percentage points
    of the true ones, and the predicted reduction of every class within 8 percentage points of
    the baseline PM2.5 of the true one in every window (measured: at most 6.9).
    """
    from benchmarks.twins.scenario_eval import run_scenario_twin

    tab, windows = run_scenario_twin(
        train_days=10, eval_days=5, bootstrap_n=0, starts=3, step_minutes=30, seed=0
    )
    assert len(tab) == 4 and (tab["windows"] == 2).all()
    assert (tab["contribution_r"] > 0.9).all()
    assert (tab["pmf_share_percent"] - tab["true_share_percent"]).abs().max() < 3.0
    assert (tab["predicted_mean_reduction"] > 0).all() and (tab["true_mean_reduction"] > 0).all()
    assert windows["error_pp_of_pm25"].abs().max() < 8.0


def test_equation_uncertainty_follows_epa_pmf5():
    from features.scenario import equation_uncertainty

    x, u = equation_uncertainty(np.array([[100.0, 1.0], [4.0, 0.05]]), 0.1, np.array([2.0, 0.1]))
    assert x.tolist() == [[100.0, 1.0], [4.0, 0.05]]  # 0.05 <= MDL 0.1: MDL / 2 = 0.05
    assert u[0, 0] == pytest.approx(np.hypot(10.0, 1.0)) and u[1, 0] == pytest.approx(
        np.hypot(0.4, 1.0)
    )
    assert u[1, 1] == pytest.approx(5 / 6 * 0.1)  # at or below the MDL: MDL / 2, 5/6 MDL
    x2, _ = equation_uncertainty(np.array([[0.1]]), 0.1, np.array([0.1]))
    assert x2[0, 0] == pytest.approx(0.05)
