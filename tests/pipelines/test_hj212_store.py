"""HJ 212 uploads over real TCP into the station store, and the supervision alerts they give.

One synthetic day (pipelines.hj212.traffic, known events) goes from simulated data loggers
through a receiver on a free port into ``<tmp>/store/hj212/raw``; the ``beijing_sources``
network is ingested from that raw log and its supervision alerts are decided at the day's end.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from features.hj212 import build_packet
from features.qc.flags import FLAG_CODES
from pipelines.config import load_network, load_variables
from pipelines.errors import ConfigError
from pipelines.hj212.replay import replay_through_receiver
from pipelines.hj212.traffic import Event, read_traffic, synthetic_day, write_traffic
from pipelines.ingest import ingest
from pipelines.store import StationStore
from pipelines.warnings.supervision import run_supervision_alerts

DAY = dt.date(2017, 2, 11)
END = pd.Timestamp("2017-02-11T16:00")  # local midnight after the day, in UTC


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    root = tmp_path_factory.mktemp("hj212")
    net = load_network("beijing_sources")
    queues = synthetic_day(net, DAY)
    rx = replay_through_receiver(queues, root / "store" / "hj212", ack_timeout_s=2)
    report = ingest("beijing_sources", root / "store")
    ds = StationStore(root / "store", net, load_variables()["variables"]).open()
    return {"root": root, "net": net, "queues": queues, "rx": rx, "report": report, "ds": ds}


def test_every_packet_is_accepted_or_quarantined_with_its_reason(day):
    rx = day["rx"]
    frames = sum(len(f) for f in day["queues"].values())
    assert rx["frames"] == frames == rx["packets_in"]
    assert rx["packets_in"] == rx["accepted"] + rx["quarantined"]
    assert rx["client"]["given_up"] == 0 and rx["client"]["acknowledged"] == rx["accepted"]
    reasons = " | ".join(rx["quarantine_reasons"])
    for why in ("bad CRC", "unknown MN", "wrong password", "in the future"):
        assert why in reasons
    lines = [
        json.loads(x)
        for p in (day["root"] / "store" / "hj212" / "quarantine").glob("*.jsonl")
        for x in p.read_text().splitlines()
    ]
    assert len(lines) == rx["quarantined"] and all(x["reason"] and x["bytes"] for x in lines[:4])


def test_store_row_accounting_and_merged_resend(day):
    rep = day["report"]
    assert rep.balanced
    assert rep.rows_in == rep.rows_stored + rep.rows_merged + rep.rows_quarantined
    stations = len(day["net"].stations)
    offline_hours = 24 - 13  # E05-G1 silent from 13:00 local
    assert rep.rows_stored == 24 * stations - offline_hours
    assert rep.rows_merged == 1  # the re-sent hour, identical: merged, not refused
    assert rep.rows_quarantined == 0 and rep.quarantine_reasons == {}
    notes = " ".join(rep.sources[0].notes)
    assert "2051: 2880" in notes and "split sub-packets reassembled" in notes


def test_values_land_at_the_hour_end_in_utc_with_their_flags(day):
    ds = day["ds"]
    # E02-G1's SO2 event: local 07:00-11:00 = 23:00-03:00 UTC; hourly upload of 07:00 local
    # (DataTime = the hour's start) is stored at its end, 00:00 UTC
    so2 = ds["stack_so2"].sel(station="E02-G1")
    ev = so2.sel(time=slice("2017-02-11T00:00", "2017-02-11T03:00")).values
    before = so2.sel(time=slice("2017-02-10T17:00", "2017-02-10T23:00")).values
    assert np.nanmin(ev) > 2 * np.nanmax(before)
    flags = ds["stack_so2_flag"].sel(station="E07-G1")
    m = flags.sel(time=slice("2017-02-11T02:00", "2017-02-11T08:00")).values
    assert (m == FLAG_CODES["M"]).all()
    assert flags.sel(time="2017-02-11T10:00").item() == FLAG_CODES["N"]
    # the split upload (second air logger, 12:00 local) came back whole: both halves stored
    st = day["net"].stations[1].id
    at = ds.sel(station=st, time="2017-02-11T05:00")
    assert np.isfinite(at["stack_so2"].item()) and np.isfinite(at["stack_o2"].item())
    assert ds["stack_so2_mass"].attrs["units"] == "kg"


def test_supervision_alerts_name_the_known_events(day, tmp_path):
    rep = run_supervision_alerts(
        "beijing_sources", tmp_path / "out", day["root"] / "store", END, deliver=False
    )
    assert rep.ops_alert is None and str(rep.issue_time) == str(END)
    got = {a: (d.level, d.details.get("condition")) for a, d in rep.decisions.items() if d.level}
    assert got["E02"] == ("orange", "exceedance") or got["E02"] == ("red", "exceedance")
    assert got["E09"] == ("red", "exceedance")  # 2.5 x the limit
    assert got["E17"] == ("orange", "exceedance")  # daily mean, 1.6 x
    assert got["E05"] == ("yellow", "offline")
    assert got["E07"] == ("yellow", "flagged")
    assert got["E11"] == ("yellow", "flat")
    assert got["E08"] == ("yellow", "inconsistent")
    assert got["E19"] == ("yellow", "flagged")
    quiet = set(rep.decisions) - set(got)
    assert quiet == {
        "E01",
        "E03",
        "E04",
        "E06",
        "E10",
        "E12",
        "E13",
        "E14",
        "E15",
        "E16",
        "E18",
        "E20",
    }
    # maintenance-flagged hours were not judged: E07 has no exceedance finding
    assert not [f for f in rep.decisions["E07"].details["findings"] if f["kind"] == "exceedance"]
    d = rep.decisions["E17"]
    assert d.primary_pollutant == "effluent_nh3n" and d.details["limit"] == 5.0
    assert "gb18918-2002 1A" in d.reasons[0] and "daily mean" in d.reasons[0]
    # the CAP message names enterprise, outfall, pollutant, value, limit, period and flags
    ident = next(a.identifier for a in rep.applied if a.area == "E17")
    cap = next((tmp_path / "out" / "warnings" / "beijing_sources" / "cap").glob(f"*{ident}*.xml"))
    root = ET.parse(cap).getroot()
    ns = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
    assert root.findtext("c:status", namespaces=ns) == "Exercise"
    info = root.find("c:info", ns)
    assert info.findtext("c:category", namespaces=ns) == "Env"
    params = {
        p.findtext("c:valueName", namespaces=ns): p.findtext("c:value", namespaces=ns)
        for p in info.findall("c:parameter", ns)
    }
    assert params["enterprise"].startswith("E17") and params["outfall"] == "E17-W1"
    assert params["pollutant"] == "effluent_nh3n" and params["limit"] == "5 mg L-1"
    assert params["period_utc"] and params["data_flags"] == "N"
    assert params["data_cutoff"] == str(END)
    # the bulletin says the basis is measurement, not an empty model and run
    (bulletin,) = [p for p in (tmp_path / "out").rglob("*.html") if "bulletin" in p.name]
    html = bulletin.read_text(encoding="utf-8")
    assert "observed data, no model" in html and "model None" not in html


def test_a_rerun_of_the_same_cutoff_changes_nothing(day, tmp_path):
    out = tmp_path / "out"
    first = run_supervision_alerts(
        "beijing_sources", out, day["root"] / "store", END, deliver=False
    )
    again = run_supervision_alerts(
        "beijing_sources", out, day["root"] / "store", END, deliver=False
    )
    caps = sorted((out / "warnings" / "beijing_sources" / "cap").glob("*.xml"))
    assert [a.action for a in first.applied if a.level].count("issue") == 8
    assert all(a.duplicate for a in again.applied)
    assert [(a.area, a.action, a.identifier) for a in again.applied] == [
        (a.area, a.action, a.identifier) for a in first.applied
    ]
    assert sorted((out / "warnings" / "beijing_sources" / "cap").glob("*.xml")) == caps


def test_a_later_run_lifts_what_cleared(day, tmp_path):
    out = tmp_path / "out"
    run_supervision_alerts("beijing_sources", out, day["root"] / "store", END, deliver=False)
    later = run_supervision_alerts(
        "beijing_sources", out, day["root"] / "store", END + pd.Timedelta(hours=5), deliver=False
    )
    assert later.ops_alert is None  # 5 h old data: within max_data_age_hours (6), decided
    stale = run_supervision_alerts(
        "beijing_sources", out, day["root"] / "store", END + pd.Timedelta(hours=7), deliver=False
    )
    assert stale.ops_alert and "h old" in stale.ops_alert


def test_a_log_line_from_an_mn_outside_the_network_is_quarantined(tmp_path):
    net = load_network("beijing_sources")
    raw = tmp_path / "store" / "hj212" / "raw"
    raw.mkdir(parents=True)
    frame = build_packet(
        {"QN": "20170211010000001", "ST": "31", "CN": "2061", "PW": "x", "MN": "OTHER", "Flag": 5},
        "DataTime=20170211000000;a21026-Avg=10,a21026-Flag=N",
    )
    good = synthetic_day(net, DAY, minute_monitors=0, faults=False)[net.stations[0].mn][0]
    lines = [
        "\t".join(["2026-01-01T00:00:00+00:00", "p", mn, "2061", "q", f.rstrip(b"\r\n").decode()])
        for mn, f in (("OTHER", frame), (net.stations[0].mn, good))
    ]
    (raw / "20260101.log").write_text("\n".join(lines) + "\n" + "torn line without tabs")
    rep = ingest("beijing_sources", tmp_path / "store")
    assert rep.rows_in == 2 and rep.rows_stored == 1 and rep.rows_quarantined == 1
    assert "1 incomplete raw-log line(s) skipped" in " ".join(rep.sources[0].notes)
    assert any("not a station of beijing_sources" in k for k in rep.quarantine_reasons)


def test_a_gbk_packet_in_the_raw_log_is_stored(tmp_path):
    """The receiver keeps a GBK packet's own bytes (escaped); the adapter reads them back with
    their CRC and length intact, so the hour is stored, not quarantined."""
    from benchmarks.fuzz_hj212 import frame_of
    from pipelines.hj212.receiver import escape_frame, frame_text

    net = load_network("beijing_sources")
    good = synthetic_day(net, DAY, minute_monitors=0, faults=False)[net.stations[0].mn][0]
    seg = good[6:-6].decode().rstrip("&") + ";i11001-Info=//设备维护//&&"
    gbk = frame_of(seg.encode("gbk")).rstrip(b"\r\n")
    assert b"\xc9\xe8" in gbk  # GBK, not UTF-8
    raw = tmp_path / "store" / "hj212" / "raw"
    raw.mkdir(parents=True)
    fields = ["2026-01-01T00:00:00+00:00", "p", net.stations[0].mn, "2061", "q"]
    (raw / "20260101.log").write_text("\t".join([*fields, escape_frame(frame_text(gbk))]) + "\n")
    rep = ingest("beijing_sources", tmp_path / "store")
    assert (rep.rows_in, rep.rows_stored, rep.rows_quarantined) == (1, 1, 0)


def test_traffic_file_round_trip_and_events(tmp_path):
    net = load_network("beijing_sources")
    q = synthetic_day(net, DAY, events=(Event("offline", net.stations[0].id, 0),), faults=False)
    assert q[net.stations[0].mn] == []  # offline all day
    path = write_traffic(q, tmp_path / "day.txt.xz")
    assert read_traffic(path) == {k: v for k, v in q.items() if v}  # a silent logger has no line
    assert synthetic_day(net, DAY) == synthetic_day(net, DAY)  # deterministic
    (tmp_path / "bad.txt").write_text("no tab here\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        read_traffic(tmp_path / "bad.txt")


def _copy_network(tmp_path, edit):
    from pipelines.config.locations import config_dir

    text = (config_dir() / "networks" / "beijing_sources.yml").read_text()
    path = tmp_path / "src.yml"
    path.write_text(edit(text))
    return path


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (
            lambda t: t.replace("standard_class: coal_boiler_new", "standard_class: nope", 1),
            "standard_class",
        ),
        (lambda t: t.replace("standard: gb18918-2002", "standard: gb13271-2014", 1), "standard"),
        (lambda t: t.replace("standard: gb13223-2011", "standard: gb9999", 1), "standard"),
        (lambda t: t.replace(", password: demoe01g1", "", 1), "stations.0.password"),
        (lambda t: t.replace('mn: "88888880000002"', 'mn: "88888880000001"', 1), "stations.1.mn"),
        (
            lambda t: t.replace("enterprise: E01, medium: air", "enterprise: E99, medium: air", 1),
            "enterprise",
        ),
        (lambda t: t.replace('mn: "88888880000001"', "mn: 88888880000001", 1), "stations.0.mn"),
    ],
)
def test_a_bad_source_network_names_file_line_and_field(tmp_path, edit, field):
    path = _copy_network(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        load_network(str(path))
    assert str(path) in str(err.value) and field in str(err.value)
    assert err.value.line is not None


def test_discharge_compliance_counts_the_exceeding_periods(day):
    from pipelines.assess import assess_sources

    net = day["net"]
    t = assess_sources(StationStore(day["root"] / "store", net, load_variables()["variables"]))
    ex = t[t.periods_exceeding > 0].set_index(["station", "variable"])
    assert set(ex.index) == {
        ("E02-G1", "stack_so2"),
        ("E09-G1", "stack_dust"),
        ("E17-W1", "effluent_nh3n"),
    }
    assert ex.loc[("E02-G1", "stack_so2"), "periods_exceeding"] == 4  # 07-11 local
    assert ex.loc[("E17-W1", "effluent_nh3n"), "period"] == "day"
    # E07-G1's maintenance hours are not assessed: 24 - 7 flagged hours
    e07 = t.set_index(["station", "variable"]).loc[("E07-G1", "stack_so2")]
    assert e07.periods_assessed == 24 - 7


def test_a_supervision_file_with_a_wrong_level_or_no_block_names_file_line_and_field(tmp_path):
    from pipelines.config.locations import config_dir
    from pipelines.config.warnings import load_warning_config

    text = (config_dir() / "warnings" / "beijing_sources.yml").read_text()
    bad = tmp_path / "a.yml"
    bad.write_text(text.replace("exceedance_level: orange", "exceedance_level: purple"))
    with pytest.raises(ConfigError) as err:
        load_warning_config(str(bad))
    assert "supervision.exceedance_level" in str(err.value) and err.value.line
    none = tmp_path / "b.yml"
    start, end = text.index("supervision:"), text.index("measures:")
    none.write_text(text[:start] + text[end:])
    with pytest.raises(ConfigError, match="needs a supervision: block"):
        load_warning_config(str(none))
