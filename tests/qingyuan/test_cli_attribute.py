"""CLI: ``qingyuan attribute enterprises`` (and the former ``trace`` names under ``attribute``)."""

from __future__ import annotations

from click.testing import CliRunner

import pipelines.tracing.enterprises
from qingyuan.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def _row(rank, ent, score, share, status="ok", evidence="plume over the station 3 h"):
    return {
        "rank": rank,
        "enterprise": ent,
        "name": f"{ent} works",
        "status": status,
        "score": score,
        "share": share,
        "distance_km": 12.3,
        "bearing_deg": 270.0,
        "lag_h": 2.5 if score else None,
        "evidence": evidence,
    }


RESULT = {
    "station": "Dongsi",
    "variable": "so2",
    "at": "2016-12-20 08:00:00",
    "observed": 80.0,
    "units": "ug m-3",
    "excess": 52.0,
    "anomaly_z": 7.5,
    "emission_variable": "stack_so2",
    "source_networks": ["beijing_sources"],
    "river": None,
    "ranking": [
        _row(1, "E14", 42.0, 0.8),
        _row(2, "E05", 0.0, 0.0, evidence="its emissions do not reach the receptor"),
        _row(None, "E01", None, None, "no data", "no valid emission data in the window"),
    ],
    "notes": ["something to know"],
    "provenance": {"synthetic": True},
    "files": {"table": "t.csv", "json": "r.json"},
}


def test_attribute_enterprises_prints_the_ranking(monkeypatch, tmp_path):
    seen = {}

    def fake(network, store, outputs, station, at, **kw):
        seen.update(network=network, station=station, at=at, store=store, **kw)
        return RESULT

    monkeypatch.setattr(pipelines.tracing.enterprises, "enterprise_job", fake)
    res = invoke(
        "attribute",
        "enterprises",
        "--network",
        "beijing",
        "--station",
        "Dongsi",
        "--at",
        "2016-12-20T08:00+08:00",
        "--variable",
        "so2",
        "--sources",
        "beijing_sources",
        "--store",
        str(tmp_path),
        "--outputs",
        str(tmp_path),
    )
    assert res.exit_code == 0, res.output
    assert seen == {
        "network": "beijing",
        "station": "Dongsi",
        "at": "2016-12-20T08:00+08:00",
        "store": tmp_path,
        "variable": "so2",
        "sources": "beijing_sources",
        "river": None,
    }
    lines = res.output.splitlines()
    assert lines[0].startswith("Dongsi so2 at 2016-12-20 08:00:00 UTC: 80.0 ug m-3 (excess +52.0")
    assert "emissions stack_so2 of beijing_sources" in lines[0]
    assert lines[1].split() == "rank enterprise score share km bearing lag h status name".split()
    assert lines[2].split()[:5] == ["1", "E14", "42.0", "80%", "12.3"]
    assert lines[4].split()[:4] == ["-", "E01", "-", "-"] and "no data" in lines[4]
    assert "  1. E14: plume over the station 3 h" in lines
    assert not any(line.startswith("  2. E05") for line in lines)  # explains nothing
    assert "note: something to know" in lines
    assert "note: SYNTHETIC data (a synthetic network is involved)" in lines
    assert lines[-1] == "table t.csv; json r.json"


def test_attribute_enterprises_says_when_nothing_explains_it(monkeypatch):
    empty = RESULT | {"ranking": [RESULT["ranking"][2]], "provenance": {}, "notes": []}
    monkeypatch.setattr(pipelines.tracing.enterprises, "enterprise_job", lambda *a, **k: empty)
    res = invoke("attribute", "enterprises", "--network", "beijing", "--station", "X", "--at", "t")
    assert res.exit_code == 0, res.output
    assert "  no enterprise's reported emissions explain the excess" in res.output


def test_attribute_enterprises_bad_input_exits_2(tmp_path):
    base = ["attribute", "enterprises", "--store", str(tmp_path), "--outputs", str(tmp_path)]
    cases = {
        ("--network", "no-such-network", "--station", "A", "--at", "2016-01-01"): "no such network",
        ("--network", "beijing", "--station", "Nowhere", "--at", "2016-01-01"): (
            "network beijing has no station 'Nowhere'"
        ),
        ("--network", "beijing", "--station", "Dongsi", "--at", "soon"): "--at 'soon': not a time",
        ("--network", "beijing", "--station", "Dongsi", "--at", "2016-01-01", "--variable", "o3"): (
            "no emission variable for 'o3'"
        ),
        ("--network", "beijing_sources", "--station", "E01-G1", "--at", "2016-01-01"): (
            "is a source network"
        ),
        ("--network", "beijing", "--station", "Dongsi", "--at", "2016-01-01"): (
            "no stored data for network 'beijing'"
        ),
    }
    for args, message in cases.items():
        res = invoke(*base, *args)
        assert res.exit_code == 2, (args, res.output)
        assert res.output.startswith("error: ") and message in res.output, (args, res.output)
    missing = invoke(*base, "--network", "beijing", "--station", "Dongsi")
    assert missing.exit_code == 2 and "--at" in missing.output


def test_attribute_lists_enterprises_and_keeps_the_former_trace_names():
    res = invoke("attribute", "--help")
    assert res.exit_code == 0
    for name in ("enterprises", "drivers", "pmf", "polar", "trajectory"):
        assert name in res.output
    assert "attribute" in invoke("--help").output  # listed: it holds the enterprise ranking
    assert "--sources" in invoke("attribute", "enterprises", "--help").output
