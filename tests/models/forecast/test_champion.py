"""Like-for-like backtest scores and the champion rule (margin and paired test), issue #16."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.forecast_features import Panel
from models.forecast.backtest import BacktestError, common_sample, run_backtest
from models.forecast.base import FORECASTERS, Forecaster
from models.forecast.champion import compare, diebold_mariano
from pipelines.config import model_configs


def _panel(T=24 * 120, S=3, seed=1, gaps=True):
    rng = np.random.default_rng(seed)
    times = pd.date_range("2015-01-01", periods=T, freq="h")
    y = np.zeros((S, T))
    a = np.zeros(S)
    for i in range(T):
        a = 0.97 * a + rng.normal(0, 8, S)
        y[:, i] = 60 + 20 * np.sin(2 * np.pi * i / 24) + a
    y = np.maximum(y, 1)
    if gaps:  # a gappy record: whole days missing at random
        for d in rng.choice(T // 24, size=T // 24 // 4, replace=False):
            y[rng.integers(S), d * 24 : (d + 1) * 24] = np.nan
    # the first month has no data at any site (as a scraped record often starts)
    y[:, : 24 * 30] = np.nan
    return Panel([f"S{i}" for i in range(S)], times, {"pm25": y}, np.zeros(S), np.zeros(S))


def _bt(panel, names, **kw):
    return run_backtest(
        panel,
        "pm25",
        kw.pop("cfgs", None) or model_configs(names),
        panel.times[24 * 100],
        panel.times[24 * 101],
        panel.times[24 * 119],
        issue_stride=12,
        max_lead=48,
        **kw,
    )


def test_every_model_is_scored_on_the_same_cells():
    """Persistence has no value after a gap; climatology has: before, each was scored on its own."""
    p = _panel()
    res = _bt(p, ["persistence", "climatology"])
    t = res.table.set_index(["model", "lead"])
    n = t["n"].unstack(0)
    assert (n["persistence"] == n["climatology"]).all()
    share = t["forecast_share"].unstack(0)
    assert (share["climatology"] > share["persistence"]).any()  # it did forecast more cells
    # climatology's RMSE is the one on the common cells, not on all of its own
    members, cells = common_sample({k: f.mean for k, f in res.forecasts.items()}, res.observed)
    assert members == ["persistence", "climatology"] == res.sample
    e = np.where(cells, res.forecasts["climatology"].mean - res.observed, np.nan)
    expect = np.sqrt(np.nanmean(e[..., 23] ** 2))
    assert t.loc[("climatology", 24), "rmse"] == pytest.approx(expect)
    own = np.sqrt(np.nanmean((res.forecasts["climatology"].mean - res.observed)[..., 23] ** 2))
    assert own != pytest.approx(expect)  # the samples differ on this record
    assert set(t["sample"]) == {"common"}


class _Broken(Forecaster):
    def fit(self, panel, train_end):
        raise RuntimeError("cannot learn")


class _Empty(Forecaster):
    def fit(self, panel, train_end):
        return self

    def predict(self, panel, issue_idx, leads):
        from models.forecast.base import Forecast

        shape = (len(panel.stations), len(issue_idx), len(leads))
        nan = np.full(shape, np.nan)
        return Forecast(nan, nan[..., None], (0.5,))


def test_a_failing_model_does_not_discard_the_others(monkeypatch):
    monkeypatch.setitem(FORECASTERS, "broken", _Broken)
    monkeypatch.setitem(FORECASTERS, "empty", _Empty)
    cfgs = model_configs(["persistence", "climatology"]) | {
        "broken": {"forecaster": "broken", "params": {}},
        "empty": {"forecaster": "empty", "params": {}},
    }
    res = _bt(_panel(), [], cfgs=cfgs)
    assert res.failed == {"broken": "RuntimeError: cannot learn"}
    assert set(res.table["model"]) == {"persistence", "climatology", "empty"}
    # a model forecasting nothing is scored on its own (empty) sample, not everyone's
    t = res.table.set_index("model")
    assert (t.loc["empty", "sample"] == "own").all() and (t.loc["empty", "n"] == 0).all()
    assert (t.loc["climatology", "n"] > 0).all()
    with pytest.raises(BacktestError, match="every model failed: broken: RuntimeError"):
        _bt(_panel(), [], cfgs={"broken": {"forecaster": "broken", "params": {}}})


def test_mlforecast_default_fits_a_record_that_starts_empty():
    """It sampled its error issue times from the first month: 'Input data must be 2 dimensional'."""
    res = _bt(_panel(), ["persistence", "mlforecast_default"])
    assert not res.failed
    t = res.table[res.table.model == "mlforecast_default"]
    assert np.isfinite(t["rmse"]).all() and (t["forecast_share"] > 0.9).all()


def _errors(n_issue=200, S=4, L=3, seed=0):
    rng = np.random.default_rng(seed)
    obs = rng.normal(50, 10, (S, n_issue, L))
    return obs, rng


def test_identical_forecasts_do_not_promote():
    obs, rng = _errors()
    f = obs + rng.normal(0, 5, obs.shape)
    out = compare(f, f.copy(), obs, lead_mask=np.ones(3, bool))
    assert not out.promote and out.improvement == 0 and "margin" in out.reason


def test_clearly_better_promotes_and_a_tiny_gain_does_not():
    obs, rng = _errors()
    champ = obs + rng.normal(0, 6, obs.shape)
    good = obs + rng.normal(0, 4, obs.shape)
    out = compare(good, champ, obs, lead_mask=np.ones(3, bool), min_improvement=0.01)
    assert out.promote and out.p_value < 1e-6 and out.improvement > 0.2
    assert out.n_cells == obs.size and out.n_issues == obs.shape[1]
    tiny = champ * 0.999 + obs * 0.001  # 0.1 % better everywhere: significant but no margin
    out = compare(tiny, champ, obs, lead_mask=np.ones(3, bool), min_improvement=0.01)
    assert not out.promote and "margin" in out.reason
    # with no margin required, the paired test still guards against noise
    noisy = obs + rng.normal(0, 6, obs.shape)
    out = compare(noisy, champ, obs, lead_mask=np.ones(3, bool), min_improvement=0.0)
    if out.improvement > 0:
        assert out.p_value > 0.05 and not out.promote and "not significant" in out.reason


def test_only_paired_cells_and_the_rule_leads_count():
    obs, rng = _errors()
    champ = obs + rng.normal(0, 6, obs.shape)
    chal = obs + rng.normal(0, 4, obs.shape)
    chal[:, :, 0] += 1000  # a lead the rule does not compare
    champ[0] = np.nan  # a station the champion did not forecast: left out for both
    chal[1, :50] = np.nan
    out = compare(chal, champ, obs, lead_mask=np.array([False, True, True]))
    assert out.promote and out.n_cells == (3 * 200 - 50) * 2


def test_diebold_mariano_against_a_hand_computation():
    rng = np.random.default_rng(4)
    d = rng.normal(-0.2, 1.0, 300)
    stat, p = diebold_mariano(d, 0)
    # lag 0: the HLN-corrected t statistic of the mean
    t = d.mean() / (d.std() / np.sqrt(len(d)))
    assert stat == pytest.approx(t * np.sqrt((301 - 2) / 300))
    assert 0 < p < 0.05
    # positive autocorrelation widens the variance: a larger p
    ar = np.convolve(d, np.ones(6) / 6, mode="valid")
    assert diebold_mariano(ar, 5)[1] > diebold_mariano(ar, 0)[1]
    assert np.isnan(diebold_mariano(np.array([1.0, 1.0]), 0)[1])
