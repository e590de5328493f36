"""Episode-level scoring of a warning replay, on hand-made logs with known answers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from features.warnings.verification import (
    heavy_day_bounds,
    heavy_episodes,
    observed_level,
    score_replay,
)
from pipelines.config.warnings import load_warning_config

TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def scheme():
    return load_warning_config("national-2018")[0]


def _utc(day: str) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize(TZ).tz_convert("UTC").tz_localize(None)


def test_episodes_and_their_levels(scheme):
    days = pd.date_range("2016-12-01", periods=12, freq="D")
    aqi = np.array([100, 250, 260, 120, 210, 130, 220, 320, 330, 240, 90, np.nan])
    eps = heavy_episodes(days, aqi, scheme, TZ)
    assert [(e.first_day.day, len(e.aqi)) for e in eps] == [(2, 2), (7, 4)]  # day 5 alone: none
    assert [e.level for e in eps] == ["yellow", "red"]
    assert eps[0].start_utc == _utc("2016-12-02")
    assert observed_level(scheme, np.array([250, 260, 270])) == "orange"


def test_score_replay(scheme):
    days = pd.date_range("2016-12-01", periods=12, freq="D")
    aqi = np.array([100, 250, 260, 120, 210, 130, 220, 320, 330, 240, 90, 80])
    eps = heavy_episodes(days, aqi, scheme, TZ)
    heavy_days = [
        (_utc(str(d.date())), _utc(str((d + pd.Timedelta("1D")).date())))
        for d, a in zip(days, aqi, strict=True)
        if a > 200
    ]
    issue = [_utc(str(d.date())) for d in days]
    rows = []
    for k, t in enumerate(issue):
        w = {"warning_id": np.nan, "level": None, "start": pd.NaT, "end": pd.NaT}
        if k in (0, 1, 2):  # warning 1: issued 24 h ahead of episode 1, yellow
            w = {"warning_id": 1, "level": "yellow", "start": issue[1], "end": issue[3]}
        if k in (8, 9):  # warning 2: issued during episode 2 (late), orange
            w = {"warning_id": 2, "level": "orange", "start": issue[8], "end": issue[10]}
        if k == 11:  # warning 3: nothing observed: a false alarm
            w = {
                "warning_id": 3,
                "level": "yellow",
                "start": issue[11],
                "end": issue[11] + pd.Timedelta("2D"),
            }
        rows.append({"issue_time": t, **w})
    table, s = score_replay(pd.DataFrame(rows), eps, scheme, heavy_days)
    assert list(table["warned_24h_ahead"]) == [True, False]
    assert table["lead_hours"].iloc[0] == 24
    assert bool(table["warned"].iloc[1]) is False  # warning 2 never covered the episode's first day
    assert list(table["level_correct"]) == [True, False]  # red episode, orange at most
    assert s["warnings_issued"] == 3 and s["false_alarms"] == 1
    assert s["false_alarm_ratio"] == pytest.approx(1 / 3)
    assert s["warned_24h_ahead"] == 0.5
    # "in time" is the scheme's verification.warned_ahead_hours
    early = dataclasses.replace(
        scheme, verification={**scheme.verification, "warned_ahead_hours": 48}
    )
    table, s = score_replay(pd.DataFrame(rows), eps, early, heavy_days)
    assert list(table["warned_24h_ahead"]) == [False, False] and s["warned"] == 0.5


def test_episode_definition_comes_from_the_scheme(scheme):
    assert scheme.verification == {
        "heavy_aqi_above": 200.0,
        "episode_min_days": 2,
        "warned_ahead_hours": 24.0,
    }
    days = pd.date_range("2016-12-01", periods=6, freq="D")
    aqi = np.array([100, 250, 120, 180, 190, 90])
    assert [len(e.aqi) for e in heavy_episodes(days, aqi, scheme, TZ)] == []
    strict = dataclasses.replace(
        scheme,
        verification={**scheme.verification, "heavy_aqi_above": 150.0, "episode_min_days": 1},
    )
    assert [len(e.aqi) for e in heavy_episodes(days, aqi, strict, TZ)] == [1, 2]
    # explicit arguments win
    assert len(heavy_episodes(days, aqi, strict, TZ, limit=200, min_days=1)) == 1


def test_heavy_day_bounds_are_local_days_in_utc():
    obs = pd.Series([150.0, 201.0, np.nan, 300.0], index=pd.date_range("2016-12-01", periods=4))
    bounds = heavy_day_bounds(obs, TZ, limit=200)
    assert bounds == [
        (_utc("2016-12-02"), _utc("2016-12-03")),
        (_utc("2016-12-04"), _utc("2016-12-05")),
    ]
    assert bounds[0][0] == pd.Timestamp("2016-12-01 16:00")
    assert heavy_day_bounds(obs, TZ, limit=300) == []
