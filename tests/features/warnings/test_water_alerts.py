"""Water alert decisions from observed series: class below target, DO thresholds, lifting."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from features.warnings.rules import next_transition
from features.warnings.water import WaterRules, decide_water
from pipelines.config import water_standard
from pipelines.config.warnings import load_warning_config
from pipelines.warnings.water import water_rules


@pytest.fixture(scope="module")
def setup(registry):
    scheme, _ = load_warning_config("ndfa")
    return scheme, water_rules(scheme, registry["variables"]), water_standard()


def series(do: np.ndarray, start: str = "2019-08-01", ph: float = 7.5):
    times = pd.date_range(start, periods=len(do), freq="15min")
    return times, {"dissolved_oxygen": np.asarray(do, float), "ph": np.full(len(do), ph)}


def decide(setup, do, target="III", as_of=None):
    scheme, rules, std = setup
    times, values = series(do)
    as_of = as_of if as_of is not None else times[-1]
    units = {"dissolved_oxygen": "mg L-1"}
    return decide_water(scheme, rules, std, "river", as_of, {"S": (times, values)}, target, units)


def test_clean_water_gives_no_level_and_counts_clear_hours(setup):
    d = decide(setup, np.full(4 * 96, 7.0))
    assert d.level is None
    assert d.clear_hours >= 72  # nothing held over the whole look-back
    assert d.details["stations"]["S"]["class"] == "II"  # DO 7.0: class II (>= 6, < 7.5)


def test_class_below_target_is_yellow_with_the_determining_parameter(setup):
    d = decide(setup, np.full(4 * 48, 4.0))  # DO 4 mg/L over 24 h: class IV, target III
    assert d.level == "yellow"
    assert d.primary_pollutant == "dissolved_oxygen"
    assert d.details["observed_class"] == "IV"
    assert d.details["observed"] == {"dissolved_oxygen": 4.0}
    assert d.probability == 1.0  # observed, not forecast
    # the same readings meet a class IV target: no alert
    assert decide(setup, np.full(4 * 48, 4.0), target="IV").level is None


def test_do_breach_needs_consecutive_readings_and_gaps_do_not_reset_it(setup):
    do = np.full(4 * 48, 6.5)
    do[-3:] = 2.5  # three readings below 3 mg/L: not yet (the rule wants four)
    assert decide(setup, do).level is None
    do[-4] = 2.6
    d = decide(setup, do)
    assert d.level == "orange"
    times, _ = series(do)
    assert d.start == times[-4]  # onset at the first reading of the breach
    assert d.end == times[-1] + pd.Timedelta(hours=24)  # valid for review_hours
    gap = do.copy()
    gap[-2] = np.nan  # a missing reading inside the run does not end the breach
    gap[-5] = 2.7
    assert decide(setup, gap).level == "orange"


def test_severe_hypoxia_is_red_and_outranks_the_class_condition(setup):
    do = np.full(4 * 48, 4.0)
    do[-8:] = 1.5  # two hours below 2 mg/L
    d = decide(setup, do)
    assert d.level == "red"
    assert "dissolved_oxygen < 2 mg L-1" in " ".join(d.reasons)


def test_recovery_holds_then_lifts_after_the_clear_period(setup):
    scheme, _, _ = setup
    do = np.concatenate([np.full(4 * 24, 7.0), np.full(8, 2.5), np.full(4 * 12, 7.0)])
    times, _ = series(do)
    d = decide(setup, do)
    assert d.level is None and 11 < d.clear_hours < 13
    t = next_transition(scheme, "orange", times[0], times[-1], d, times[-1])
    assert t.action == "hold"
    do = np.concatenate([do, np.full(4 * 14, 7.0)])
    d = decide(setup, do)
    assert d.clear_hours > 24
    times, _ = series(do)
    t = next_transition(scheme, "orange", times[0], times[-1], d, times[-1])
    assert t.action == "lift" and "no alert condition observed" in t.why


def test_no_valid_data_is_not_clear(setup):
    d = decide(setup, np.full(4 * 48, np.nan))
    assert d.level is None and d.clear_hours == 0.0
    assert "unknown is not clear" in " ".join(d.reasons)


def test_thresholds_are_converted_to_store_units(registry):
    scheme, _ = load_warning_config("ndfa")
    cfg = {
        **scheme.water,
        "thresholds": [
            {
                "variable": "dissolved_oxygen",
                "below": 3000.0,
                "units": "ug L-1",
                "readings": 1,
                "level": "orange",
            }
        ],
    }
    scheme = dataclasses.replace(scheme, water=cfg)
    rules = water_rules(scheme, registry["variables"])
    assert rules.thresholds[0].value == pytest.approx(3.0)
    assert rules.thresholds[0].units == "mg L-1"
    assert isinstance(WaterRules.from_config(cfg), WaterRules)


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        (
            "variable: dissolved_oxygen, below: 3.0",
            "variable: disolved_oxygen, below: 3.0",
            "water.thresholds.0.variable",
            "unknown variable",
        ),
        ("units: mg L-1, readings: 4", "units: degC, readings: 4", "water.thresholds.0.units", ""),
        (
            "readings: 8, level: red",
            "readings: 8, level: purple",
            "water.thresholds.1.level",
            "not a level",
        ),
        ("stations: [RMB]}", "stations: [RMB], target_class: VI}", "areas.0.target_class", ""),
    ],
)
def test_malformed_water_file_is_refused_with_file_and_field(
    tmp_path, monkeypatch, old, new, field, words
):
    import shutil

    from pipelines.errors import ConfigError
    from qingyuan.paths import config_dir

    cfg = tmp_path / "configs"
    shutil.copytree(config_dir(), cfg)
    path = cfg / "warnings" / "ndfa.yml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    monkeypatch.setenv("QINGYUAN_CONFIG", str(cfg))
    with pytest.raises(ConfigError) as exc:
        load_warning_config("ndfa")
    msg = str(exc.value)
    assert "ndfa.yml" in msg and field in msg and words in msg


def test_area_target_comes_from_the_river_file_unless_overridden():
    from pipelines.config import load_network
    from pipelines.config.warnings import AreaSpec
    from pipelines.warnings.water import area_target, section_targets

    net = load_network("ndfa")
    targets = section_targets("ndfa")
    assert targets["RVB"] == "II" and targets["RCS"] == "III"
    assert area_target(AreaSpec(id="x", stations=["RCS", "RVB"]), net, targets) == "II"  # strictest
    assert area_target(AreaSpec(id="x", stations=["RCS"], target_class="IV"), net, targets) == "IV"
    assert area_target(AreaSpec(id="x", stations=["RCS"]), net, {}) is None


def test_water_reasons_are_said_in_chinese_too(setup):
    do = np.full(4 * 48, 4.0)
    do[-8:] = 1.5
    d = decide(setup, do)
    assert len(d.reasons_zh) == len(d.reasons) > 0
    assert any("dissolved_oxygen < 2 mg L-1" in r and "连续" in r for r in d.reasons_zh)
    st = next(iter(d.details["stations"].values()))
    assert len(st["findings_zh"]) == len(st["findings"])
    blind = decide(setup, np.full(4 * 48, np.nan))
    assert "未知不等于达标" in " ".join(blind.reasons_zh)
