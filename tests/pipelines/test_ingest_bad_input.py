"""Bad input: every row is stored or quarantined with file, line, field and reason."""

from __future__ import annotations

import lzma

import numpy as np
import pandas as pd
import pytest
from qy_helpers import GENERIC_NETWORK, hourly_csv, write_network

from pipelines.config import load_network
from pipelines.ingest import ingest
from pipelines.store import StationStore

NOW = pd.Timestamp("2016-06-01", tz="UTC")


def _network(tmp_path, files="data/*.csv", name="t1"):
    return write_network(tmp_path, GENERIC_NETWORK.format(name=name, files=files), name)


def _ingest(tmp_path, net_path):
    return ingest(str(net_path), tmp_path / "store", now=NOW)


def _reasons(report):
    import csv

    if not report.quarantine_file:
        return []
    with open(report.quarantine_file, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_clean_file_all_rows_stored(tmp_path):
    (tmp_path / "data").mkdir()
    hourly_csv(tmp_path / "data" / "a.csv", hours=48)
    rep = _ingest(tmp_path, _network(tmp_path))
    assert (
        rep.rows_in == 144 and rep.rows_stored == 144 and rep.rows_quarantined == 0 and rep.balanced
    )


def test_messy_file_rows_accounted_and_named(tmp_path):
    (tmp_path / "data").mkdir()
    good = hourly_csv(tmp_path / "data" / "a.csv", hours=24).read_text().splitlines()
    lines = (
        good[:1]
        + good[1:6]
        + [
            "2016-01-01 07:00,A,12.0,20.0",  # line 7: truncated row
            "2016-01-01 08:00,A,abc,20.0,0.5",  # line 8: non-numeric PM2.5
            "2016-01-01 09:00,Z,10.0,20.0,0.5",  # line 9: unknown station
            "2030-01-01 09:00,A,10.0,20.0,0.5",  # line 10: future timestamp
            "2016-13-45 09:00,A,10.0,20.0,0.5",  # line 11: impossible time
            "2016-01-01 10:00,A,-5.0,20.0,0.5",  # line 12: negative concentration (stored, flagged)
            "2016-01-01 10:00,A,-5.0,20.0,0.5",  # line 13: identical duplicate of 12
            "2016-01-01 11:00,A,30.0,40.0,0.5",  # line 14
            "2016-01-01 11:00,A,35.0,40.0,0.5",  # line 15: conflicts with 14 in pm25
        ]
    )
    path = tmp_path / "data" / "a.csv"
    path.write_bytes(
        ("\n".join(lines) + "\n").encode() + b"2016-01-01 12:00,A,1\xff0,20.0,0.5\n"
    )  # line 16: bad byte
    rep = _ingest(tmp_path, _network(tmp_path))
    assert rep.rows_in == 15 and rep.balanced
    q = {int(r["line"]): r for r in _reasons(rep)}
    assert "expected 5 fields" in q[7]["reason"] and q[7]["field"] == "co"  # the missing column
    assert q[7]["raw"] == "2016-01-01 07:00,A,12.0,20.0"
    assert q[8]["field"] == "pm25" and "not a number" in q[8]["reason"]
    assert q[9]["field"] == "station" and "unknown station 'Z'" in q[9]["reason"]
    assert q[10]["field"] == "time" and "future" in q[10]["reason"]
    assert q[11]["field"] == "time" and "unparseable" in q[11]["reason"]
    # the earlier of two identical rows is merged, not refused: counted apart from refusals
    assert 12 not in q and rep.rows_merged == 1
    assert any("1 rows identical to a later row" in n for n in rep.sources[0].notes)
    assert q[14]["field"] == "pm25" and q[14]["kind"] == "duplicate_conflict"
    assert f"differing from {path}:15 in pm25" in q[14]["reason"]
    assert "2016-01-01 11:00 local (03:00 UTC)" in q[14]["reason"]  # times say their zone
    assert "not valid utf-8" in q[16]["reason"] and q[16]["field"] == "pm25"  # where the byte is
    assert all(r["file"] == str(path) for r in q.values())
    # every refused row carries its text, also those refused after parsing
    assert q[9]["raw"] == "2016-01-01 09:00,Z,10.0,20.0,0.5"  # unknown station
    assert q[10]["raw"] == "2030-01-01 09:00,A,10.0,20.0,0.5"  # future
    assert q[14]["raw"] == "2016-01-01 11:00,A,30.0,40.0,0.5"  # conflicting duplicate
    assert all(r["raw"] for r in q.values())
    assert rep.rows_quarantined == len(q) == 7
    assert rep.rows_stored == 15 - len(q) - rep.rows_merged == 7
    # counts by kind of refusal, never by time or value
    assert rep.quarantine_reasons["duplicate_conflict"] == 1
    assert rep.quarantine_reasons["unknown_station"] == 1
    assert rep.quarantine_reasons["future_time"] == 1
    assert rep.quarantine_reasons["truncated_row"] == 1
    assert rep.quarantine_reasons["not_decodable"] == 1
    net = load_network(str(tmp_path / "t1.yml"))
    from pipelines.config import load_variables

    ds = StationStore(tmp_path / "store", net, load_variables()["variables"]).open()
    a = ds.sel(station="A")
    t10 = pd.Timestamp("2016-01-01 02:00")  # 10:00 Beijing time in UTC
    assert float(a["pm25"].sel(time=t10)) == -5.0  # negative value kept ...
    assert int(a["pm25_flag"].sel(time=t10)) == 9  # ... and flagged qc_invalid
    t11 = pd.Timestamp("2016-01-01 03:00")
    assert float(a["pm25"].sel(time=t11)) == 35.0  # the later conflicting row wins, flagged
    assert int(a["pm25_qc"].sel(time=t11)) & (1 << 7)


def test_wrong_header_rejects_file_but_keeps_others(tmp_path):
    (tmp_path / "data").mkdir()
    hourly_csv(tmp_path / "data" / "a.csv", hours=24)
    (tmp_path / "data" / "b.csv").write_text("when,site,pm25\n2016-01-01 01:00,A,3\n")
    rep = _ingest(tmp_path, _network(tmp_path))
    assert rep.balanced and rep.rows_stored == 72 and rep.rows_quarantined == 1
    (rej,) = rep.rejected_files
    assert (
        rej["file"].endswith("b.csv")
        and rej["line"] == 1
        and "lacks required column" in rej["reason"]
    )


def test_empty_and_truncated_archive(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "empty.csv").write_text("")
    full = lzma.compress(b"time,site,pm25,pm10,co\n" + b"2016-01-01 01:00,A,1,2,0.1\n" * 500)
    (tmp_path / "data" / "cut.csv.xz").write_bytes(full[: len(full) // 2])
    rep = _ingest(tmp_path, _network(tmp_path, files="data/*"))
    reasons = {r["file"].rsplit("/", 1)[1]: r["reason"] for r in rep.rejected_files}
    assert reasons["empty.csv"] == "file is empty"
    assert "corrupt or truncated" in reasons["cut.csv.xz"]
    assert rep.rows_in == 0 and rep.balanced


def test_failed_ingest_loses_nothing(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    hourly_csv(tmp_path / "data" / "a.csv", hours=24 * 40)  # spans two months
    net_path = _network(tmp_path)
    _ingest(tmp_path, net_path)
    store_dir = tmp_path / "store" / "t1"
    before = {p.name: p.read_bytes() for p in store_dir.glob("*.nc")}
    assert len(before) == 3  # Dec 2015 (UTC), Jan and Feb 2016
    hourly_csv(tmp_path / "data" / "a.csv", hours=24 * 40, seed=9)  # new values for the same period
    import xarray as xr

    calls = {"n": 0}
    real = xr.Dataset.to_netcdf

    def crash_on_second(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full (simulated)")
        return real(self, *a, **k)

    monkeypatch.setattr(xr.Dataset, "to_netcdf", crash_on_second)
    with pytest.raises(OSError, match="simulated"):
        _ingest(tmp_path, net_path)
    after = {p.name: p.read_bytes() for p in store_dir.glob("*.nc")}
    assert after == before  # no partition was replaced, no temporary file left behind
    assert not list(store_dir.glob("*.tmp"))


def test_unseen_network_from_yaml_alone(tmp_path):
    """A semicolon-separated, GBK-encoded file with decimal commas and per-value flags."""
    (tmp_path / "in").mkdir()
    rows = ["时间;站点;PM2.5;标志;CO"]
    for h in range(1, 25):
        rows.append(
            f"2016/01/02 {h % 24:02d}:00;1001A;{40 + h},5;{'C' if h == 3 else 'N'};0,{h % 9 + 1}"
        )
    (tmp_path / "in" / "export.csv").write_bytes("\n".join(rows).encode("gbk"))
    body = """
name: gbk_city
kind: air
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources:
  - adapter: column_table
    files: ["in/export.csv"]
    encoding: gbk
    delimiter: ";"
    decimal: ","
    time_column: 时间
    time_format: "%Y/%m/%d %H:%M"
    station_column: 站点
    columns:
      PM2.5: {variable: pm25, units: ug m-3, flag_column: 标志}
      CO: {variable: co, units: mg m-3}
stations:
  - {id: Wanshouxigong, code: 1001A, name: 万寿西宫, lat: 39.8673, lon: 116.366}
"""
    net_path = write_network(tmp_path, body, "gbk_city")
    rep = _ingest(tmp_path, net_path)
    assert rep.rows_in == 24 and rep.rows_stored == 24 and rep.balanced
    from pipelines.config import load_variables

    ds = StationStore(
        tmp_path / "store", load_network(str(net_path)), load_variables()["variables"]
    ).open()
    pm = ds["pm25"].sel(station="Wanshouxigong")
    assert float(pm.max()) == pytest.approx(64.5)
    assert (ds["pm25_source_flag"].values == 5).sum() == 1  # C = calibration, from the flag column
    assert (ds["pm25_flag"].values == 5).sum() == 1
    assert np.nanmax(ds["co"].values) == pytest.approx(0.9)


def test_excel_workbook_with_station_per_sheet_row_numbers(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "hourly"
    ws.append(["time", "site", "pm25", "pm10", "co"])
    ws.append([pd.Timestamp("2016-01-01 01:00").to_pydatetime(), "A", 12.5, 20, 0.4])
    ws.append([pd.Timestamp("2016-01-01 02:00").to_pydatetime(), "A", "n/a?", 20, 0.4])
    ws.append([None, None, None, None, None])  # blank row: not a data row
    ws.append([pd.Timestamp("2016-01-01 03:00").to_pydatetime(), "B", 14.0, 22, 0.5])
    (tmp_path / "data").mkdir()
    wb.save(tmp_path / "data" / "book.xlsx")
    body = GENERIC_NETWORK.format(name="xl", files="data/book.xlsx").replace(
        "    time_column: time\n", "    time_column: time\n    sheet: hourly\n"
    )
    rep = ingest(str(write_network(tmp_path, body, "xl")), tmp_path / "store", now=NOW)
    assert rep.rows_in == 3 and rep.rows_stored == 2 and rep.balanced
    q = _reasons(rep)
    assert len(q) == 1 and q[0]["line"] == "3" and q[0]["field"] == "pm25"


def test_re_scraped_snapshots_are_merged_and_revisions_counted_by_kind(tmp_path):
    # two scrapes of the same 48 h: the second repeats every row, revising PM2.5 in 10 of them
    (tmp_path / "data").mkdir()
    first = hourly_csv(tmp_path / "data" / "a_1.csv", hours=48).read_text().splitlines()
    revised = [first[0]]
    for i, line in enumerate(first[1:]):
        cells = line.split(",")
        if i < 10:
            cells[2] = str(float(cells[2]) + 7.0)
        revised.append(",".join(cells))
    (tmp_path / "data" / "a_2.csv").write_text("\n".join(revised) + "\n")
    rep = _ingest(tmp_path, _network(tmp_path))
    rows = len(first) - 1
    assert rep.rows_in == 2 * rows and rep.balanced
    assert rep.rows_stored == rows and rep.rows_quarantined == 10
    assert rep.rows_merged == rows - 10
    assert rep.quarantine_reasons == {"duplicate_conflict": 10}  # one key, not one per hour


def test_township_sensor_faults_are_invalid_by_station_class(tmp_path):
    # CO 50 mg/m3 at a township station: the registry's range only calls it suspect (valid for
    # the daily AQI); the network says its township stations are invalid above 30
    (tmp_path / "data").mkdir()
    lines = hourly_csv(tmp_path / "data" / "a.csv", hours=24).read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ",50.0"  # station A, 5th hour
    lines[29] = lines[29].rsplit(",", 1)[0] + ",50.0"  # station B, 5th hour
    (tmp_path / "data" / "a.csv").write_text("\n".join(lines) + "\n")
    text = GENERIC_NETWORK.format(name="t1", files="data/*.csv")
    text = text.replace(
        "  - {id: B, name: Station B,", "  - {id: B, station_class: township, name: Station B,"
    )
    text += "qc:\n  checks:\n    gross_range:\n      station_classes:\n"
    text += "        township: {co: {valid: [0, 30]}}\n"
    net_path = write_network(tmp_path, text, "t1")
    _ingest(tmp_path, net_path)
    from pipelines.config import load_variables

    net = load_network(str(net_path))
    ds = StationStore(tmp_path / "store", net, load_variables()["variables"]).open()
    t = pd.Timestamp("2016-01-01 05:00") - pd.Timedelta(hours=8)  # local 05:00 in UTC
    flag_a = int(ds["co_flag"].sel(station="A", time=t))
    flag_b = int(ds["co_flag"].sel(station="B", time=t))
    assert float(ds["co"].sel(station="B", time=t)) == 50.0  # flagged, never deleted
    assert (flag_a, flag_b) == (8, 9)  # A: qc_suspect (registry ranges); B: qc_invalid


def test_a_range_for_an_unknown_variable_names_file_line_and_field(tmp_path):
    from pipelines.config import load_qc
    from pipelines.errors import ConfigError

    text = GENERIC_NETWORK.format(name="t1", files="data/*.csv")
    text += "qc:\n  checks:\n    gross_range:\n      ranges:\n        carbon_monoxide: {valid: [0, 30]}\n"
    net = load_network(str(write_network(tmp_path, text, "t1")))
    with pytest.raises(ConfigError) as err:
        load_qc(net)
    msg = str(err.value)
    assert "checks.gross_range.ranges.carbon_monoxide" in msg and "unknown variable" in msg
    line = text.splitlines().index("        carbon_monoxide: {valid: [0, 30]}") + 1
    assert f"t1.yml:{line}" in msg


@pytest.mark.parametrize("policy", ["keep_earlier", "blank"])
def test_the_duplicate_policy_is_explicit(tmp_path, policy):
    import os

    # two snapshots; the newer one, whose name sorts FIRST, blanks PM2.5 of 01:00 at A
    (tmp_path / "data").mkdir()
    old = tmp_path / "data" / "b_snapshot.csv"
    new = tmp_path / "data" / "a_snapshot.csv"
    old.write_text("time,site,pm25,pm10,co\n2016-01-01 01:00,A,30.0,40.0,0.5\n")
    new.write_text("time,site,pm25,pm10,co\n2016-01-01 01:00,A,,41.0,0.5\n")
    os.utime(old, (1_000_000_000, 1_000_000_000))
    os.utime(new, (2_000_000_000, 2_000_000_000))
    text = GENERIC_NETWORK.format(name="t1", files="data/*.csv")
    text += f"duplicates: {{file_order: modified, blank_in_later: {policy}}}\n"
    rep = _ingest(tmp_path, write_network(tmp_path, text, "t1"))
    assert rep.balanced and rep.rows_in == 2 and rep.rows_stored == 1
    net = load_network(str(tmp_path / "t1.yml"))
    from pipelines.config import load_variables

    a = StationStore(tmp_path / "store", net, load_variables()["variables"]).open().sel(station="A")
    t = pd.Timestamp("2015-12-31 17:00")  # 01:00 Beijing time
    assert float(a["pm10"].sel(time=t)) == 41.0  # by modification time, b is the older file
    notes = " ".join(rep.sources[0].notes)
    if policy == "keep_earlier":
        assert float(a["pm25"].sel(time=t)) == 30.0 and "kept from the earlier row" in notes
    else:
        assert np.isnan(float(a["pm25"].sel(time=t))) and "left blank" in notes
        (q,) = _reasons(rep)
        assert q["kind"] == "duplicate_conflict" and "withdrawn): pm25" in q["reason"]


def test_a_bad_duplicate_policy_names_the_field(tmp_path):
    from pipelines.errors import ConfigError

    text = GENERIC_NETWORK.format(name="t1", files="data/*.csv") + "duplicates: {file_order: age}\n"
    with pytest.raises(ConfigError, match="duplicates.file_order"):
        load_network(str(write_network(tmp_path, text, "t1")))


def test_times_before_the_earliest_time_are_refused_and_the_bound_is_the_networks(tmp_path):
    """A clock reset to 1970 is refused by kind; a network with older records sets its own bound."""
    from pipelines.errors import ConfigError

    (tmp_path / "data").mkdir()
    good = hourly_csv(tmp_path / "data" / "a.csv", hours=3).read_text().splitlines()
    lines = [*good, "1970-01-01 08:00,A,10.0,20.0,0.5", "1975-06-01 08:00,B,10.0,20.0,0.5"]
    (tmp_path / "data" / "a.csv").write_text("\n".join(lines) + "\n")
    rep = _ingest(tmp_path, _network(tmp_path))
    assert rep.balanced and rep.quarantine_reasons["early_time"] == 2
    q = {int(r["line"]): r for r in _reasons(rep)}
    assert q[11]["field"] == "time" and "earliest_time 1980-01-01" in q[11]["reason"]
    store = StationStore(tmp_path / "store", load_network(str(tmp_path / "t1.yml")), _variables())
    assert [p.name for p in store.partitions()] == ["t1_2015-12.nc"]  # UTC months; none in 1970

    text = GENERIC_NETWORK.format(name="t2", files="data/*.csv") + "earliest_time: 1970-01-01\n"
    rep2 = ingest(str(write_network(tmp_path, text, "t2")), tmp_path / "store2", now=NOW)
    assert rep2.quarantine_reasons.get("early_time", 0) == 0 and rep2.rows_stored == len(lines) - 1

    bad = GENERIC_NETWORK.format(name="t3", files="data/*.csv") + "earliest_time: soon\n"
    with pytest.raises(ConfigError) as exc:
        load_network(str(write_network(tmp_path, bad, "t3")))
    assert exc.value.field == "earliest_time" and exc.value.line == bad.count("\n")


def _variables():
    from pipelines.config import load_variables

    return load_variables()["variables"]
