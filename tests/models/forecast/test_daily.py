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


def test_daily_statistic_mda8_override_as_in_observed_days():
    # 10 valid afternoon hours: fewer than 14 8-h windows, valid only above the 160 override
    cols = np.arange(24)[None, None, :]
    validity = aqi_standards("hj633")[0].validity
    o3 = np.full((1, 1, 24), np.nan)
    o3[0, 0, 10:20] = 170.0
    assert daily_statistic(o3, cols, "8h", validity)[0, 0, 0] == 170.0
    o3[0, 0, 10:20] = 120.0
    assert np.isnan(daily_statistic(o3, cols, "8h", validity)[0, 0, 0])


def test_perfect_forecast_has_the_observed_daily_aqi():
    """The observed hourly series fed as a forecast gives exactly the observed daily AQI."""
    import xarray as xr

    from features.assessment import daily_aqi, daily_statistics

    reg = load_variables()
    stds = aqi_standards("hj633")
    rng = np.random.default_rng(7)
    S, H = 2, 24 * 5  # local days 2016-07-01 .. 07-05, hour-ending labels 01:00 .. 24:00
    hour = np.arange(H) % 24
    obs = {
        "pm25": rng.gamma(3.0, 12.0, (S, H)),
        "pm10": rng.gamma(3.0, 20.0, (S, H)),
        "no2": rng.gamma(3.0, 10.0, (S, H)),
        "o3": 60
        + 80 * np.clip(np.sin((hour - 6) / 24 * 2 * np.pi), 0, None)
        + rng.normal(0, 5, (S, H)),
    }
    obs["pm25"][1, 30:36] = np.nan  # a few missing hours
    # 2016-07-03 at station 0: ozone only from 10:00 to 20:00, at 170 ug m-3 -> 10 valid hours,
    # fewer than 14 8-h windows but above the 160 override: the O3-8h value counts and is primary
    day3 = slice(48, 72)
    obs["o3"][0, day3] = np.nan
    obs["o3"][0, 48 + 10 : 48 + 20] = 170.0
    obs["pm25"][0, day3] = 20.0
    obs["pm10"][0, day3] = 30.0
    obs["no2"][0, day3] = 20.0
    labels = pd.date_range("2016-07-01 01:00", periods=H, freq="h")
    utc = labels.tz_localize(TZ).tz_convert("UTC").tz_localize(None)
    ds = xr.Dataset(
        {v: (("station", "time"), x) for v, x in obs.items()},
        coords={"station": ["A", "B"], "time": utc},
    )
    validity = stds[0].validity
    stats = daily_statistics(ds, TZ, "interval_end", validity)
    observed = daily_aqi(stats, stds, reg["variables"], reg["reference_conditions"])

    # issued at local 2016-07-01 00:00: lead h is the hour labelled local 07-01 h:00
    issue = pd.DatetimeIndex([utc[0] - pd.Timedelta(hours=1)])
    leads = np.arange(1, 97)
    perfect = {v: Forecast(x[:, None, :96], x[:, None, :96, None], (0.5,)) for v, x in obs.items()}
    daily = daily_forecast(
        perfect,
        issue,
        leads,
        TZ,
        "interval_end",
        stds,
        reg["variables"],
        reg["reference_conditions"],
    )
    days = pd.DatetimeIndex(daily.dates[0])
    assert [str(d.date()) for d in days] == ["2016-07-02", "2016-07-03", "2016-07-04"]
    obs_days = observed.sel(date=days)
    for name in ("pm25_24h", "pm10_24h", "no2_24h", "o3_8h_max", "o3_1h_max"):
        np.testing.assert_allclose(
            daily.point[name][:, 0], stats[name].sel(date=days).values, rtol=1e-12, equal_nan=True
        )
    np.testing.assert_array_equal(daily.point["aqi"][:, 0], obs_days["aqi"].values)
    np.testing.assert_array_equal(daily.quantiles["aqi"][:, 0, :, 0], obs_days["aqi"].values)
    assert daily.primary[:, 0].tolist() == obs_days["primary_pollutant"].values.tolist()
    # the day where the override matters: O3-8h 170 -> IAQI 100 + 10/55*50 = 109.1 -> 110
    assert daily.point["o3_8h_max"][0, 0, 1] == 170.0
    assert daily.point["aqi"][0, 0, 1] == obs_days["aqi"].values[0, 1] == 110
    assert daily.primary[0, 0, 1] == "o3"
