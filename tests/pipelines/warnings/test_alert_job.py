"""The alert-job skeleton shared by the air and water jobs, and the water job through it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from features.qc.flags import FLAG_CODES
from pipelines.config import load_network
from pipelines.warnings.alert_job import (
    AreaResult,
    OpsAlert,
    load_city,
    open_alert_job,
    run_alert_job,
)
from pipelines.warnings.reports import WarnReport
from pipelines.warnings.water import run_water_alerts


def test_an_ops_alert_changes_nothing_and_is_published(tmp_path, monkeypatch):
    scheme, city = load_city("beijing")
    job = open_alert_job(scheme, city, tmp_path, now=pd.Timestamp("2020-01-01", tz="Asia/Shanghai"))
    assert job.now == pd.Timestamp("2019-12-31 16:00")  # naive UTC
    delivered = []
    monkeypatch.setattr(
        "pipelines.warnings.alert_job.deliver_city", lambda db, c: delivered.append(db) or {}
    )
    report = WarnReport(city.name, None, "input")
    out = run_alert_job(job, report, lambda j, r: OpsAlert("forecast_stale", "too old"))
    assert out.ops_alert == "too old" and out.applied == [] and delivered == []
    feed = json.loads((tmp_path / "warnings" / "beijing" / "feed.json").read_text())
    assert feed["ops_alerts"][-1]["kind"] == "forecast_stale"


def test_every_area_is_decided_then_published_and_delivered(tmp_path, monkeypatch):
    scheme, city = load_city("beijing")
    job = open_alert_job(scheme, city, tmp_path, now=pd.Timestamp("2020-01-01"), cap_status="Test")
    assert job.city.cap_status == "Test"
    monkeypatch.setattr("pipelines.warnings.alert_job.deliver_city", lambda db, c: {"delivered": 0})
    seen = []

    def prepare(j, r):
        def step(area):
            seen.append(area.id)
            return AreaResult(decision=f"d-{area.id}", applied=f"a-{area.id}", chart="png")

        return step

    monkeypatch.setattr("pipelines.warnings.alert_job.publish", lambda *a: seen.append("publish"))
    out = run_alert_job(job, WarnReport(city.name, None, None), prepare, write_outputs=True)
    assert seen == [a.id for a in city.areas] + ["publish"]
    assert out.applied == [f"a-{a.id}" for a in city.areas]
    assert out.charts == {a.id: "png" for a in city.areas} and out.outlooks == {}
    assert out.delivery == {"delivered": 0}


def test_a_scheme_file_is_no_city():
    with pytest.raises(ValueError, match="is a scheme, not a city"):
        load_city("national-2018")


def _ndfa_readings() -> xr.Dataset:
    """A week of 15-min readings: hypoxia at RMB, low DO at RCS, clean elsewhere."""
    ids = [s.id for s in load_network("ndfa").stations]
    times = pd.date_range("2019-08-01", "2019-08-08", freq="15min")
    do = np.full((len(ids), len(times)), 8.0)
    do[ids.index("RMB"), 200:260] = 1.5  # below 2 mg/L for 15 h: red
    do[ids.index("RCS"), 300:340] = 2.6  # below 3 mg/L for 10 h: orange
    ph = np.full_like(do, 7.6)
    flag = np.full(do.shape, FLAG_CODES["N"], "int8")
    return xr.Dataset(
        {
            "dissolved_oxygen": (("station", "time"), do),
            "dissolved_oxygen_flag": (("station", "time"), flag),
            "ph": (("station", "time"), ph),
            "ph_flag": (("station", "time"), flag),
        },
        coords={"station": ids, "time": times},
    )


def test_water_job_through_the_skeleton(tmp_path):
    ds = _ndfa_readings()
    kw = {"deliver": False, "dataset": ds, "cap_status": "Exercise"}
    t1, t2 = pd.Timestamp("2019-08-03 10:00"), pd.Timestamp("2019-08-04 10:00")
    rep = run_water_alerts("ndfa", tmp_path, tmp_path / "none", t1, **kw)
    assert rep.ops_alert is None and rep.issue_time == t1
    got = {a.area: (a.action, a.level) for a in rep.applied}
    assert got["RMB"] == ("issue", "red") and got["RCS"] == got["TOE"] == ("none", None)
    rep = run_water_alerts("ndfa", tmp_path, tmp_path / "none", t2, **kw)
    got = {a.area: (a.action, a.level) for a in rep.applied}
    assert got["RCS"] == ("issue", "orange") and got["RMB"][0] in ("hold", "downgrade", "lift")
    assert set(rep.charts) == {a.area for a in rep.applied} and rep.outlooks == {}
    feed = json.loads((tmp_path / "warnings" / "ndfa" / "feed.json").read_text())
    active = {w["area"] for w in feed["active"]}
    assert "RCS" in active and active <= {"RMB", "RCS"}
    assert all(m["status"] == "Exercise" for m in feed["messages"])
    # two days after the last reading: stale data, nothing changes
    late = run_water_alerts("ndfa", tmp_path, tmp_path / "none", pd.Timestamp("2019-08-10"), **kw)
    assert late.applied == [] and "h old" in late.ops_alert
    feed = json.loads((tmp_path / "warnings" / "ndfa" / "feed.json").read_text())
    assert feed["ops_alerts"][-1]["kind"] == "data_stale"
    assert {w["area"] for w in feed["active"]} == active  # the alerts stand
    # no store and no dataset: an ops alert, not an exception
    none = run_water_alerts(
        "ndfa", tmp_path, tmp_path / "none", pd.Timestamp("2019-08-10"), deliver=False
    )
    assert "cannot be read" in none.ops_alert


def test_water_job_refuses_an_air_file(tmp_path):
    with pytest.raises(ValueError, match="air warning file"):
        run_water_alerts("beijing", tmp_path, tmp_path)
