"""HJ 633 (2012, 2026) and US EPA AQI: every breakpoint by hand, fall-backs, properties."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.aqi import aqi_from_subindices, category_of, select_standard, sub_index

LEVELS = [0, 50, 100, 150, 200, 300, 400, 500]
# HJ 633-2012 Table 1 as transcribed in shared/reference/standards_and_benchmarks.md §1.1
TABLE_2012 = {
    "so2_24h": [0, 50, 150, 475, 800, 1600, 2100, 2620],
    "so2_1h": [0, 150, 500, 650, 800],
    "no2_24h": [0, 40, 80, 180, 280, 565, 750, 940],
    "no2_1h": [0, 100, 200, 700, 1200, 2340, 3090, 3840],
    "pm10_24h": [0, 50, 150, 250, 350, 420, 500, 600],
    "co_24h": [0, 2, 4, 14, 24, 36, 48, 60],
    "co_1h": [0, 5, 10, 35, 60, 90, 120, 150],
    "o3_1h": [0, 160, 200, 300, 400, 800, 1000, 1200],
    "o3_8h": [0, 100, 160, 215, 265, 800],
    "pm25_24h": [0, 35, 75, 115, 150, 250, 350, 500],
}
TABLE_2026 = dict(
    TABLE_2012,
    pm10_24h=[0, 50, 120, 250, 350, 420, 500, 600],
    pm25_24h=[0, 35, 60, 115, 150, 250, 350, 500],
)


def _edition(hj633, name):
    return next(s for s in hj633 if s.name == name)


@pytest.mark.parametrize("edition,table", [("hj633-2012", TABLE_2012), ("hj633-2026", TABLE_2026)])
def test_every_breakpoint_gives_its_iaqi(hj633, edition, table):
    std = _edition(hj633, edition)
    for key, bps in table.items():
        got, _ = sub_index(np.array(bps, float), std.pollutants[key], std)
        assert got.tolist() == LEVELS[: len(bps)], (edition, key)


@pytest.mark.parametrize("edition,table", [("hj633-2012", TABLE_2012), ("hj633-2026", TABLE_2026)])
def test_just_above_each_breakpoint_rounds_up(hj633, edition, table):
    std = _edition(hj633, edition)
    for key, bps in table.items():
        for k in range(len(bps) - 1):
            c = bps[k] + (bps[k + 1] - bps[k]) * 0.001
            got, _ = sub_index(np.array([c]), std.pollutants[key], std)
            assert got[0] == LEVELS[k] + 1, (edition, key, c)


def test_hand_computed_midpoints(hj633):
    std12, std26 = _edition(hj633, "hj633-2012"), _edition(hj633, "hj633-2026")
    # PM2.5 = 100: 2012 -> (150-100)/(115-75)*(100-75)+100 = 131.25 -> 132
    assert sub_index(np.array([100.0]), std12.pollutants["pm25_24h"], std12)[0][0] == 132
    # 2026 -> (150-100)/(115-60)*(100-60)+100 = 136.36 -> 137
    assert sub_index(np.array([100.0]), std26.pollutants["pm25_24h"], std26)[0][0] == 137
    # PM2.5 = 70: good in 2012 (94), light pollution in 2026 (109.09 -> 110)
    assert sub_index(np.array([70.0]), std12.pollutants["pm25_24h"], std12)[0][0] == 94
    assert sub_index(np.array([70.0]), std26.pollutants["pm25_24h"], std26)[0][0] == 110
    # PM10 = 135: 2012 (50/100*85+50 = 92.5 -> 93), 2026 ((150-100)/(250-120)*15+100 = 105.8 -> 106)
    assert sub_index(np.array([135.0]), std12.pollutants["pm10_24h"], std12)[0][0] == 93
    assert sub_index(np.array([135.0]), std26.pollutants["pm10_24h"], std26)[0][0] == 106
    # CO 24h = 3 mg/m3 -> 75; O3 8h = 180 -> (150-100)/55*20+100 = 118.2 -> 119
    assert sub_index(np.array([3.0]), std12.pollutants["co_24h"], std12)[0][0] == 75
    assert sub_index(np.array([180.0]), std12.pollutants["o3_8h"], std12)[0][0] == 119


def test_above_table_rules(hj633):
    std12, std26 = _edition(hj633, "hj633-2012"), _edition(hj633, "hj633-2026")
    idx, above = sub_index(np.array([900.0]), std12.pollutants["so2_1h"], std12)
    assert np.isnan(idx[0]) and above[0]  # 2012: do not compute, use 24h
    idx, above = sub_index(np.array([900.0]), std26.pollutants["so2_1h"], std26)
    assert idx[0] == 200 and not above[0]  # 2026 public implementations: cap at 200
    idx, above = sub_index(np.array([850.0]), std12.pollutants["o3_8h"], std12)
    assert np.isnan(idx[0]) and above[0]
    idx, _ = sub_index(np.array([9999.0]), std12.pollutants["pm25_24h"], std12)
    assert idx[0] == 500


def test_edition_switches_on_2026_03_01(hj633):
    assert select_standard(dt.date(2026, 2, 28), hj633).name == "hj633-2012"
    assert select_standard(dt.date(2026, 3, 1), hj633).name == "hj633-2026"
    with pytest.raises(LookupError):
        select_standard(dt.date(2000, 1, 1), hj633)


def test_primary_and_over_standard():
    subs = {
        "pm25_24h": np.array([120.0, 40.0, 160.0]),
        "pm10_24h": np.array([120.0, 30.0, 90.0]),
        "o3_8h": np.array([60.0, 45.0, 101.0]),
    }
    aqi, primary, over = aqi_from_subindices(subs)
    assert aqi.tolist() == [120, 45, 160]
    assert primary.tolist() == ["pm25,pm10", "", "pm25"]  # tie lists both; AQI <= 50 has none
    assert over.tolist() == ["pm25,pm10", "", "pm25,o3"]


def test_categories(hj633):
    std = hj633[0]
    got = category_of(
        np.array([0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 500, np.nan]), std
    )
    assert got.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 0]


def test_us_epa_2024_pm25():
    from pipelines.config import aqi_standards

    std = aqi_standards("us-epa")[0]
    scale = std.pollutants["pm25_24h"]
    cases = {
        9.0: 50,
        9.1: 51,
        35.4: 100,
        35.5: 101,
        55.4: 150,
        55.5: 151,
        125.4: 200,
        125.5: 201,
        225.4: 300,
        225.5: 301,
        325.4: 500,
        12.0: 56,
        9.09: 50,
    }  # 9.09 truncates to 9.0
    for c, expected in cases.items():
        assert sub_index(np.array([c]), scale, std)[0][0] == expected, c


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0, 1000, allow_nan=False), min_size=2, max_size=50),
    st.sampled_from(["pm25_24h", "pm10_24h", "no2_1h", "o3_1h", "so2_24h", "co_1h"]),
    st.sampled_from(["hj633-2012", "hj633-2026"]),
)
def test_iaqi_is_monotone_and_bounded(hj633, concs, key, edition):
    std = _edition(hj633, edition)
    c = np.sort(np.array(concs))
    idx, _ = sub_index(c, std.pollutants[key], std)
    assert np.all(np.diff(idx) >= 0)
    assert np.all((idx >= 0) & (idx <= 500))


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 500, allow_nan=False))
def test_2026_pm25_never_below_2012(hj633, c):
    s12, s26 = _edition(hj633, "hj633-2012"), _edition(hj633, "hj633-2026")
    a = sub_index(np.array([c]), s12.pollutants["pm25_24h"], s12)[0][0]
    b = sub_index(np.array([c]), s26.pollutants["pm25_24h"], s26)[0][0]
    assert b >= a
