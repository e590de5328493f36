"""GB 3095 validity rules, local days with hour-ending labels, daily AQI by edition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from features.assessment import daily_aqi, daily_statistics, hourly_aqi, moving_mean

VALIDITY = {
    "min_hours_24h": 20,
    "min_hours_8h": 6,
    "min_hours_1h_max": 20,
    "mda8_min_windows": 14,
    "mda8_limit_override": 160,
}


def _hourly(
    values: dict[str, np.ndarray], start_local: str, tz: str = "Asia/Shanghai"
) -> xr.Dataset:
    """Hour-ending labels: the first value covers local hour 00:00-01:00 of start_local's day."""
    n = len(next(iter(values.values())))
    labels = pd.date_range(pd.Timestamp(start_local) + pd.Timedelta("1h"), periods=n, freq="h")
    utc = labels.tz_localize(tz).tz_convert("UTC").tz_localize(None)
    return xr.Dataset(
        {k: (("station", "time"), v[None, :]) for k, v in values.items()},
        coords={"station": ["S"], "time": utc},
    )


def test_24h_mean_needs_20_hours():
    v = np.full(48, 50.0)
    v[:5] = np.nan  # day 1: 19 valid hours
    v[24:28] = np.nan  # day 2: 20 valid hours
    stats = daily_statistics(
        _hourly({"pm25": v}, "2016-01-01"), "Asia/Shanghai", "interval_end", VALIDITY
    )
    assert np.isnan(stats["pm25_24h"].values[0, 0])
    assert stats["pm25_24h"].values[0, 1] == 50.0
    assert stats["pm25_hours"].values[0].tolist() == [19, 20]


def test_hour_ending_label_midnight_belongs_to_previous_day():
    v = np.arange(24, dtype=float)  # labels 01:00 .. 24:00 (= 00:00 next day)
    stats = daily_statistics(
        _hourly({"pm25": v}, "2016-01-01"), "Asia/Shanghai", "interval_end", VALIDITY
    )
    assert len(stats["date"]) == 1
    assert stats["pm25_24h"].values[0, 0] == v.mean()


def test_mda8_windows_and_override():
    v = np.full(24, 100.0)
    v[12:20] = 200.0
    stats = daily_statistics(
        _hourly({"o3": v}, "2016-07-01"), "Asia/Shanghai", "interval_end", VALIDITY
    )
    assert stats["o3_8h_max"].values[0, 0] == 200.0
    assert stats["o3_1h_max"].values[0, 0] == 200.0
    # only 10 valid hours in the afternoon: < 14 windows, but max > 160 -> still valid
    w = np.full(24, np.nan)
    w[10:20] = 170.0
    stats = daily_statistics(
        _hourly({"o3": w}, "2016-07-01"), "Asia/Shanghai", "interval_end", VALIDITY
    )
    assert stats["o3_8h_max"].values[0, 0] == 170.0
    w[10:20] = 120.0  # same coverage, below the limit -> invalid
    stats = daily_statistics(
        _hourly({"o3": w}, "2016-07-01"), "Asia/Shanghai", "interval_end", VALIDITY
    )
    assert np.isnan(stats["o3_8h_max"].values[0, 0])


def test_moving_mean_needs_min_count():
    x = np.array([[1, 2, np.nan, np.nan, 5, 6, 7, 8, 9]], float)
    m = moving_mean(x, 3, 2)
    assert np.isnan(m[0, 0]) and m[0, 1] == 1.5 and np.isnan(m[0, 3]) and m[0, 6] == 6.0


def test_daily_aqi_uses_edition_in_force(hj633, registry):
    days = pd.to_datetime(["2026-02-28", "2026-03-01"])
    stats = xr.Dataset(
        {"pm25_24h": (("station", "date"), np.array([[70.0, 70.0]]))},
        coords={"station": ["S"], "date": days},
    )
    out = daily_aqi(stats, hj633, registry["variables"], registry["reference_conditions"])
    assert out["aqi"].values[0].tolist() == [94, 110]
    assert out["edition"].values.tolist() == ["hj633-2012", "hj633-2026"]
    assert out["category"].values[0].tolist() == [2, 3]
    assert out["primary_pollutant"].values[0].tolist() == ["pm25", "pm25"]


def test_daily_aqi_o3_8h_above_800_uses_1h(hj633, registry):
    stats = xr.Dataset(
        {
            "o3_8h_max": (("station", "date"), np.array([[850.0]])),
            "o3_1h_max": (("station", "date"), np.array([[900.0]])),
        },
        coords={"station": ["S"], "date": pd.to_datetime(["2016-07-01"])},
    )
    out = daily_aqi(stats, hj633, registry["variables"], registry["reference_conditions"])
    # 2012: O3-8h IAQI not computed above 800 -> the 1-h IAQI stands in: 300 + (900-800)/200*100 = 350
    assert out["iaqi_o3_8h"].values[0, 0] == 350
    assert out["aqi"].values[0, 0] == 350


def test_hourly_aqi_so2_fallback_to_24h(hj633, registry):
    so2 = np.full(30, 100.0)
    so2[-1] = 900.0  # 1-h value above 800 -> IAQI from the 24-h moving mean
    ds = _hourly({"so2": so2}, "2016-01-01")
    out = hourly_aqi(
        ds, hj633, registry["variables"], "Asia/Shanghai", registry["reference_conditions"]
    )
    # 24-h moving mean (100*23 + 900)/24 = 133.3: 133.3 -> (100-50)/(150-50)*(133.3-50)+50 = 91.7 -> 92
    assert out["aqi"].values[0, -1] == 92
    assert out["aqi"].values[0, 0] == 34  # 100 on the 1-h table: 50/150*100 = 33.3 -> 34


def test_published_o3_8h_gives_the_daily_o3_8h_when_hourly_o3_is_absent(hj633, registry):
    """A network publishing only O3-8h (CNEMC's 臭氧8小时滑动平均) still gets its O3-8h IAQI."""
    from features.units import running_means

    o3 = np.full(48, 100.0)
    o3[24 + 12 : 24 + 20] = 200.0  # the second day: 8 h at 200
    hourly = _hourly({"o3": o3}, "2016-07-01")
    computed = daily_statistics(hourly, "Asia/Shanghai", "interval_end", VALIDITY)
    # the published series: the 8-h running mean ending at each label (CNEMC), from the same hours
    published = pd.Series(o3).rolling(8, min_periods=6).mean().to_numpy()
    rm = running_means(registry)
    assert rm == {"o3_8h": ("o3", "8h")}
    only = daily_statistics(
        _hourly({"o3_8h": published}, "2016-07-01"),
        "Asia/Shanghai",
        "interval_end",
        VALIDITY,
        running_means=rm,
    )
    assert set(only.data_vars) == {"o3_8h_max"}  # no "o3_8h_24h" nonsense statistics
    np.testing.assert_array_equal(only["o3_8h_max"].values, computed["o3_8h_max"].values)
    out = daily_aqi(only, hj633, registry["variables"], registry["reference_conditions"])
    # 100 -> 50; 200 -> 100 + (200 - 160) / 55 * 50 = 136.4, rounded up (HJ 633)
    assert out["iaqi_o3_8h"].values[0].tolist() == [50, 137]
    # with both, the hourly values are used and the published ones are left alone
    both = daily_statistics(
        hourly.assign(o3_8h=(("station", "time"), np.full((1, 48), 999.0))),
        "Asia/Shanghai",
        "interval_end",
        VALIDITY,
        running_means=rm,
    )
    np.testing.assert_array_equal(both["o3_8h_max"].values, computed["o3_8h_max"].values)
