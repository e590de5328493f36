"""Supervision conditions on hand-made hourly series (features.warnings.supervision)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.warnings.rules import WarningScheme
from features.warnings.supervision import StationData, SupervisionRules, decide_supervision
from pipelines.config.registry import discharge_standard

T = pd.date_range("2024-01-01T01:00", periods=24, freq="h")  # interval ends, UTC
AS_OF = T[-1]

RULES = SupervisionRules(
    exceedance_level="orange",
    severe_level="red",
    severe_ratio=2.0,
    data_level="yellow",
    offline_hours=2,
    flagged_hours=4,
    flagged_statuses=("F", "M", "S", "D", "C", "B"),
    flat_hours=6,
    flat_tolerance=0.0,
    flat_variables=("stack_so2",),
    lookback_hours=24,
    review_hours=24,
)
SCHEME = WarningScheme.from_config(
    {
        "name": "t",
        "kind": "source",
        "levels": [
            {"name": "yellow", "rank": 3},
            {"name": "orange", "rank": 2},
            {"name": "red", "rank": 1},
        ],
        "decision": {"lift_clear_hours": 12},
    }
)


def station(so2=None, flags=None, o2=None, flow=None, corrected=None):
    rng = np.random.default_rng(1)
    so2 = np.asarray(so2 if so2 is not None else 40 + rng.normal(0, 2, 24), float)
    flags = np.asarray(flags if flags is not None else ["N"] * 24, object)
    o2 = np.asarray(o2 if o2 is not None else np.full(24, 6.0), float)
    flow = np.asarray(flow if flow is not None else np.full(24, 100.0), float)
    values = {"stack_so2": so2, "stack_o2": o2, "stack_gas_flow": flow}
    status = {v: flags.copy() for v in values}
    if corrected is not None:
        values["stack_so2_corrected"] = np.asarray(corrected, float)
        status["stack_so2_corrected"] = flags.copy()
    for v in values:
        status[v] = np.where(np.isnan(values[v]), "missing", status[v])
    valid = {v: (status[v] == "N") for v in values}
    return StationData(
        station="S1",
        name="stack 1",
        medium="air",
        times=T,
        values=values,
        status=status,
        valid=valid,
        standard=discharge_standard("gb13223-2011"),
        class_id="coal_boiler_new",  # SO2 100 mg m-3 at 6 % O2
    )


def decide(st):
    return decide_supervision(SCHEME, RULES, AS_OF, [st], units={"stack_so2": "mg m-3"})


def test_clean_data_raise_nothing():
    d = decide(station())
    assert d.level is None and d.clear_hours == 24


def test_an_hour_above_the_corrected_limit_is_an_exceedance():
    so2 = np.full(24, 40.0)
    so2[10] = 90.0  # at 9 % O2 -> 90 * 15 / 12 = 112.5 at 6 %: above 100
    o2 = np.full(24, 6.0)
    o2[10] = 9.0
    d = decide(station(so2=so2, o2=o2))
    assert d.level == "orange" and d.details["condition"] == "exceedance"
    assert d.details["observed"]["stack_so2"] == pytest.approx(112.5)
    assert d.details["limit"] == 100 and d.details["ratio"] == pytest.approx(1.12, abs=0.01)
    assert pd.Timestamp(d.details["period"][1]) == T[10]


def test_the_device_corrected_value_is_used_and_two_fold_is_severe():
    corrected = np.full(24, 50.0)
    corrected[5] = 210.0
    d = decide(station(corrected=corrected))
    assert d.level == "red" and d.details["observed"]["stack_so2"] == 210


def test_flagged_hours_are_not_judged_but_alerted_when_long():
    so2 = 40 + np.arange(24.0)
    so2[8:14] = 500.0
    flags = ["N"] * 24
    flags[8:14] = ["M"] * 6
    d = decide(station(so2=so2, flags=flags))
    kinds = {f["kind"] for f in d.details["findings"]}
    assert "exceedance" not in kinds and d.level == "yellow"
    assert d.details["condition"] == "flagged" and d.details["flags"] == "M"
    short = ["N"] * 24
    short[8:11] = ["C"] * 3  # 3 h < flagged_hours
    assert decide(station(so2=np.full(24, 40.0) + np.arange(24), flags=short)).level is None


def test_offline_flat_and_inconsistent():
    so2 = 40 + np.arange(24.0)
    so2[-3:] = np.nan
    st = station(so2=so2, o2=np.r_[np.full(21, 6.0), [np.nan] * 3])
    st.values["stack_gas_flow"][-3:] = np.nan
    st.status = {v: np.where(np.isnan(x), "missing", "N") for v, x in st.values.items()}
    d = decide(st)
    assert d.details["condition"] == "offline" and d.details["observed"] == {"silence_hours": 3.0}
    flat = decide(station(so2=np.r_[40 + np.arange(12.0), np.full(12, 33.3)]))
    assert flat.details["condition"] == "flat"
    five = decide(station(so2=np.r_[40 + np.arange(19.0), np.full(5, 33.3)]))
    assert five.level is None  # 5 equal values < flat_hours
    flow = np.full(24, 100.0)
    flow[3:5] = 0.0
    bad = decide(station(so2=40 + np.arange(24.0), flow=flow))
    assert bad.details["condition"] == "inconsistent" and bad.details["observed"] == {
        "stack_gas_flow": 2
    }


def test_the_worst_finding_determines_the_level():
    so2 = 40 + np.arange(24.0)
    so2[20] = 300.0  # 3 x: red
    flags = ["N"] * 24
    flags[2:8] = ["D"] * 6  # yellow
    d = decide(station(so2=so2, flags=flags))
    assert d.level == "red" and len(d.details["findings"]) == 2
    assert d.end == AS_OF + pd.Timedelta(hours=24)
    assert d.clear_hours == 3  # since the red hour ended (21:00 UTC)


def test_every_finding_is_said_in_chinese_too():
    so2 = 40 + np.arange(24.0)
    so2[20] = 300.0
    flags = ["N"] * 24
    flags[2:8] = ["D"] * 6
    d = decide(station(so2=so2, flags=flags))
    assert len(d.reasons_zh) == len(d.reasons) == 2
    exceed, flagged = sorted(d.details["findings"], key=lambda f: f["kind"])
    assert "折算到基准氧含量 6 %" in exceed["text_zh"] and "倍" in exceed["text_zh"]
    assert "D (故障)" in flagged["text_zh"] and "不参与超标判定" in flagged["text_zh"]
    assert decide(station()).reasons_zh == ["回溯时段内无报警条件"]
