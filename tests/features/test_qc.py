"""Every registered QC check on synthetic data; checks set flags and never touch values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.qc import CHECKS, FLAG_CODES, QC_BITS, QCContext, final_status, run_checks


def _ctx(n_st: int, n_t: int, registry, freq="1h", lat=None, lon=None, src=None) -> QCContext:
    times = pd.date_range("2016-01-01 01:00", periods=n_t, freq=freq)
    return QCContext(
        times=times,
        lat=np.array(lat if lat is not None else [39.9 + 0.01 * i for i in range(n_st)]),
        lon=np.array(lon if lon is not None else [116.4] * n_st),
        frequency=pd.Timedelta(freq),
        time_zone="Asia/Shanghai",
        time_label="interval_end",
        variables=registry["variables"],
        source_flags=src or {},
    )


def _bit(name):
    return QC_BITS[name][0]


def _smooth(n_st, n_t, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_t)
    return np.array(
        [60 + 30 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 3, n_t) for _ in range(n_st)]
    )


def test_registry_has_the_issue_checks():
    for name in [
        "gross_range",
        "sentinel",
        "spike_self",
        "spike_neighbour",
        "flat_line",
        "pm_inversion",
    ]:
        assert name in CHECKS


def test_gross_range_invalid_and_suspect(registry):
    x = np.array([[10.0, -1.0, 1500.0, 4000.0, np.nan]])
    r = CHECKS["gross_range"]({"pm25": x}, _ctx(1, 5, registry), {})
    b = r.bits["pm25"][0]
    assert b[0] == 0
    assert b[1] & _bit("range_invalid") and b[3] & _bit("range_invalid")  # negative; > 3000
    assert b[2] & _bit("range_suspect") and not b[2] & _bit("range_invalid")


def test_sentinel_with_per_variable_flag(registry):
    x = np.array([[999.0, 50.0, -9999.0]])
    params = {"values": [-9999], "per_variable": {"pm25": [{"value": 999, "flag": "T"}]}}
    r = CHECKS["sentinel"]({"pm25": x}, _ctx(1, 3, registry), params)
    assert (r.bits["pm25"][0] & _bit("sentinel")).astype(bool).tolist() == [True, False, True]
    assert r.sentinel_status["pm25"][0, 0] == FLAG_CODES["T"]
    assert r.sentinel_status["pm25"][0, 2] == FLAG_CODES["qc_invalid"]


def test_spike_self_flags_lone_peak_not_diurnal_cycle(registry):
    x = _smooth(1, 24 * 10)
    x[0, 200] += 400.0
    params = {"window": "7D", "min_periods": 24, "threshold": 8.0, "min_scale": {"pm25": 5}}
    r = CHECKS["spike_self"]({"pm25": x}, _ctx(1, x.shape[1], registry), params)
    flagged = np.flatnonzero(r.bits["pm25"][0])
    assert flagged.tolist() == [200]


def test_spike_neighbour_flags_the_odd_station(registry):
    x = _smooth(4, 24 * 10, seed=1)
    x[1] = x[0] + np.random.default_rng(2).normal(0, 2, x.shape[1])
    x[2] = x[0] + np.random.default_rng(3).normal(0, 2, x.shape[1])
    x[3] = x[0] + np.random.default_rng(4).normal(0, 2, x.shape[1])
    x[2, 150:153] += 150.0  # a local excursion only station 2 sees
    params = {
        "radius_km": 50,
        "min_neighbours": 2,
        "window": "30D",
        "min_periods": 48,
        "threshold": 8.0,
        "min_scale": {"pm25": 5},
    }
    r = CHECKS["spike_neighbour"]({"pm25": x}, _ctx(4, x.shape[1], registry), params)
    hits = np.argwhere(r.bits["pm25"] > 0)
    assert {tuple(h) for h in hits} == {(2, 150), (2, 151), (2, 152)}


def test_spike_neighbour_skips_isolated_station(registry):
    x = _smooth(2, 100)
    r = CHECKS["spike_neighbour"](
        {"pm25": x},
        _ctx(2, 100, registry, lat=[39.9, 45.0], lon=[116.4, 120.0]),
        {"radius_km": 50, "min_neighbours": 1},
    )
    assert not r.bits  # nobody has a neighbour within 50 km


def test_flat_line(registry):
    x = _smooth(1, 48)
    x[0, 10:20] = 42.0  # 10 identical hours
    r = CHECKS["flat_line"](
        {"pm25": x}, _ctx(1, 48, registry), {"defaults": {"duration": "8h", "tolerance": 0}}
    )
    # QARTOD semantics: flagged once the run has lasted 8 h (values at 18:00 and 19:00 of the run)
    assert np.flatnonzero(r.bits["pm25"][0]).tolist() == [18, 19]


def test_pm_inversion_is_suspect_but_valid(registry):
    pm25 = np.array([[50.0, 80.0]])
    pm10 = np.array([[70.0, 60.0]])
    data = {"pm25": pm25.copy(), "pm10": pm10.copy()}
    bits, status = run_checks(data, _ctx(1, 2, registry), {"pm_inversion": {"enabled": True}})
    assert bits["pm25"][0].tolist() == [0, _bit("pm_inversion")]
    assert status["pm25"][0, 1] == FLAG_CODES["qc_suspect"]  # suspect, still valid for statistics
    assert np.array_equal(data["pm25"], pm25) and np.array_equal(data["pm10"], pm10)  # untouched


def test_completeness_marks_short_days(registry):
    x = np.full((1, 48), 30.0)
    x[0, :5] = np.nan  # first local day has 19 valid hours
    ctx = _ctx(1, 48, registry)
    ctx.time_zone = "UTC"
    bits, _ = run_checks(
        {"pm25": x}, ctx, {"completeness": {"enabled": True, "min_fraction": 20 / 24}}
    )
    assert (bits["pm25"][0, :24] & _bit("incomplete_day")).all()
    assert not (bits["pm25"][0, 24:] & _bit("incomplete_day")).any()


def test_unknown_check_is_refused(registry):
    with pytest.raises(KeyError, match="unknown QC check"):
        run_checks({"pm25": np.zeros((1, 2))}, _ctx(1, 2, registry), {"no_such_check": {}})


def test_final_status_never_hides_instrument_flags():
    values = np.array([10.0, np.nan, 10.0, -5.0, np.nan])
    src = np.array(
        [FLAG_CODES["N"], FLAG_CODES["N"], FLAG_CODES["C"], FLAG_CODES["N"], FLAG_CODES["B"]],
        "int8",
    )
    bits = np.array([_bit("spike_self"), 0, _bit("spike_self"), _bit("range_invalid"), 0], "uint16")
    got = final_status(values, src, bits)
    assert got.tolist() == [
        FLAG_CODES["qc_suspect"],
        FLAG_CODES["missing"],
        FLAG_CODES["C"],
        FLAG_CODES["qc_invalid"],
        FLAG_CODES["B"],
    ]


def test_flat_line_matches_ioos_qc_value_for_value():
    from ioos_qc import qartod

    from features.qc.checks import flat_line_flags

    rng = np.random.default_rng(5)
    x = np.round(rng.normal(20, 1, (3, 400)), 0)  # integer-rounded -> many short flat runs
    x[1, 50:80] = 7.0
    x[2, 100:130] = np.nan
    t = pd.date_range("2016-01-01", periods=400, freq="h").values
    ours = flat_line_flags(x, 4, 0.5)
    for s in range(3):
        ref = np.asarray(
            qartod.flat_line_test(
                inp=x[s], tinp=t, suspect_threshold=4 * 3600, fail_threshold=4 * 3600, tolerance=0.5
            )
        )
        ref_hit = (ref == qartod.QartodFlags.SUSPECT) | (ref == qartod.QartodFlags.FAIL)
        np.testing.assert_array_equal(ours[s], ref_hit)
    assert ours.sum() > 10


def test_neighbour_median_matches_numpy_across_row_blocks():
    from features.qc.checks import _neighbour_median

    rng = np.random.default_rng(11)
    S, k, T = 23, 5, 40
    values = rng.gamma(2.0, 20.0, (S, T))
    values[rng.random((S, T)) < 0.3] = np.nan
    values[3] = np.nan  # a station that never reports
    idx = rng.integers(0, S, (S, k))
    idx[rng.random((S, k)) < 0.25] = S  # no neighbour in that slot
    med, count = _neighbour_median(values, idx, rows=4)  # blocks of 4 rows: 23 is not a multiple
    padded = np.vstack([values, np.full((1, T), np.nan)])
    gathered = padded[idx]
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):  # all-NaN slices
        want = np.nanmedian(gathered, axis=1)
    np.testing.assert_array_equal(med, want)
    np.testing.assert_array_equal(count, np.sum(~np.isnan(gathered), axis=1))
    assert np.isnan(med).any() and (count == 0).any() and (count >= 3).any()


def test_final_status_is_the_worst_of_source_and_failed_checks():
    from features.qc.flags import _SEVERITY

    rng = np.random.default_rng(3)
    n = 4000
    values = np.where(rng.random(n) < 0.2, np.nan, rng.random(n))
    src = rng.integers(0, len(FLAG_CODES), n).astype("int8")
    bits = rng.integers(0, 1 << len(QC_BITS), n).astype("uint16")
    sentinel = rng.choice([FLAG_CODES["T"], FLAG_CODES["qc_invalid"]], n).astype("int8")
    got = final_status(values, src, bits, sentinel)
    rank = {FLAG_CODES[name]: i for i, name in enumerate(_SEVERITY)}
    for i in range(n):  # the rule, value by value
        worst = int(src[i])
        for name, (bit, implied) in QC_BITS.items():
            if implied is None or not bits[i] & bit:
                continue
            code = int(sentinel[i]) if name == "sentinel" else FLAG_CODES[implied]
            if rank[code] > rank[worst]:
                worst = code
        if np.isnan(values[i]) and worst in (
            FLAG_CODES["N"],
            FLAG_CODES["S"],
            FLAG_CODES["qc_suspect"],
        ):
            worst = FLAG_CODES["missing"]
        assert got[i] == worst, i


def test_threads_do_not_change_the_result(registry):
    from dataclasses import replace

    from pipelines.config import load_qc

    rng = np.random.default_rng(8)
    S, T = 12, 24 * 12
    data = {v: _smooth(S, T, seed=i) for i, v in enumerate(["pm25", "pm10", "no2", "so2"])}
    for x in data.values():
        x[rng.random(x.shape) < 0.05] = np.nan
        x[rng.integers(0, S, 6), rng.integers(0, T, 6)] += 300.0  # spikes
        x[3, 100:120] = 42.0  # a flat run
    checks = load_qc(None)["checks"]
    ctx = _ctx(S, T, registry)
    one = run_checks(data, ctx, checks)
    three = run_checks(data, replace(ctx, threads=3), checks)
    for got, want in zip(three, one, strict=True):
        assert got.keys() == want.keys()
        for v in want:
            np.testing.assert_array_equal(got[v], want[v])
    flagged = {
        name for name, (bit, _) in QC_BITS.items() if any((b & bit).any() for b in one[0].values())
    }
    assert {"spike_self", "flat_line"} <= flagged


def test_gross_range_overrides_per_configuration_and_station_class(registry):
    co = np.array([[2.0, 12.0, 50.0], [2.0, 12.0, 50.0], [2.0, 12.0, 50.0]])  # mg m-3
    ctx = _ctx(3, 3, registry)
    plain = CHECKS["gross_range"]({"co": co}, ctx, {})
    assert not (plain.bits["co"] & _bit("range_invalid")).any()  # the registry allows 50
    params = {
        "ranges": {"co": {"suspect": [0, 10]}},  # valid inherited from the registry
        "station_classes": {"township": {"co": {"valid": [0, 30]}}},
    }
    ctx.station_class = np.array(["national", "township", None], dtype=object)
    r = CHECKS["gross_range"]({"co": co}, ctx, params).bits["co"]
    inv, sus = _bit("range_invalid"), _bit("range_suspect")
    assert [bool(b & sus) for b in r[0]] == [False, True, True]  # national: suspect above 10
    assert [bool(b & inv) for b in r[0]] == [False, False, False]
    assert [bool(b & inv) for b in r[1]] == [False, False, True]  # township: 50 is invalid
    assert [bool(b & sus) for b in r[1]] == [False, True, False]  # suspect from `ranges`
    np.testing.assert_array_equal(r[2], r[0])  # no class: the configuration's ranges
