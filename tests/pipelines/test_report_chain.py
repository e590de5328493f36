"""Ingest reports are hash-chained per network; editing or removing one behind the system's back
is named by :func:`verify_reports` (and ``qingyuan audit verify``)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from qy_helpers import GENERIC_NETWORK, hourly_csv, write_network

from features.integrity import GENESIS, record_hash
from pipelines.ingest import ingest
from pipelines.integrity import report_networks, verify_records
from pipelines.report_chain import HEAD_FILE, seal_report, verify_reports, write_report

NOW = pd.Timestamp("2016-06-01", tz="UTC")


def _report(i: int) -> dict:
    return {
        "ingest_id": f"2016010{i}T000000Z-abc{i:03d}",
        "network": "n",
        "rows_in": 10 * i,
        "period": (pd.Timestamp("2016-01-01") + pd.Timedelta(days=i), None),
        "partition_checksums": {f"n_2016-0{i}.nc": {"sha256": "ab" * 32, "size": 100 + i}},
    }


@pytest.fixture
def reports(tmp_path):
    """Five chained reports written as ingest writes them; their folder and file names."""
    d = tmp_path / "store" / "n" / "reports"
    names = []
    for i in range(1, 6):
        rep = _report(i)
        write_report(d / f"{rep['ingest_id']}.json", rep)
        names.append(f"{rep['ingest_id']}.json")
    return d, names


def _edit(path, **changes):
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def test_each_report_links_to_the_previous_one(reports):
    d, names = reports
    data = [json.loads((d / n).read_text(encoding="utf-8")) for n in names]
    assert [r["seq"] for r in data] == [1, 2, 3, 4, 5] and data[0]["prev_hash"] == GENESIS
    assert [r["prev_hash"] for r in data[1:]] == [r["hash"] for r in data[:-1]]
    content = {k: v for k, v in data[2].items() if k not in ("prev_hash", "hash")}
    assert data[2]["hash"] == record_hash(data[1]["hash"], content)
    assert data[2]["period"] == ["2016-01-04 00:00:00", None]  # as the JSON holds it
    status = verify_reports(d)
    assert status.ok and status.check.count == 5 and status.check.head == data[-1]["hash"]
    assert status.name == "ingest reports n" and status.note is None


def test_an_edited_report_is_named(reports):
    d, names = reports
    _edit(d / names[2], rows_in=0)
    status = verify_reports(d)
    assert not status.ok
    b = status.check.broken
    assert (b.key, b.index, b.kind) == (names[2], 2, "altered")


def test_the_hash_covers_every_field_the_report_holds(reports):
    d, names = reports
    data = json.loads((d / names[1]).read_text(encoding="utf-8"))
    data["partition_checksums"][f"n_2016-0{2}.nc"]["sha256"] = "cd" * 32
    (d / names[1]).write_text(json.dumps(data), encoding="utf-8")
    assert verify_reports(d).check.broken.key == names[1]


def test_a_removed_report_is_named_by_the_next_one(reports):
    d, names = reports
    (d / names[1]).unlink()
    b = verify_reports(d).check.broken
    assert (b.key, b.kind) == (names[2], "missing") and "seq 2 missing" in b.reason


def test_removing_the_newest_report_shows_and_the_next_report_keeps_the_gap(reports):
    d, names = reports
    (d / names[-1]).unlink()
    status = verify_reports(d)
    assert status.check.ok and not status.ok  # the four left link up ...
    assert "head file records seq 5" in status.problem  # ... but the head saw a fifth
    rep = _report(6)
    sealed = write_report(d / f"{rep['ingest_id']}.json", rep)
    assert sealed["seq"] == 6  # it follows the removed report, so the gap stays visible
    b = verify_reports(d).check.broken
    assert (b.key, b.kind) == (f"{rep['ingest_id']}.json", "missing")


def test_reports_before_the_chain_are_counted_and_a_late_unchained_one_fails(tmp_path):
    d = tmp_path / "reports"
    d.mkdir()
    (d / "20150101T000000Z-old001.json").write_text(json.dumps({"rows_in": 1}))
    rep = _report(1)
    sealed = write_report(d / f"{rep['ingest_id']}.json", rep)
    assert sealed["seq"] == 1 and sealed["prev_hash"] == GENESIS  # the old one is not linked
    status = verify_reports(d, network="n")
    assert status.ok and status.note.startswith("1 report(s) written before the chain")
    (d / "20170101T000000Z-new001.json").write_text(json.dumps({"rows_in": 1}))
    assert "written after the chain began" in verify_reports(d).problem
    (d / "20170101T000000Z-new001.json").write_text("{not json")
    assert "cannot be read as JSON" in verify_reports(d).problem


def test_sealing_without_the_head_file_reads_the_reports(reports):
    d, names = reports
    (d / HEAD_FILE).unlink()
    sealed = seal_report(d, _report(6))
    last = json.loads((d / names[-1]).read_text(encoding="utf-8"))
    assert (sealed["seq"], sealed["prev_hash"]) == (6, last["hash"])


def test_ingest_writes_chained_reports_that_verify(tmp_path):
    (tmp_path / "data").mkdir()
    hourly_csv(tmp_path / "data" / "a.csv", hours=24)
    net = write_network(tmp_path, GENERIC_NETWORK.format(name="chained", files="data/a.csv"))
    store = tmp_path / "store"
    first = ingest(str(net), store, now=NOW)
    second = ingest(str(net), store, now=NOW)  # a re-ingest: a second report
    data = [json.loads(Path(r.report_file).read_text(encoding="utf-8")) for r in (first, second)]
    assert [r["seq"] for r in data] == [1, 2] and data[1]["prev_hash"] == data[0]["hash"]
    assert data[0]["report_file"] == first.report_file  # the report as ingest made it
    assert report_networks(store) == ["chained"]
    (status,) = verify_records(store, None)
    assert status.ok and status.check.count == 2
    _edit(Path(second.report_file), rows_stored=0)
    (status,) = verify_records(store, None, networks=["chained"])
    assert status.check.broken.key == f"{second.ingest_id}.json"
