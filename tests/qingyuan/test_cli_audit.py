"""CLI: ``qingyuan audit verify`` over a warning database and a store in tmp_path."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest
from click.testing import CliRunner

from features.warnings.rules import Decision
from pipelines.config.warnings import load_warning_config
from pipelines.report_chain import write_report
from pipelines.warnings import db as wdb
from pipelines.warnings.store import WarningStore
from qingyuan.cli import main

T0 = pd.Timestamp("2016-12-14 00:00")


def _render(ctx):
    return "<alert/>", json.dumps({"sent": ctx["sent"].isoformat()})


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    """A SQLite warning database with two cities' audit rows, and a store with two networks."""
    monkeypatch.delenv(wdb.ENV_VAR, raising=False)
    db = tmp_path / "outputs" / "warnings" / "warnings.db"
    store = WarningStore(db)
    scheme = load_warning_config("national-2018")[0]
    d = Decision(
        level="yellow",
        start=T0 + pd.Timedelta(hours=24),
        end=T0 + pd.Timedelta(hours=72),
        probability=0.9,
        aqi_range=(220.0, 260.0),
        primary_pollutant="pm25",
        clear_hours=24.0,
        lead_hours=24.0,
        used_upper_bound=False,
        day_probability=[0.1, 0.9, 0.9, 0.1],
        reasons=["scripted"],
    )
    for city in ("c", "d"):
        for area in ("x", "y"):
            store.apply(scheme, city, area, T0, d, {}, _render)
    for net in ("n1", "n2"):
        for i in range(3):
            rep = {"ingest_id": f"r{i}", "network": net, "rows_in": i}
            write_report(tmp_path / "store" / net / "reports" / f"r{i}.json", rep)
    return tmp_path, db


def _verify(tmp_path, *args):
    return CliRunner().invoke(
        main,
        [
            "audit",
            "verify",
            "--store",
            str(tmp_path / "store"),
            "--outputs",
            str(tmp_path / "outputs"),
            *args,
        ],
    )


def test_clean_records_verify(deployment):
    tmp_path, db = deployment
    res = _verify(tmp_path)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert [ln.split(" (")[0] for ln in lines] == [
        "warnings audit c",
        "warnings audit d",
        "ingest reports n1",
        "ingest reports n2",
    ]
    assert all("2 record(s) OK, head " in ln for ln in lines[:2])
    assert all("3 record(s) OK, head " in ln for ln in lines[2:])


def test_an_altered_audit_row_and_report_fail_with_status_3(deployment):
    tmp_path, db = deployment
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER audit_append_only_u")
    con.execute("UPDATE audit SET to_level = 'red' WHERE city = 'd' AND area = 'y'")
    con.commit()
    con.close()
    (tmp_path / "store" / "n2" / "reports" / "r1.json").unlink()
    res = _verify(tmp_path)
    assert res.exit_code == 3, res.output
    out = dict(ln.split(" (", 1) for ln in res.stdout.splitlines())
    assert "OK" in out["warnings audit c"] and "OK" in out["ingest reports n1"]
    assert "FAILED at audit seq 4 (record 2 of 2): altered: " in out["warnings audit d"]
    assert "FAILED at r2.json (record 2 of 2): missing: seq 2 missing" in out["ingest reports n2"]
    assert res.stderr.startswith("NOT VERIFIED: 2 of 4 chain(s): warnings audit d, ingest")


def test_one_network_and_an_explicit_database(deployment, tmp_path_factory, monkeypatch):
    tmp_path, db = deployment
    monkeypatch.setenv(wdb.ENV_VAR, "postgresql+psycopg://nobody@127.0.0.1:9/none")
    for given in (f"sqlite:///{db}", str(db)):  # a file given is used, whatever the environment
        res = _verify(tmp_path, "--network", "n1", "--warnings-db", given)
        assert res.exit_code == 0, res.output
        assert [ln.split(" (")[0] for ln in res.stdout.splitlines()] == [
            "warnings audit c",
            "warnings audit d",
            "ingest reports n1",
        ]
    res = _verify(tmp_path, "--network", "n1")  # the environment's server: it is down
    assert res.exit_code == 2 and res.stderr.startswith("error: ")
    monkeypatch.delenv(wdb.ENV_VAR)
    empty = tmp_path_factory.mktemp("empty")
    res = _verify(empty)
    assert res.exit_code == 0 and res.stdout.startswith("nothing to verify")
