"""The file adapters without tests of their own: PRSA CSV and NDFA sonde files, the registry."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
from qy_helpers import write_network

from pipelines.config import load_network
from pipelines.sources import ADAPTERS, register_adapter

PRSA = """
name: prsa
title: PRSA layout
kind: air
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources:
  - adapter: prsa_csv
    files: ["{files}"]
    missing_values: ["NA", ""]
    station_column: station
    columns:
      PM2.5: {{variable: pm25, units: ug m-3}}
      wd: {{variable: wind_from_direction, units: degree, value_map: compass16}}
stations:
  - {{id: Dongsi, name: Dongsi, lat: 39.93, lon: 116.42}}
"""

SONDE = """
name: sonde
title: NDFA sonde layout
kind: water
time_zone: Etc/GMT+8
time_label: instant
frequency: 15min
waterbody: river
sources:
  - adapter: ndfa_sonde
    files: ["{files}"]
    encoding: latin-1
    strip_chars: "\\u00a0"
    thousands: ","
    station_from_filename: "NDFA_2019_continuous_(?P<station>[A-Z0-9]+)\\\\.csv"
    time_column: Date
    time_format: "%m/%d/%Y %H:%M"
    columns:
      Flow: {{variable: river_discharge, units: ft3 s-1}}
      DO: {{variable: dissolved_oxygen, units: mg L-1}}
stations:
  - {{id: LIB, name: Liberty Island, lat: 38.24, lon: -121.68}}
"""


def test_prsa_csv_reads_time_parts_station_and_missing_values(tmp_path):
    csv = tmp_path / "PRSA_Data_Dongsi.csv"
    csv.write_text(
        '"No","year","month","day","hour","PM2.5","wd","station"\n'
        '1,2013,3,1,0,9,"NNW","Dongsi"\n'
        '2,2013,3,1,1,NA,"NW","Dongsi"\n',
        encoding="utf-8",
    )
    net = load_network(str(write_network(tmp_path, PRSA.format(files=csv), "prsa")))
    batch = ADAPTERS["prsa_csv"].read(net.sources[0], net)
    f = batch.frame
    assert len(f) == 2 and set(f["station"]) == {"Dongsi"}
    assert list(f["time"].astype(str)) == ["2013-03-01 00:00:00", "2013-03-01 01:00:00"]
    assert float(f["pm25"].iloc[0]) == 9.0 and np.isnan(float(f["pm25"].iloc[1]))
    assert "No" not in f.columns


def test_a_named_value_map_takes_its_words_in_any_case(tmp_path):
    # the 2010-2014 Beijing PRSA file writes calm/variable as "cv" and sometimes points in lower case
    csv = tmp_path / "PRSA_Data_Dongsi.csv"
    rows = ["cv", "CV", "ne", "NE", "nne", "XX"]
    csv.write_text(
        '"No","year","month","day","hour","PM2.5","wd","station"\n'
        + "".join(f'{i},2013,3,1,{i},9,"{wd}","Dongsi"\n' for i, wd in enumerate(rows)),
        encoding="utf-8",
    )
    net = load_network(str(write_network(tmp_path, PRSA.format(files=csv), "prsa")))
    batch = ADAPTERS["prsa_csv"].read(net.sources[0], net)
    wd = batch.frame.sort_values("time")["wind_from_direction"].to_numpy()
    assert np.isnan(wd[:2]).all()  # calm: a value with no direction, not a refusal
    np.testing.assert_array_equal(wd[2:5], [45.0, 45.0, 22.5])
    assert len(batch.frame) == 5  # "XX" is still refused: not a compass point
    assert len(batch.quarantine) == 1


def test_ndfa_sonde_strips_nbsp_and_thousands_and_takes_the_station_from_the_file(tmp_path):
    csv = tmp_path / "NDFA_2019_continuous_LIB.csv"
    nb = "\u00a0\u00a0"
    csv.write_bytes(
        (
            "Date,Flow,DO\n"
            f'7/1/2019 0:00,"-11,000{nb}",7.8{nb}\n'
            f'7/1/2019 0:15,"-11,400{nb}",7.9{nb}\n'
        ).encode("latin-1")
    )
    net = load_network(str(write_network(tmp_path, SONDE.format(files=csv), "sonde")))
    batch = ADAPTERS["ndfa_sonde"].read(net.sources[0], net)
    f = batch.frame
    assert set(f["station"]) == {"LIB"}
    assert [float(v) for v in f["river_discharge"]] == [-11000.0, -11400.0]
    assert [float(v) for v in f["dissolved_oxygen"]] == [7.8, 7.9]


def test_register_adapter_needs_read_and_validate_options():
    with pytest.raises(TypeError, match="read"):
        register_adapter("broken", types.ModuleType("broken"))
    mod = types.ModuleType("ok")
    mod.read = lambda source, network: None
    mod.validate_options = lambda source, path, node: None
    try:
        register_adapter("ok_test", mod)
        assert ADAPTERS["ok_test"] is mod
    finally:
        ADAPTERS.pop("ok_test", None)


WIDE = """
name: wide
title: one column per station
kind: air
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources:
  - adapter: column_table
    files: ["{files}"]
    time_column: 时间
    station_columns: {{东四: "1001A", 天坛: "1002A"}}
    columns:
      value: {{variable: pm25, units: ug m-3}}
      TEMP: {{variable: air_temperature, units: degC}}
stations:
  - {{id: "1001A", name: 东四, lat: 39.93, lon: 116.42}}
  - {{id: "1002A", name: 天坛, lat: 39.89, lon: 116.41}}
"""


def test_a_wide_table_is_read_one_row_per_station_and_time(tmp_path):
    from pipelines.ingest import ingest

    csv = tmp_path / "pm25_wide.csv"
    csv.write_text(
        "时间,东四,天坛,TEMP\n"
        "2016-01-01 01:00,41,38,-3.5\n"
        "2016-01-01 02:00,45,,-3.9\n"  # 天坛 missing this hour
        "2016-01-01 03:00,abc,40,-4.1\n",  # a bad value at 东四 only
        encoding="utf-8",
    )
    net_path = write_network(tmp_path, WIDE.format(files=csv), "wide")
    net = load_network(str(net_path))
    batch = ADAPTERS["column_table"].read(net.sources[0], net)
    f = batch.frame.sort_values(["station", "time"])
    assert batch.rows_in == 6 and len(f) == 5 and len(batch.quarantine) == 1
    assert batch.quarantine[0].line == 4 and batch.quarantine[0].field == "value"
    assert f[f["station"] == "1001A"]["pm25"].tolist() == [41.0, 45.0]
    assert f[f["station"] == "1002A"]["air_temperature"].tolist() == [-3.5, -3.9, -4.1]
    rep = ingest(str(net_path), tmp_path / "store", now=pd.Timestamp("2016-06-01", tz="UTC"))
    assert rep.balanced and rep.rows_in == 6 and rep.rows_quarantined == 1


def test_a_wide_table_needs_its_value_entry(tmp_path):
    from pipelines.errors import ConfigError

    text = WIDE.replace("      value: {{variable: pm25, units: ug m-3}}\n", "")
    with pytest.raises(ConfigError, match=r"sources.columns.value"):
        load_network(str(write_network(tmp_path, text.format(files="x.csv"), "wide")))
