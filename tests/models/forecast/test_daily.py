"""Daily means and daily AQI derived from hourly forecasts (D+1..D+3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.aqi import AqiStandard
from models.forecast.base import Forecast
from models.forecast.daily import daily_forecast, daily_lead_windows, daily_statistic, score_daily
from pipelines.config import aqi_standards, load_variables

TZ = "Asia/Shanghai"


def test_day_windows_follow_local_days_and_labels():
    # issued at local midnight 2016-03-01 00:00 (16:00 UTC the day before)
    issue = pd.DatetimeIndex(["2016-02-29 16:00"])
    cols, dates = daily_lead_windows(issue, np.arange(1, 97), TZ, "interval_end")
    assert str(dates[0, 0]) == "2016-03-02"
    # interval_end: local 01:00 of 03-02 .. 24:00 = leads 25..48 -> columns 24..47
    assert list(cols[0, 0]) == list(range(24, 48))
    assert list(cols[0, 2]) == list(range(72, 96))
    cols_s, _ = daily_lead_windows(issue, np.arange(1, 97), TZ, "interval_start")
    assert list(cols_s[0, 0]) == list(range(23, 47))
    short, _ = daily_lead_windows(issue, np.arange(1, 73), TZ, "interval_end")
    assert (short[0, 2] == -1).all()  # D+3 is beyond a 72-h horizon


def test_daily_statistic_validity_rules():
    cols = np.arange(24)[None, None, :]
    x = np.full((1, 1, 24), 100.0)
    x[0, 0, :5] = np.nan  # 19 valid hours: no 24-h mean
    assert np.isnan(daily_statistic(x, cols, "24h", {"min_hours_24h": 20})[0, 0, 0])
    x[0, 0, 4] = 100.0  # 20 hours
    assert daily_statistic(x, cols, "24h", {"min_hours_24h": 20})[0, 0, 0] == 100.0
    y = np.arange(24, dtype=float)[None, None, :]
    # MDA8 of a rising ramp is the mean of the last 8 hours (16..23)
    assert daily_statistic(y, cols, "8h", {})[0, 0, 0] == pytest.approx(19.5)


def _forecast(value: float, S=2, N=1, L=96) -> Forecast:
    m = np.full((S, N, L), value)
    q = np.stack([0.5 * m, m, 2 * m], axis=-1)
    return Forecast(m, q, (0.1, 0.5, 0.9))


def test_daily_aqi_by_hj633_and_edition_by_date():
    reg = load_variables()
    stds = aqi_standards("hj633")
    issue = pd.DatetimeIndex(["2016-02-29 16:00"])
    fc = {"pm25": _forecast(150.0), "pm10": _forecast(50.0)}
    d = daily_forecast(fc, issue, np.arange(1, 97), TZ, "interval_end", stds, reg["variables"])
    # PM2.5 24-h mean 150 ug m-3 is the IAQI-200 breakpoint of HJ 633-2012
    assert d.point["pm25_24h"][0, 0, 0] == pytest.approx(150.0)
    assert d.point["aqi"][0, 0, 0] == 200
    # comonotone quantiles: P10 path 75 -> 100, P90 path 300 -> 350 (2012 table)
    assert list(d.quantiles["aqi"][0, 0, 0]) == [100, 200, 350]
    p = d.exceedance_probability("aqi", 200.0)
    assert p[0, 0, 0] == pytest.approx(0.5)


def test_score_daily_perfect_forecast():
    reg = load_variables()
    stds: list[AqiStandard] = aqi_standards("hj633")
    issue = pd.DatetimeIndex(["2016-02-29 16:00", "2016-03-01 16:00"])
    rng = np.random.default_rng(0)
    pm = rng.uniform(20, 400, (3, 2, 96))
    fc = {"pm25": Forecast(pm, np.stack([pm, pm, pm], -1), (0.1, 0.5, 0.9))}
    d = daily_forecast(fc, issue, np.arange(1, 97), TZ, "interval_end", stds, reg["variables"])
    t = score_daily(d, d.point, stds)
    assert list(t["day"]) == [1, 2, 3]
    assert (t["aqi_category_accuracy"] == 1.0).all()
    assert (t["rmse_aqi"] == 0.0).all()
    events = t["heavy_days_observed"].sum()
    assert events > 0 and (t.loc[t["heavy_days_observed"] > 0, "heavy_pod"] == 1.0).all()
