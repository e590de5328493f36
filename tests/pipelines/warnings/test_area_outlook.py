"""An area's daily-AQI outlook and driver summary as the warning job computes them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from features.warnings.rules import Decision
from models.forecast.drivers import GROUPS
from pipelines.config.warnings import AreaSpec
from pipelines.warnings.job import area_drivers, area_outlook

ISSUE = pd.Timestamp("2016-12-14 16:00")  # 15 Dec 00:00 Beijing time


def _forecast(daily_pm25: list[list[float]]) -> xr.Dataset:
    mean = np.array([np.repeat(r, 24) for r in daily_pm25], float)[:, None, :]
    S, _, L = mean.shape
    drivers = np.zeros((S, 1, L, len(GROUPS)))
    drivers[..., GROUPS.index("local")] = 30.0
    drivers[..., GROUPS.index("meteorology")] = -10.0
    return xr.Dataset(
        {
            "pm25_mean": (("station", "issue_time", "lead_time"), mean),
            "pm25_quantile": (
                ("station", "issue_time", "lead_time", "quantile"),
                np.stack([0.8 * mean, mean, 1.2 * mean], axis=-1),
            ),
            "pm25_drivers": (("station", "issue_time", "lead_time", "driver"), drivers),
        },
        coords={
            "station": ["a", "b", "c"][:S],
            "issue_time": [ISSUE.to_datetime64()],
            "lead_time": np.arange(1, L + 1),
            "quantile": [0.1, 0.5, 0.9],
            "driver": list(GROUPS),
        },
    )


def test_outlook_is_the_daily_aqi_of_the_area_mean():
    # stations at 100 and 300 ug/m3 on day 2: the area mean 200 gives IAQI(PM2.5 = 200) = 250
    ds = _forecast([[60, 100, 60, 60], [60, 300, 60, 60], [999, 999, 999, 999]])
    out = area_outlook(ds, AreaSpec(id="x", stations=["a", "b"]), "Asia/Shanghai")
    assert out.area == "x" and out.pollutants == ["pm25"] and out.levels == (0.1, 0.5, 0.9)
    assert out.starts == [ISSUE + pd.Timedelta(hours=24 * d) for d in range(4)]
    assert out.median[1] == pytest.approx(250.0)
    assert out.median[0] == pytest.approx(82.0, abs=1)  # IAQI(60) = 82
    assert out.primary[1] == "pm25"
    assert out.quantiles.shape == (4, 3) and (np.diff(out.quantiles, axis=1) >= 0).all()
    whole = area_outlook(ds, AreaSpec(id="all"), "Asia/Shanghai")  # every station of the file
    assert whole.median[1] > 300
    with pytest.raises(ValueError, match="none of its stations"):
        area_outlook(ds, AreaSpec(id="y", stations=["zz"]), "Asia/Shanghai")


def test_driver_summary_of_the_episode():
    ds = _forecast([[60, 200, 200, 60]])
    start = ISSUE + pd.Timedelta(hours=24)
    d = Decision(
        "yellow",
        start,
        start + pd.Timedelta(hours=48),
        0.9,
        (0, 0),
        "pm25",
        0.0,
        24.0,
        False,
        [],
        [],
    )
    out = area_drivers(ds, np.array([0]), d, ISSUE)
    assert out["pollutant"] == "pm25" and out["period"] == "episode"
    groups = {g["driver"]: g for g in out["groups"]}
    assert groups["local"]["contribution"] == 30.0 and groups["local"]["share"] == 0.75
    assert out["groups"][0]["driver"] == "local"
    assert area_drivers(ds, np.array([], int), d, ISSUE) is None
