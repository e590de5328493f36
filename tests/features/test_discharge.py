"""Discharge limits: O2 correction, hourly flue-gas and daily wastewater exceedances."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from features.discharge import (
    DischargeStandard,
    Limit,
    assess,
    compare,
    corrected_concentration,
    hourly_series,
)

TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def gb13223():
    from pipelines.config import discharge_standard

    return discharge_standard("gb13223-2011")


@pytest.fixture(scope="module")
def ultra_low():
    from pipelines.config import discharge_standard

    return discharge_standard("ultra-low-coal-2015")


@pytest.fixture(scope="module")
def gb18918():
    from pipelines.config import discharge_standard

    return discharge_standard("gb18918-2002")


def frame(index, **cols):
    values = pd.DataFrame(cols, index=pd.DatetimeIndex(index), dtype=float)
    return values, values.notna()


# --------------------------------------------------------------------------- correction
def test_correction_by_hand():
    # 80 mg/m3 at 9 % O2 -> at 6 %: 80 x (21 - 6) / (21 - 9) = 80 x 15 / 12 = 100
    assert float(corrected_concentration(80.0, 9.0, 6.0)) == pytest.approx(100.0)
    # GB 13271 coal, 9 % reference: 300 at 12 % -> 300 x 12 / 9 = 400
    assert float(corrected_concentration(300.0, 12.0, 9.0)) == pytest.approx(400.0)
    # at the reference O2 nothing changes; below it the value goes down (3 % -> 6 %: 15/18)
    np.testing.assert_allclose(corrected_concentration([50.0, 36.0], [6.0, 3.0], 6.0), [50, 30])


def test_correction_is_nan_without_a_usable_o2():
    out = corrected_concentration(
        np.array([10.0, 10.0, 10.0, 10.0, np.nan]), np.array([np.nan, 21.0, 22.0, -1.0, 8.0]), 6.0
    )
    assert np.isnan(out).all()


def test_correction_keeps_a_series_index():
    idx = pd.date_range("2025-01-01", periods=2, freq="h", tz="UTC")
    out = corrected_concentration(pd.Series([80.0, 60.0], index=idx, name="so2"), [9.0, 11.0], 6.0)
    assert isinstance(out, pd.Series) and out.index.equals(idx) and out.name == "so2"
    np.testing.assert_allclose(out, [100.0, 90.0])  # 60 x 15 / 10


def test_high_o2_rule_is_an_explicit_option():
    # by default 20.6 % is corrected: 10 x 15 / 0.4 = 375
    assert float(corrected_concentration(10.0, 20.6, 6.0)) == pytest.approx(375.0)
    assert np.isnan(corrected_concentration(10.0, 20.6, 6.0, o2_max=20.5))
    assert float(
        corrected_concentration(10.0, 20.6, 6.0, o2_max=20.5, above_o2_max="uncorrected")
    ) == pytest.approx(10.0)
    # below o2_max the formula applies; 21 % stays NaN whatever the option
    assert float(corrected_concentration(10.0, 20.0, 6.0, o2_max=20.5)) == pytest.approx(150.0)
    assert np.isnan(
        corrected_concentration(10.0, 21.0, 6.0, o2_max=20.5, above_o2_max="uncorrected")
    )


@pytest.mark.parametrize("kwargs", [{"o2_ref": 21.0}, {"o2_ref": -1.0}, {"o2_max": 0.0}])
def test_correction_rejects_bad_parameters(kwargs):
    args = {"o2_ref": 6.0, **kwargs}
    with pytest.raises(ValueError):
        corrected_concentration(10.0, 8.0, args.pop("o2_ref"), **args)


# --------------------------------------------------------------------------- limits
def test_limit_for(gb18918, gb13223):
    assert gb13223.limit_for("coal_boiler_existing", "stack_so2") == 200
    assert gb13223.limit_for("coal_boiler_existing", "stack_co") is None
    assert gb18918.limit_for("1A", "effluent_ph") == (6.0, 9.0)
    nh3 = [gb18918.limit_for("1A", "effluent_nh3n", water_temperature=t) for t in (10, 12, 12.1)]
    assert nh3 == [8, 8, 5]  # the bracket value at <= 12 degC
    assert gb18918.limit_for("1A", "effluent_nh3n") == 5
    assert gb18918.limit_for("1A", "effluent_nh3n", water_temperature=float("nan")) == 5
    assert gb18918.limit_for("1A", "effluent_tp") == 0.5  # built from 2006
    assert gb18918.limit_for("1A_built_to_2005", "effluent_tp") == 1
    with pytest.raises(KeyError, match="coal_boiler_new"):
        gb13223.limit_for("coal_boiler", "stack_so2")


@pytest.mark.parametrize(
    "cfg",
    [
        {"max": -1},
        {"max": 0},
        {"range": [9, 6]},
        {"range": [6]},
        {"max": 5, "range": [6, 9]},
        {},
        {"max": 5, "cold_max": 8},
        {"max": 5, "cold_max": 4, "cold_at_or_below_degC": 12},
        {"range": [6, 9], "cold_max": 8, "cold_at_or_below_degC": 12},
        {"maximum": 5},
        "5",
    ],
)
def test_bad_limits_are_refused(cfg):
    with pytest.raises(ValueError):
        Limit.from_config(cfg)


# --------------------------------------------------------------------------- flue gas, hourly
def test_flue_gas_hourly_exceedance_by_hand(gb13223):
    idx = pd.date_range("2025-01-15 01:00", periods=4, freq="h")  # naive = UTC interval ends
    values, valid = frame(idx, stack_so2=[80.0, 88.0, 300.0, 500.0], stack_o2=[9.0, 9.0, 6.0, 9.0])
    valid.loc[idx[3], "stack_o2"] = False  # no valid O2 -> not assessable
    found = assess(gb13223, "coal_boiler_new", values, valid=valid, time_zone=TZ)
    # 80 at 9 % -> 100 = limit (complies); 88 -> 110; 300 at 6 % -> 300; hour 4 not assessed
    assert [(e.variable, e.value) for e in found] == [
        ("stack_so2", pytest.approx(110.0)),
        ("stack_so2", pytest.approx(300.0)),
    ]
    e = found[0]
    assert e.start == pd.Timestamp("2025-01-15 01:00", tz="UTC")
    assert e.end == pd.Timestamp("2025-01-15 02:00", tz="UTC")
    assert e.limit == 100 and e.ratio == pytest.approx(1.1) and e.limit_range is None
    assert e.units == "mg m-3" and e.reference_o2 == 6 and e.o2 == 9 and e.measured == 88
    assert e.n_valid == 1 and e.period == "hour" and e.source == "computed"
    assert e.basis == "hourly mean corrected to 6 % O2" and e.direction == "above"
    assert e.basis_zh == "小时均值,折算到基准氧含量 6 %"
    assert e.standard == "gb13223-2011" and e.class_id == "coal_boiler_new"
    json.dumps(e.to_dict())  # ready for an alert payload


def test_device_corrected_value_is_used_when_valid(gb13223):
    idx = pd.date_range("2025-01-15 01:00", periods=3, freq="h", tz="UTC")
    values, valid = frame(
        idx,
        stack_so2=[80.0, 80.0, 80.0],
        stack_o2=[9.0, 9.0, 9.0],
        stack_so2_corrected=[250.0, 250.0, np.nan],
    )
    valid.loc[idx[1], "stack_so2_corrected"] = False  # invalid device value -> compute
    h = hourly_series(gb13223, "coal_boiler_existing", values, valid=valid)["stack_so2"]
    assert list(h["value"]) == pytest.approx([250.0, 100.0, 100.0])
    assert list(h["source"]) == ["device", "computed", "computed"]
    assert np.isnan(h["correction_factor"].iloc[0])
    assert list(h["correction_factor"].iloc[1:]) == pytest.approx([1.25, 1.25])
    assert list(h["limit"]) == [200, 200, 200]
    found = assess(gb13223, "coal_boiler_existing", values, valid=valid, time_zone=TZ)
    assert len(found) == 1 and found[0].source == "device" and found[0].value == 250
    assert "device" in found[0].basis and "6 % O2" in found[0].basis
    # the device value can be ignored (a device correcting to another reference O2)
    assert not assess(
        gb13223,
        "coal_boiler_existing",
        values,
        valid=valid,
        time_zone=TZ,
        use_device_corrected=False,
    )


def test_invalid_hours_never_exceed(gb13223):
    idx = pd.date_range("2025-01-15 01:00", periods=2, freq="h")
    values, valid = frame(idx, stack_nox=[900.0, 900.0], stack_o2=[6.0, 6.0])
    valid.loc[idx[0], "stack_nox"] = False
    found = assess(gb13223, "coal_boiler_new", values, valid=valid, time_zone=TZ)
    assert [e.end for e in found] == [pd.Timestamp("2025-01-15 02:00", tz="UTC")]


def test_aware_index_is_converted_to_utc(gb13223):
    naive = pd.date_range("2025-01-15 01:00", periods=2, freq="h")
    local = naive.tz_localize("UTC").tz_convert(TZ)
    cols = {"stack_so2": [200.0, 50.0], "stack_o2": [6.0, 6.0]}
    v, ok = frame(naive, **cols)
    a = assess(gb13223, "coal_boiler_new", v, valid=ok, time_zone=TZ)
    v, ok = frame(local, **cols)
    b = assess(gb13223, "coal_boiler_new", v, valid=ok, time_zone=TZ)
    assert a == b and a[0].start == pd.Timestamp("2025-01-15 00:00", tz="UTC")


def test_high_o2_option_in_assess(gb13223):
    idx = pd.date_range("2025-01-15 01:00", periods=1, freq="h")
    values, valid = frame(idx, stack_dust=[10.0], stack_o2=[20.6])
    default = assess(gb13223, "coal_boiler_new", values, valid=valid, time_zone=TZ)
    assert default[0].value == pytest.approx(375.0) and default[0].o2 == 20.6
    assert not assess(gb13223, "coal_boiler_new", values, valid=valid, time_zone=TZ, o2_max=20.5)
    kept = compare(
        gb13223,
        "coal_boiler_new",
        values,
        valid=valid,
        time_zone=TZ,
        o2_max=20.5,
        above_o2_max="uncorrected",
    )["stack_dust"]
    assert kept["value"].iloc[0] == 10 and kept["source"].iloc[0] == "uncorrected"
    assert not kept["exceeds"].iloc[0]


def test_overrides_set_the_permit_limit(ultra_low):
    idx = pd.date_range("2025-01-15 01:00", periods=2, freq="h")
    # dust 6.4 at 7 % -> 6.4 x 15 / 14 = 6.857...; SO2 40 at 6 % -> 40 > 35
    values, valid = frame(idx, stack_dust=[6.4, 4.0], stack_so2=[40.0, 20.0], stack_o2=[7.0, 6.0])
    plain = assess(ultra_low, "coal_unit", values, valid=valid, time_zone=TZ)
    assert [e.variable for e in plain] == ["stack_so2"] and not plain[0].notes
    strict = assess(
        ultra_low,
        "coal_unit",
        values,
        valid=valid,
        time_zone=TZ,
        overrides={"stack_dust": 5, "stack_so2": None},
    )
    assert [e.variable for e in strict] == ["stack_dust"]
    assert strict[0].limit == 5 and strict[0].value == pytest.approx(6.4 * 15 / 14)
    assert strict[0].notes == ("limit set by the permit (override)",)
    with pytest.raises(ValueError, match="override of stack_dust"):
        assess(
            ultra_low, "coal_unit", values, valid=valid, time_zone=TZ, overrides={"stack_dust": -5}
        )


def test_class_without_reference_o2_is_not_corrected():
    std = DischargeStandard.from_config(
        {
            "name": "permit-x",
            "kind": "discharge",
            "title": "x",
            "medium": "air",
            "averaging": {"period": "hour"},
            "classes": {"plant": {"title": "p", "limits": {"stack_so2": {"max": 100}}}},
            "units": {"stack_so2": "mg m-3"},
        }
    )
    idx = pd.date_range("2025-01-15 01:00", periods=1, freq="h")
    values, valid = frame(idx, stack_so2=[120.0], stack_o2=[15.0])
    (e,) = assess(std, "plant", values, valid=valid, time_zone=TZ)
    assert e.value == 120 and e.source == "uncorrected" and e.reference_o2 is None
    assert "not corrected" in e.basis


def test_bad_frames_are_refused(gb13223):
    idx = pd.date_range("2025-01-15 01:00", periods=2, freq="h")
    values, valid = frame(idx, stack_so2=[1.0, 2.0], stack_o2=[6.0, 6.0])
    with pytest.raises(ValueError, match="same index and columns"):
        assess(gb13223, "coal_boiler_new", values, valid=valid[["stack_so2"]], time_zone=TZ)
    dup = values.iloc[[0, 0]]
    with pytest.raises(ValueError, match="duplicate"):
        assess(gb13223, "coal_boiler_new", dup, valid=dup.notna(), time_zone=TZ)
    with pytest.raises(ValueError, match="DatetimeIndex"):
        assess(
            gb13223,
            "coal_boiler_new",
            values.reset_index(drop=True),
            valid=valid.reset_index(drop=True),
            time_zone=TZ,
        )


# --------------------------------------------------------------------------- wastewater, daily
def local_day(day: str, n: int = 24) -> pd.DatetimeIndex:
    """Interval ends (UTC, naive) of the first ``n`` hours of a Shanghai day."""
    start = pd.Timestamp(day, tz=TZ).tz_convert("UTC").tz_localize(None)
    return pd.date_range(start + pd.Timedelta(hours=1), periods=n, freq="h")


def test_daily_mean_follows_the_local_day(gb18918):
    idx = local_day("2025-01-15")  # UTC 2025-01-14 17:00 .. 2025-01-15 16:00
    assert idx[0] == pd.Timestamp("2025-01-14 17:00") and idx[-1] == pd.Timestamp(
        "2025-01-15 16:00"
    )
    # the 8 hours before UTC midnight at 86, the 16 after at 35: local mean (688 + 560) / 24 = 52
    cod = [86.0] * 8 + [35.0] * 16
    values, valid = frame(idx, effluent_cod=cod)
    (e,) = assess(gb18918, "1A", values, valid=valid, time_zone=TZ)
    assert e.value == pytest.approx(52.0) and e.limit == 50 and e.ratio == pytest.approx(1.04)
    assert e.start == pd.Timestamp("2025-01-14 16:00", tz="UTC")
    assert e.end == pd.Timestamp("2025-01-15 16:00", tz="UTC")
    assert e.n_valid == 24 and e.period == "day" and e.units == "mg L-1"
    assert e.basis == "daily mean of 24 valid hours (2025-01-15, Asia/Shanghai)"
    assert e.reference_o2 is None and e.o2 is None
    # by UTC days: 8 hours at 86 (too few to assess), then 16 at 35 -- no exceedance
    table = compare(gb18918, "1A", values, valid=valid, time_zone="UTC")["effluent_cod"]
    assert len(table) == 2 and not table["exceeds"].any()
    assert list(table["n_valid"]) == [8, 16] and list(table["value"]) == [86, 35]


def test_hour_ending_at_local_midnight_belongs_to_the_day_before(gb18918):
    # the hour 23:00-24:00 local (ending 16:00 UTC) is the last hour of its day
    idx = local_day("2025-01-15", 25)
    values, valid = frame(idx, effluent_cod=[40.0] * 23 + [200.0, 40.0])
    table = compare(gb18918, "1A", values, valid=valid, time_zone=TZ)["effluent_cod"]
    assert list(table["n_valid"]) == [24, 1]
    assert table["value"].iloc[0] == pytest.approx((23 * 40 + 200) / 24)
    assert list(table["start"]) == [
        pd.Timestamp("2025-01-14 16:00", tz="UTC"),
        pd.Timestamp("2025-01-15 16:00", tz="UTC"),
    ]
    assert list(table["assessed"]) == [True, False]  # 1 valid hour < 12


def test_min_valid_hours_and_invalid_hours(gb18918):
    idx = local_day("2025-01-15")
    values, valid = frame(idx, effluent_cod=[70.0] * 24)
    valid.iloc[12:, 0] = False  # 12 valid hours: enough for GB 18918 (12)
    assert len(assess(gb18918, "1A", values, valid=valid, time_zone=TZ)) == 1
    valid.iloc[11, 0] = False  # 11: not assessed
    assert not assess(gb18918, "1A", values, valid=valid, time_zone=TZ)
    table = compare(gb18918, "1A", values, valid=valid, time_zone=TZ)["effluent_cod"]
    assert table["n_valid"].iloc[0] == 11 and not table["assessed"].iloc[0]
    # the caller may require fewer
    assert assess(gb18918, "1A", values, valid=valid, time_zone=TZ, min_valid_hours=6)
    # invalid hours are excluded from the mean: 20 valid at 40, 4 invalid at 500 -> 40
    values, valid = frame(idx, effluent_cod=[40.0] * 20 + [500.0] * 4)
    valid.iloc[20:, 0] = False
    table = compare(gb18918, "1A", values, valid=valid, time_zone=TZ)["effluent_cod"]
    assert table["value"].iloc[0] == 40 and table["n_valid"].iloc[0] == 20
    assert not table["exceeds"].iloc[0]
    # NaN values count as invalid even when flagged valid
    values.iloc[:10, 0] = np.nan
    table = compare(gb18918, "1A", values, valid=values.notna() | True, time_zone=TZ)[
        "effluent_cod"
    ]
    assert table["n_valid"].iloc[0] == 14


def test_cold_water_nh3n(gb18918):
    idx = local_day("2025-01-15")
    # NH3-N 6: above 5 (> 12 degC) but within 8 (<= 12 degC). Temperature 11 and 13 for
    # 12 hours each: day mean 12 -> cold-water limit
    values, valid = frame(
        idx, effluent_nh3n=[6.0] * 24, effluent_temperature=[11.0] * 12 + [13.0] * 12
    )
    assert not assess(gb18918, "1A", values, valid=valid, time_zone=TZ)
    table = compare(gb18918, "1A", values, valid=valid, time_zone=TZ)["effluent_nh3n"]
    assert table["limit"].iloc[0] == 8 and table["water_temperature"].iloc[0] == 12
    assert "cold-water" in table["limit_note"].iloc[0]
    values["effluent_temperature"] = 14.0
    (e,) = assess(gb18918, "1A", values, valid=valid, time_zone=TZ)
    assert e.limit == 5 and e.water_temperature == 14 and e.ratio == pytest.approx(1.2)
    assert e.notes == ("general limit (water temperature > 12 degC)",)


def test_missing_water_temperature_policy(gb18918):
    idx = local_day("2025-01-15")
    values, valid = frame(idx, effluent_nh3n=[6.0] * 24, effluent_temperature=[5.0] * 24)
    valid["effluent_temperature"] = False  # temperature not valid all day
    (e,) = assess(gb18918, "1A", values, valid=valid, time_zone=TZ)
    assert e.limit == 5 and e.water_temperature is None
    assert "water temperature missing" in e.notes[0] and "stricter" in e.notes[0]
    cold = assess(gb18918, "1A", values, valid=valid, time_zone=TZ, if_temperature_missing="cold")
    assert not cold
    table = compare(
        gb18918, "1A", values, valid=valid, time_zone=TZ, if_temperature_missing="skip"
    )["effluent_nh3n"]
    assert not table["assessed"].iloc[0] and np.isnan(table["limit"].iloc[0])
    with pytest.raises(ValueError, match="if_temperature_missing"):
        assess(gb18918, "1A", values, valid=valid, time_zone=TZ, if_temperature_missing="warm")


def test_bad_options_are_refused(gb13223, gb18918):
    idx = pd.date_range("2025-01-15 01:00", periods=1, freq="h")
    values, valid = frame(idx, stack_so2=[1.0], stack_o2=[6.0])
    for kwargs in ({"above_o2_max": "raw"}, {"o2_max": 25}, {"min_valid_hours": 2}):
        with pytest.raises(ValueError):
            assess(gb13223, "coal_boiler_new", values, valid=valid, time_zone=TZ, **kwargs)
    values, valid = frame(idx, effluent_cod=[1.0])
    with pytest.raises(ValueError, match="1..24"):
        assess(gb18918, "1A", values, valid=valid, time_zone=TZ, min_valid_hours=0)


def test_ph_range(gb18918):
    idx = local_day("2025-01-15", 72)
    ph = [5.7] * 12 + [5.9] * 12 + [9.0] * 24 + [9.1] * 24  # day means 5.8, 9.0, 9.1
    values, valid = frame(idx, effluent_ph=ph)
    found = assess(gb18918, "2", values, valid=valid, time_zone=TZ)
    assert [(e.direction, round(e.value, 6)) for e in found] == [("below", 5.8), ("above", 9.1)]
    assert all(e.limit_range == (6, 9) and e.limit is None and e.ratio is None for e in found)
    assert found[0].units == "1"


def test_hourly_series_for_charts(gb18918):
    idx = local_day("2025-01-15", 3)
    values, valid = frame(idx, effluent_cod=[10.0, 20.0, 30.0], effluent_temperature=[8, 8, 8])
    series = hourly_series(gb18918, "1B", values, valid=valid)
    assert set(series) == set(gb18918.classes["1B"].limits)  # every limited variable
    assert list(series["effluent_cod"]["value"]) == [10, 20, 30]
    assert list(series["effluent_cod"]["limit"]) == [60, 60, 60]
    assert list(series["effluent_nh3n"]["limit"]) == [15, 15, 15]  # cold at 8 degC
    assert series["effluent_tp"]["value"].isna().all()  # not reported
    assert list(series["effluent_ph"]["limit_low"]) == [6, 6, 6]


def test_daily_flue_gas_standard_mixes_sources():
    std = DischargeStandard.from_config(
        {
            "name": "daily-permit",
            "title": "x",
            "medium": "air",
            "averaging": {"period": "day", "min_valid_hours": 2},
            "classes": {
                "k": {"title": "k", "reference_o2": 6, "limits": {"stack_so2": {"max": 90}}}
            },
        }
    )
    idx = local_day("2025-01-15", 2)
    values, valid = frame(
        idx, stack_so2=[80.0, 80.0], stack_o2=[9.0, 9.0], stack_so2_corrected=[np.nan, 96.0]
    )
    (e,) = assess(std, "k", values, valid=valid, time_zone=TZ)
    assert e.value == pytest.approx(98.0) and e.source == "computed+device" and e.n_valid == 2
    assert e.basis == (
        "daily mean of 2 valid hours (2025-01-15, Asia/Shanghai) at 6 % O2 of values corrected "
        "here and the device's 折算 values (ZsAvg)"
    )
    assert e.basis_zh == (
        "2 个有效小时的日均值 (2025-01-15, Asia/Shanghai),基准氧含量 6 %,取本系统折算值和设备折算值 (ZsAvg)"
    )
    assert e.o2 == 9 and e.measured == 80
