"""The file adapters without tests of their own: PRSA CSV and NDFA sonde files, the registry."""

from __future__ import annotations

import types

import numpy as np
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
