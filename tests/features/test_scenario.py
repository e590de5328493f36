"""Control-measure scenarios (features.scenario) and their synthetic twin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.scenario import (
    ASSUMPTIONS,
    class_share,
    combine_intervals,
    effective_cut,
    quantile_function,
    scenario_draws,
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
