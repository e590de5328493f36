"""Warning levels and lifecycle steps from daily-AQI forecasts (pure functions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.warnings.rules import WarningScheme, decide, longest_run, next_transition
from pipelines.config.warnings import load_warning_config

T0 = pd.Timestamp("2016-12-15 00:00")
LEVELS = (0.1, 0.5, 0.9)


@pytest.fixture(scope="module")
def national() -> WarningScheme:
    return load_warning_config("national-2018")[0]


@pytest.fixture(scope="module")
def mee() -> WarningScheme:
    return load_warning_config("mee-2017")[0]


def days(*medians, spread=20.0):
    m = np.array(medians, float)
    return np.stack([m - spread, m, m + spread], axis=-1)


def test_longest_run():
    assert longest_run([True, True, False, True]) == 2
    assert longest_run([]) == 0


@pytest.mark.parametrize(
    ("medians", "level"),
    [
        ((150, 180, 150, 120), None),  # never heavy
        ((150, 250, 120, 250), None),  # two heavy days, not consecutive
        ((150, 250, 260, 120), "yellow"),  # 2 consecutive days > 200
        ((250, 260, 270, 120), "orange"),  # 3 days
        ((250, 320, 330, 270), "red"),  # 4 days and 2 days > 300
        ((120, 510, 120, 120), "red"),  # AQI reaches 500 on one day: red
    ],
)
def test_national_levels(national, medians, level):
    d = decide(national, T0, days(*medians), LEVELS, ["pm25"] * 4)
    assert d.level == level


def test_four_level_scheme_has_blue(mee):
    assert decide(mee, T0, days(150, 250, 120, 120), LEVELS).level == "blue"
    assert decide(mee, T0, days(150, 250, 310, 120), LEVELS).level == "yellow"  # 2 days only
    assert decide(mee, T0, days(250, 260, 310, 120), LEVELS).level == "orange"


def test_confidence_threshold(national):
    # median 190 (below 200) with a wide band: P(AQI > 200) is below 0.5 -> no level at 0.5
    q = days(190, 195, 120, 120, spread=60)
    assert decide(national, T0, q, LEVELS).level is None
    strict = WarningScheme(
        **{**national.__dict__, "decision": {**national.decision, "confidence": 0.3}}
    )
    assert decide(strict, T0, q, LEVELS).level == "yellow"


def test_upper_bound_when_three_heavy_days(national):
    # three heavy days; upper bound 320 on two of them -> red needs 4 days: orange; with 4 -> red
    q = days(250, 260, 270, 130, spread=60)  # upper bounds 310, 320, 330, 190
    d = decide(national, T0, q, LEVELS)
    assert d.used_upper_bound and d.level == "orange"
    d4 = decide(national, T0, days(250, 260, 270, 250, spread=60), LEVELS)
    assert d4.level == "red"  # 4 days > 200, upper bounds > 300 on every day


def test_episode_window_merging_and_lead(national):
    d = decide(national, T0, days(150, 250, 260, 150), LEVELS)
    assert d.start == T0 + pd.Timedelta(hours=24) and d.end == T0 + pd.Timedelta(hours=72)
    assert d.lead_hours == 24
    # a one-day clean gap is merged into the episode
    d = decide(national, T0, days(250, 260, 150, 250), LEVELS)
    assert d.end == T0 + pd.Timedelta(hours=96)
    assert any("short notice" in r for r in d.reasons)  # starts at once: < 24 h lead


def test_transitions(national):
    heavy = decide(national, T0, days(150, 250, 260, 150), LEVELS)
    t = next_transition(national, None, None, None, heavy, T0)
    assert t.action == "issue" and t.level == "yellow"
    worse = decide(national, T0, days(250, 260, 270, 150), LEVELS)
    assert next_transition(national, "yellow", t.onset, t.expires, worse, T0).action == "upgrade"
    assert next_transition(national, "orange", t.onset, t.expires, heavy, T0).action == "downgrade"
    longer = decide(national, T0 + pd.Timedelta(hours=24), days(250, 260, 150, 150), LEVELS)
    assert longer.end == T0 + pd.Timedelta(hours=72)  # same end as the warning: hold
    assert next_transition(national, "yellow", t.onset, t.expires, longer, T0).action == "hold"
    longer = decide(national, T0 + pd.Timedelta(hours=24), days(250, 260, 150, 250), LEVELS)
    assert next_transition(national, "yellow", t.onset, t.expires, longer, T0).action == "extend"
    clean = decide(national, T0, days(80, 90, 100, 90), LEVELS)
    assert clean.clear_hours == 96
    assert next_transition(national, "yellow", t.onset, t.expires, clean, T0).action == "lift"
    # heavy again within 36 h: hold, do not lift
    soon = decide(national, T0, days(120, 250, 120, 120), LEVELS)
    assert soon.level is None and soon.clear_hours == 24
    assert next_transition(national, "yellow", t.onset, t.expires, soon, T0).action == "hold"
    assert next_transition(national, None, None, None, clean, T0).action == "none"
