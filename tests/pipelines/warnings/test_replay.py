"""The replay, day by day, with forecasts built in memory (no training, no MLflow).

A synthetic Beijing panel holds three scripted PM2.5 episodes; a stand-in for the registered
champion forecasts the panel's own future (slightly high, with a 20 % band), so every warning and
every score of the replay is known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pipelines.warnings.replay as replay_mod
from features.forecast_features import Panel
from features.times import to_local
from models.forecast.base import Forecast
from pipelines.config import load_network

TZ = "Asia/Shanghai"
EPISODES = (  # local days, PM2.5 [ug m-3] (AQI 260, 290 and 340)
    ("2016-12-04", "2016-12-06", 210.0),
    ("2016-12-10", "2016-12-10", 240.0),  # one heavy day: not an episode (2 days needed)
    ("2016-12-14", "2016-12-17", 290.0),
)


def _panel() -> Panel:
    net = load_network("beijing")
    ids = [s.id for s in net.stations]
    times = pd.date_range("2016-11-25", "2016-12-20", freq="1h")
    base = 60 + 20 * np.sin(np.arange(len(times)) / 9.0)
    pm = np.broadcast_to(base, (len(ids), len(times))).copy()
    local = to_local(times, TZ)
    for d0, d1, value in EPISODES:
        pm[:, (local >= pd.Timestamp(d0)) & (local < pd.Timestamp(d1) + pd.Timedelta("1D"))] = value
    lat = np.array([s.lat for s in net.stations])
    lon = np.array([s.lon for s in net.stations])
    return Panel(ids, times, {"pm25": pm}, lat, lon, TZ)


class _Oracle:
    """Forecasts the panel's future x 1.05 with a +-20 % band."""

    calls: list[np.ndarray] = []

    def predict(self, panel, issue_idx, leads):
        type(self).calls.append(np.asarray(issue_idx))
        S, N, L = len(panel.stations), len(issue_idx), len(leads)
        mean = np.full((S, N, L), np.nan)
        for n, i in enumerate(issue_idx):
            j = i + np.asarray(leads)
            ok = j < len(panel.times)
            mean[:, n, ok] = panel.values["pm25"][:, j[ok]] * 1.05
        return Forecast(mean, np.stack([0.8 * mean, mean, 1.2 * mean], axis=-1), (0.1, 0.5, 0.9))


@pytest.fixture
def result(tmp_path, monkeypatch):
    panel = _panel()
    monkeypatch.setattr(replay_mod, "load_panel", lambda network, root: panel)
    trained = []

    def champion(network, target, t_train, fcfg):
        trained.append((network, target, t_train))
        return _Oracle(), f"models:/{network}-{target}/1"

    monkeypatch.setattr(replay_mod, "_champion", champion)
    out = replay_mod.replay(
        "beijing",
        tmp_path,
        "2016-12-01",
        "2016-12-18",
        "2016-11-30",
        "champion",
        work_dir=tmp_path,
    )
    return out, trained, panel


def test_replay_issues_daily_and_scores_the_episodes(result):
    out, trained, panel = result
    # only the stored targets are forecast, by a model refused if trained after 30 Nov (local)
    assert trained == [("beijing", "pm25", pd.Timestamp("2016-11-30 15:00"))]
    log = out.log
    assert set(log["area"]) == {"beijing", "beijing-urban", "beijing-north"}
    issues = sorted(set(log["issue_time"]))
    assert len(issues) == 18  # one per local day at 00:00, 1 .. 18 Dec
    assert issues[0] == pd.Timestamp("2016-11-30 16:00")  # 1 Dec 00:00 Beijing time, in UTC
    assert all(b - a == pd.Timedelta("1D") for a, b in zip(issues, issues[1:], strict=False))
    for area in ("beijing", "beijing-urban"):
        s = out.summaries[area]
        assert s["episodes"] == 2  # the one-day spike on 10 Dec is no episode
        assert s["observed_heavy_days"] == 3 + 1 + 4
        assert s["warned"] == 1.0 and s["warned_24h_ahead"] == 1.0
        assert s["median_lead_hours"] == pytest.approx(48.0)
        assert s["false_alarms"] == 0 and s["level_accuracy"] == 1.0
        table = out.tables[area]
        assert list(table["observed_level"]) == ["orange", "red"]
        assert [str(d) for d in table["first_day"]] == ["2016-12-04", "2016-12-14"]


def test_replay_lifecycle_log(result):
    out, _, _ = result
    log = out.log[out.log["area"] == "beijing"]
    steps = [(a, lv) for a, lv in zip(log["action"], log["level"], strict=True) if a != "none"]
    steps = [s for s in steps if s[0] != "hold"]
    # 2 Dec: two heavy days within the 96 h (4-5 Dec) -> yellow; 3 Dec: all three -> orange
    assert steps[:2] == [("issue", "yellow"), ("upgrade", "orange")]
    assert ("lift", None) in steps and ("upgrade", "red") in steps
    first = log[log["action"] == "issue"].iloc[0]
    assert first["issue_time"] == pd.Timestamp("2016-12-01 16:00")  # 2 Dec local: 48 h ahead
    assert len(first["point_aqi"]) == 4 and len(first["p_heavy"]) == 4


def test_replay_refuses_a_scheme_without_areas(tmp_path):
    with pytest.raises(ValueError, match="scheme, not a city"):
        replay_mod.replay("national-2018", tmp_path, "2016-12-01", "2016-12-02", "2016-11-30")
