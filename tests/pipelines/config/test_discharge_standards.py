"""Discharge-limit standards (``kind: discharge``): the shipped files load, bad ones are refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from features.discharge import DischargeStandard
from pipelines.config import (
    AqiStandardSpec,
    DischargeStandardSpec,
    WaterStandardSpec,
    config_dir,
    discharge_standard,
    discharge_standards,
    load_standard_file,
    load_variables,
    standard_files,
)
from pipelines.errors import ConfigError

SHIPPED = config_dir()
FILES = {
    "gb13223-2011": "gb13223_2011.yml",
    "ultra-low-coal-2015": "ultra_low_coal_2015.yml",
    "gb13271-2014": "gb13271_2014.yml",
    "gb18918-2002": "gb18918_2002.yml",
    "gb8978-1996": "gb8978_1996.yml",
}


def test_every_discharge_file_loads():
    stds = discharge_standards()
    assert set(stds) == set(FILES)
    variables = load_variables()["variables"]
    for name, std in stds.items():
        assert isinstance(std, DischargeStandard) and std.name == name
        assert standard_files()[name].name == FILES[name]
        assert isinstance(
            load_standard_file(SHIPPED / "standards" / FILES[name]), DischargeStandardSpec
        )
        for cls in std.classes.values():
            assert cls.limits and cls.title
            for var in cls.limits:
                assert variables[var]["kind"] == "source"
                assert std.units[var] == variables[var]["units"]
            if std.medium == "air":
                assert std.period == "hour" and cls.reference_o2 is not None
                assert all(v.startswith("stack_") for v in cls.limits)
            else:
                assert std.period == "day" and cls.reference_o2 is None
                assert all(v.startswith("effluent_") for v in cls.limits)
                assert cls.limits["effluent_ph"].range == (6, 9)


def test_other_standards_are_unchanged():
    assert isinstance(load_standard_file(SHIPPED / "standards" / "hj633_2012.yml"), AqiStandardSpec)
    assert isinstance(
        load_standard_file(SHIPPED / "standards" / "gb3838_2002.yml"), WaterStandardSpec
    )
    with pytest.raises(ConfigError, match="not a discharge standard"):
        discharge_standard("gb3838-2002")
    with pytest.raises(ConfigError, match="no standard"):
        discharge_standard("gb0000")


def test_values_from_the_reference():
    g = discharge_standard("gb13223-2011")
    assert g.classes["coal_boiler_new"].reference_o2 == 6
    assert g.limit_for("coal_boiler_new", "stack_so2") == 100
    assert g.limit_for("coal_boiler_existing", "stack_so2") == 200
    assert [
        g.limit_for("coal_boiler_special", v) for v in ("stack_dust", "stack_so2", "stack_nox")
    ] == [
        20,
        50,
        100,
    ]
    assert g.classes["gas_turbine_natural_gas"].reference_o2 == 15
    assert g.limit_for("gas_turbine_natural_gas", "stack_nox") == 50
    u = discharge_standard("ultra-low-coal-2015")
    assert {v: lim.max for v, lim in u.classes["coal_unit"].limits.items()} == {
        "stack_dust": 10,
        "stack_so2": 35,
        "stack_nox": 50,
    }
    b = discharge_standard("gb13271-2014")
    assert b.classes["coal_in_use"].reference_o2 == 9 and b.classes["gas_new"].reference_o2 == 3.5
    assert b.limit_for("coal_in_use_southwest", "stack_so2") == 550
    assert b.limit_for("gas_special", "stack_nox") == 150
    w = discharge_standard("gb18918-2002")
    assert w.min_valid_hours == 12 and set(w.classes) == {
        "1A",
        "1B",
        "2",
        "3",
        "1A_built_to_2005",
        "1B_built_to_2005",
        "2_built_to_2005",
        "3_built_to_2005",
    }
    nh3 = w.classes["1B"].limits["effluent_nh3n"]
    assert (nh3.max, nh3.cold_max, nh3.cold_at_or_below_degC) == (8, 15, 12)
    assert w.limit_for("1B_built_to_2005", "effluent_tp") == 1.5
    assert "effluent_tn" not in w.classes["2"].limits
    z = discharge_standard("gb8978-1996")
    assert [z.limit_for(f"grade_{g}", "effluent_cod") for g in ("I", "II", "III")] == [
        100,
        150,
        500,
    ]
    assert z.limit_for("grade_III", "effluent_nh3n") is None


def test_unconfirmed_values_are_marked():
    text = (SHIPPED / "standards" / "gb13223_2011.yml").read_text(encoding="utf-8")
    hg = [ln for ln in text.splitlines() if "stack_hg" in ln]
    assert hg and all("(unconfirmed)" in ln for ln in hg)
    o2 = [ln for ln in text.splitlines() if "reference_o2:" in ln]
    assert o2 and all("(unconfirmed)" in ln for ln in o2)
    text = (SHIPPED / "standards" / "gb13271_2014.yml").read_text(encoding="utf-8")
    assert all("(unconfirmed" in ln for ln in text.splitlines() if "reference_o2:" in ln)


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch) -> Path:
    dst = tmp_path / "configs"
    (dst / "standards").mkdir(parents=True)
    shutil.copy(SHIPPED / "variables.yml", dst / "variables.yml")
    for p in (SHIPPED / "standards").glob("*.yml"):
        shutil.copy(p, dst / "standards" / p.name)
    monkeypatch.setenv("QINGYUAN_CONFIG", str(dst))
    return dst


# file, text replaced, replacement, field named, words of the message
BAD = [
    (
        "gb13223_2011.yml",
        "      stack_so2: {max: 200}   # taodocs + ytjhdl\n",
        "      stack_sox: {max: 200}\n",
        "classes.coal_boiler_existing.limits.stack_sox",
        "unknown variable 'stack_sox'",
    ),
    (
        "gb13223_2011.yml",
        "      stack_so2: {max: 200}   # taodocs + ytjhdl\n",
        "      stack_so2: {max: -200}\n",
        "classes.coal_boiler_existing.limits.stack_so2.max",
        "greater than 0",
    ),
    (
        "gb18918_2002.yml",
        "      effluent_ph: {range: [6, 9]}\n  1B:",
        "      effluent_ph: {range: [9, 6]}\n  1B:",
        "classes.1A.limits.effluent_ph",
        "low <= high",
    ),
    (
        "gb18918_2002.yml",
        "    title: 一级 A 标准 (2006-01-01 起建设)\n",
        "    title: 一级 A 标准 (2006-01-01 起建设)\n    reference_o2: 6\n",
        "classes.1A.reference_o2",
        "no reference O2",
    ),
    (
        "gb18918_2002.yml",
        "      effluent_nh3n: {max: 5, cold_max: 8, cold_at_or_below_degC: 12}\n      effluent_tp: {max: 0.5}",
        "      effluent_nh3n: {max: 5, cold_max: 4, cold_at_or_below_degC: 12}\n      effluent_tp: {max: 0.5}",
        "classes.1A.limits.effluent_nh3n",
        "not below max",
    ),
    (
        "gb8978_1996.yml",
        "      effluent_cod: {max: 100}       # F8978 表4; 360docs\n",
        "      effluent_cod: {max: 100, range: [0, 100]}\n",
        "classes.grade_I.limits.effluent_cod",
        "exactly one of max / range",
    ),
    (
        "gb18918_2002.yml",
        "  min_valid_hours: 12\n",
        "  min_valid_hour: 12\n",
        "averaging.min_valid_hour",
        "unknown field",
    ),
    (
        "gb8978_1996.yml",
        "      effluent_cod: {max: 150}\n",
        "      effluent_temperature: {max: 35}\n",
        "classes.grade_II.limits.effluent_temperature",
        "'degC'",
    ),
    (
        "ultra_low_coal_2015.yml",
        "    reference_o2: 6  # UL: 在基准氧含量6%条件下\n",
        "",
        "classes.coal_unit.reference_o2",
        "needs reference_o2",
    ),
    (
        "ultra_low_coal_2015.yml",
        "      stack_so2: {max: 35}    # UL (same two)\n",
        "      stack_so2: {max: 35, cold_max: 40, cold_at_or_below_degC: 12}\n",
        "classes.coal_unit.limits.stack_so2.cold_max",
        "wastewater",
    ),
    (
        "ultra_low_coal_2015.yml",
        "      stack_so2: {max: 35}    # UL (same two)\n",
        "      stack_so2_corrected: {max: 35}\n",
        "classes.coal_unit.limits.stack_so2_corrected",
        "measured variable ('stack_so2')",
    ),
    (
        "ultra_low_coal_2015.yml",
        "      stack_so2: {max: 35}    # UL (same two)\n",
        "      stack_o2: {max: 35}\n",
        "classes.coal_unit.limits.stack_o2",
        "'%'",
    ),
    (
        "ultra_low_coal_2015.yml",
        "    reference_o2: 6  # UL: 在基准氧含量6%条件下\n",
        "    reference_o2: 21\n",
        "classes.coal_unit.reference_o2",
        "less than 21",
    ),
    (
        "ultra_low_coal_2015.yml",
        "averaging: {period: hour}\n",
        "averaging: {period: hour, min_valid_hours: 20}\n",
        "averaging",
        "daily means",
    ),
    (
        "ultra_low_coal_2015.yml",
        "kind: discharge\n",
        "kind: dischage\n",
        "kind",
        "unknown kind 'dischage'",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "field", "words"), BAD)
def test_bad_file_names_file_line_and_field(cfg, name, old, new, field, words):
    path = cfg / "standards" / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    if new:
        needle = (
            new.splitlines()[1] if "reference_o2" in new and "title" in new else new.splitlines()[0]
        )
        line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln == needle)
    else:  # a removed key: the error points at its mapping (the class)
        line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln == "  coal_unit:")
    with pytest.raises(ConfigError) as exc:
        load_standard_file(path)
    err = exc.value
    assert (err.file, err.line, err.field) == (str(path), line, field), str(err)
    assert words in err.reason, err.reason
    # the loader by name reports the same
    std_name = next(k for k, v in FILES.items() if v == name)
    if field != "kind":
        with pytest.raises(ConfigError) as exc:
            discharge_standard(std_name)
        assert (exc.value.line, exc.value.field) == (line, field)


def test_variables_come_from_the_same_configuration(cfg):
    # a variable removed from the configuration's variables.yml makes its limits unknown
    path = cfg / "variables.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  stack_hg:\n", "  stack_mercury:\n"), encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown variable 'stack_hg'") as exc:
        load_standard_file(cfg / "standards" / "gb13271_2014.yml")
    assert exc.value.field == "classes.coal_in_use.limits.stack_hg"
