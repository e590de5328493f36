"""Loaders of forecast, model, source and schedules files: validated, defaults from the schema."""

from __future__ import annotations

import shutil

import pytest

from pipelines.config import (
    bundled_networks,
    config_dir,
    forecast_config,
    model_configs,
    schedules_config,
    source_config,
)
from pipelines.errors import ConfigError


def test_network_overrides_replace_lists_and_keep_the_rest():
    base, water = forecast_config(), forecast_config("ndfa")
    assert base["leads"] == 96 and water["leads"] == 72
    assert "pm25" in base["targets"] and "pm25" not in water["targets"]
    assert water["quantiles"] == base["quantiles"] and water["mlflow"] == base["mlflow"]
    assert forecast_config("beijing") == base  # no override: the top level


def test_defaults_come_from_the_schema(tmp_path, monkeypatch):
    cfg = tmp_path / "configs"
    shutil.copytree(config_dir(), cfg)
    (cfg / "forecast.yml").write_text(
        "targets: [pm25]\nquantiles: [0.5]\nleads: 24\nmodels: [persistence]\n"
        "report_leads: [1, 24]\nrun:\n  ndfa: {water_drill: {start: '2019-06-02'}}\n"
    )
    (cfg / "models" / "persistence.yml").write_text("params: {}\n")
    monkeypatch.setenv("QINGYUAN_CONFIG", str(cfg))
    fc = forecast_config()
    assert fc["thresholds"]["daily_aqi"] == 200 and fc["max_data_age_hours"] == 6
    assert fc["champion"] == {
        "metric": "rmse",
        "leads": [24],  # the default [24, 48, 72] cut to the 24-h horizon
        "min_improvement": 0.01,
        "significance": 0.05,
    }
    assert fc["allow_fallback"] is False and fc["daily_days"] == [1, 2, 3]
    assert fc["drivers"] == "all"  # every station explained unless a deployment says otherwise
    assert fc["run"]["ndfa"]["water_drill"] == {
        "start": "2019-06-02",
        "end": "2262-01-01",
        "every_hours": 24,
    }
    assert fc["run_networks"] == ["ndfa"] == bundled_networks()  # default: the run: blocks
    m = model_configs(["persistence"])["persistence"]
    assert m == {
        "name": "persistence",
        "forecaster": "persistence",
        "register": False,
        "params": {},
        "expects": {},
    }


def test_shipped_values_keep_their_types():
    fc = forecast_config()
    assert fc["thresholds"]["pm25"] == 75 and isinstance(fc["thresholds"]["pm25"], int)
    assert str(fc["backtest"]["beijing"]["train_end"]) == "2016-02-29"
    assert fc["run_networks"] == ["beijing", "ndfa"]
    assert model_configs(["lightgbm"])["lightgbm"]["params"]["lgbm"]["n_estimators"] == 1000
    assert source_config()["run"]["beijing"]["cell_deg"] == 0.25
    assert source_config()["pmf_demo"]["bootstrap"] == 20
    deps = schedules_config()["deployments"]
    assert deps[0]["parameters"] == {"network": "beijing"} and "time_zone" not in deps[0]


def test_bad_override_names_the_merged_field(tmp_path, monkeypatch):
    cfg = tmp_path / "configs"
    shutil.copytree(config_dir(), cfg)
    text = (cfg / "forecast.yml").read_text(encoding="utf-8")
    (cfg / "forecast.yml").write_text(
        text.replace("    leads: 72", "    leads: -1"), encoding="utf-8"
    )
    monkeypatch.setenv("QINGYUAN_CONFIG", str(cfg))
    forecast_config()  # the top level is fine
    with pytest.raises(ConfigError) as err:
        forecast_config("ndfa")
    line = text.splitlines().index("    leads: 72") + 1
    assert err.value.field == "leads" and err.value.line == line


def test_unknown_model_file():
    with pytest.raises(ConfigError, match="no such model"):
        model_configs(["crystal_ball"])


def test_jobs_keeps_the_names():
    from pipelines.forecast import jobs

    assert jobs.forecast_config is forecast_config and jobs.model_configs is model_configs


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path):
    from pipelines.config.yaml_io import load_yaml
    from pipelines.errors import ConfigError

    p = tmp_path / "dup.yml"
    p.write_text("a: 1\nb:\n  c: 1\n  c: 2\n")
    with pytest.raises(ConfigError) as err:
        load_yaml(p)
    assert err.value.line == 4 and "'c' appears twice (first on line 3)" in str(err.value)
    merged = tmp_path / "merge.yml"  # a `<<` merge may be overridden: not a duplicate
    merged.write_text("base: &b {x: 1, y: 2}\nmine:\n  <<: *b\n  y: 3\n")
    assert load_yaml(merged)["mine"] == {"x": 1, "y": 3}


def test_codes_and_clock_times_without_quotes_stay_as_written(tmp_path):
    from pipelines.config import load_network
    from pipelines.config.yaml_io import load_yaml

    p = tmp_path / "yaml11.yml"
    p.write_text("code: 0501\nclock: 8:30\nsixty: 1:30.5\nplain: 12\nzero: 0\nhex: 0x1f\nf: 0.5\n")
    # YAML 1.1 would give octal 321, base-60 510 and 90.5
    assert load_yaml(p) == {
        "code": "0501", "clock": "8:30", "sixty": "1:30.5", "plain": 12, "zero": 0, "hex": 31,
        "f": 0.5,
    }  # fmt: skip
    net_path = tmp_path / "codes.yml"
    net_path.write_text(
        STATIONS_NET.split("stations_file:")[0]
        + "stations:\n  - {id: 0501, name: A, lat: 39.9, lon: 116.4}\n",
        encoding="utf-8",
    )
    assert [s.id for s in load_network(str(net_path)).stations] == ["0501"]


def test_a_bad_drivers_setting_names_file_line_and_field(tmp_path, monkeypatch):
    cfg = tmp_path / "configs"
    shutil.copytree(config_dir(), cfg)
    text = (cfg / "forecast.yml").read_text(encoding="utf-8")
    text = text.replace(
        "  ndfa:                         # water", "  ndfa:\n    drivers: some\n  # water", 1
    )
    (cfg / "forecast.yml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("QINGYUAN_CONFIG", str(cfg))
    assert forecast_config("beijing")["drivers"] == "all"
    with pytest.raises(ConfigError) as err:
        forecast_config("ndfa")
    assert "forecast.yml" in str(err.value) and "drivers" in str(err.value)


STATIONS_NET = """
name: sf
title: stations from a file
kind: air
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources:
  - adapter: column_table
    files: ["data/*.csv"]
    time_column: time
    station_column: site
    columns:
      pm25: {variable: pm25, units: ug m-3}
stations_file:
  path: stations.csv
  encoding: gbk
  columns: {id: 站点编码, name: 站点名称, lat: 纬度, lon: 经度, station_class: 类别}
"""


def test_stations_come_from_a_csv_with_its_own_column_names(tmp_path):
    from pipelines.config import load_network

    (tmp_path / "stations.csv").write_bytes(
        "站点编码,站点名称,纬度,经度,类别,备注\n"
        "1001A,万寿西宫,39.878,116.352,national,\n"
        "1002A,定陵,40.292,116.220,,郊区\n"
        "T01,某镇,39.5,116.1,township,\n".encode("gbk")
    )
    net_path = tmp_path / "sf.yml"
    net_path.write_text(STATIONS_NET, encoding="utf-8")
    net = load_network(str(net_path))
    assert [s.id for s in net.stations] == ["1001A", "1002A", "T01"]
    assert net.stations[0].name == "万寿西宫" and net.stations[0].lat == 39.878
    assert [s.station_class for s in net.stations] == ["national", None, "township"]


def test_a_bad_row_of_the_stations_file_names_its_file_line_and_column(tmp_path):
    from pipelines.config import load_network
    from pipelines.errors import ConfigError

    (tmp_path / "stations.csv").write_bytes(
        "站点编码,站点名称,纬度,经度,类别\n1001A,万寿西宫,39.878,116.352,\n1002A,定陵,北纬40,116.2,\n".encode(
            "gbk"
        )
    )
    net_path = tmp_path / "sf.yml"
    net_path.write_text(STATIONS_NET, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_network(str(net_path))
    assert str(err.value).startswith(f"{tmp_path / 'stations.csv'}:3: field '纬度'")
    # a mapped column the file lacks: the YAML's line of that mapping
    net_path.write_text(STATIONS_NET.replace("类别}", "等级}"), encoding="utf-8")
    with pytest.raises(ConfigError, match="no column '等级' in stations.csv") as err:
        load_network(str(net_path))
    line = (
        STATIONS_NET.splitlines().index(
            "  columns: {id: 站点编码, name: 站点名称, lat: 纬度, lon: 经度, station_class: 类别}"
        )
        + 1
    )
    assert f"sf.yml:{line}" in str(err.value)


def test_champion_leads_beyond_the_horizon_are_refused(tmp_path, monkeypatch):
    cfg = tmp_path / "configs"
    shutil.copytree(config_dir(), cfg)
    (cfg / "forecast.yml").write_text(
        "targets: [pm25]\nquantiles: [0.5]\nleads: 24\nmodels: [persistence]\n"
        "report_leads: [1, 24]\nchampion: {leads: [24, 48]}\n"
    )
    monkeypatch.setenv("QINGYUAN_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match=r"champion.leads must lie in 1..leads \(24\)"):
        forecast_config()


def test_an_alias_bomb_is_refused_and_anchors_still_work(tmp_path):
    from pipelines.config.yaml_io import load_yaml

    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for k in range(1, 9):  # 9^9 = 387 million strings once expanded, 600 bytes on disk
        lines.append(f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * 9) + "]")
    bomb = tmp_path / "bomb.yml"
    bomb.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bomb.yml:1: aliases expand to more than 1,000,000"):
        load_yaml(bomb)
    ok = tmp_path / "ok.yml"  # the usual use of anchors: shared defaults merged into entries
    ok.write_text(
        "base: &base {unit: ug/m3, lo: 0}\nvars:\n  pm25: {<<: *base, hi: 1000}\n", encoding="utf-8"
    )
    assert load_yaml(ok)["vars"]["pm25"] == {"unit": "ug/m3", "lo": 0, "hi": 1000}
