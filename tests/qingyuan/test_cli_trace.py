"""CLI: ``qingyuan trace`` (and its hidden alias ``attribute``) and ``qingyuan water``."""

from __future__ import annotations

import numpy as np
import xarray as xr
from click.testing import CliRunner

import pipelines.tracing.air
import pipelines.tracing.water
from models.forecast.drivers import GROUPS
from qingyuan.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def _drivers_file(tmp_path, with_drivers=True):
    """Two stations, 6 leads; local = +10 everywhere, meteorology = -5 in leads 1-3, 0 after."""
    d = np.zeros((2, 1, 6, len(GROUPS)))
    d[..., GROUPS.index("local")] = 10.0
    d[:, :, :3, GROUPS.index("meteorology")] = -5.0
    d[1, :, :, GROUPS.index("regional")] = 4.0  # station B only
    ds = xr.Dataset(
        {"pm25_drivers": (("station", "issue_time", "lead_time", "group"), d)}
        if with_drivers
        else {"pm25_mean": (("station", "issue_time", "lead_time"), d[..., 0])},
        coords={
            "station": ["A", "B"],
            "issue_time": [np.datetime64("2017-01-01")],
            "lead_time": np.arange(1, 7),
        },
    )
    if with_drivers:
        ds["pm25_drivers"].attrs["model_uri"] = "models:/x@champion"
    path = tmp_path / ("f.nc" if with_drivers else "plain.nc")
    ds.to_netcdf(path)
    return path


def test_trace_drivers_window_and_stations(tmp_path):
    path = _drivers_file(tmp_path)
    res = invoke("trace", "drivers", "--forecast", str(path), "--hours", "1-3", "--station", "A")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "pm25, leads 1-3 h, 1 station(s), vs climatology (models:/x@champion):"
    local = next(line for line in lines if "local" in line.lower())
    assert "+10.0" in local and "67%" in local  # 10 / (10 + 5)
    later = invoke("trace", "drivers", "--forecast", str(path), "--hours", "4-6")
    assert "2 station(s)" in later.output
    assert "+10.0" in later.output and "+2.0" in later.output  # regional: mean of 0 and 4


def test_trace_drivers_errors(tmp_path):
    path = _drivers_file(tmp_path)
    bad_hours = invoke("trace", "drivers", "--forecast", str(path), "--hours", "soon")
    assert bad_hours.exit_code == 2 and "--hours 'soon': write FIRST-LAST" in bad_hours.output
    plain = _drivers_file(tmp_path, with_drivers=False)
    res = invoke("trace", "drivers", "--forecast", str(plain))
    assert res.exit_code == 2
    assert f"error: {plain}: no pm25_drivers (the model gave no attribution)" in res.output
    missing = invoke("trace", "drivers", "--forecast", str(tmp_path / "none.nc"))
    assert missing.exit_code == 2


def test_attribute_keeps_the_former_names_and_lists_enterprises(tmp_path):
    path = _drivers_file(tmp_path)
    res = invoke("attribute", "drivers", "--forecast", str(path))
    assert res.exit_code == 0 and "2 station(s)" in res.output
    top = invoke("--help")
    assert "trace" in top.output and "attribute" in top.output
    assert "enterprises" in invoke("attribute", "--help").output


def test_trace_pmf_bad_category():
    res = invoke(
        "trace", "pmf", "--conc", "c.csv", "--unc", "u.csv", "--factors", "2", "--category", "a=x"
    )
    assert res.exit_code == 2 and "--category 'a=x': write SPECIES=strong|weak|bad" in res.output


def test_trace_polar_prints_cpf_peaks(monkeypatch, tmp_path):
    seen = {}

    def fake(network, store, out, variable, stations, start, end, percentile, series):
        seen.update(network=network, stations=stations, percentile=percentile, series=series)
        r = {
            "cpf_threshold": 80.0,
            "cpf_peak_direction_deg": 225.0,
            "cpf_peak_speed_m_s": 3.0,
            "cpf_peak": 0.5,
            "figure": "p.png",
        }
        return {"stations": {"A": {"pm25": r}}}

    monkeypatch.setattr(pipelines.tracing.air, "polar_job", fake)
    res = invoke("trace", "polar", "--station", "A", "--percentile", "90", "--store", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert res.output.strip() == (
        "A pm25: CPF (> 80.0) peaks from 225 deg at 3.0 m/s (P = 0.50); p.png"
    )
    assert seen == {"network": "beijing", "stations": ["A"], "percentile": 90.0, "series": None}


def test_trace_polar_errors(tmp_path):
    bad = tmp_path / "g.csv"
    bad.write_text("t,f1\nnot-a-time,1\n")
    res = invoke("trace", "polar", "--contributions", str(bad))
    assert res.exit_code == 2 and f"error: {bad}: first column must be times" in res.output
    empty = invoke("trace", "polar", "--network", "no-such-network", "--store", str(tmp_path))
    assert empty.exit_code == 2 and empty.output.startswith("error: ")


def test_trace_trajectory(monkeypatch, tmp_path):
    res = {
        "trajectories": 12,
        "wind_field": "station winds",
        "pscf_peak_lat_lon": [40.0, 116.0],
        "cwt_peak_lat_lon": [41.0, 115.0],
        "figure": "t.png",
    }
    bad = invoke("trace", "trajectory", "--network", "no-such-network", "--store", str(tmp_path))
    assert bad.exit_code == 2 and bad.output.startswith("error: ")
    monkeypatch.setattr(pipelines.tracing.air, "trajectory_job", lambda *a: res)
    ok = invoke("trace", "trajectory", "--hours", "24", "--every", "6")
    assert ok.exit_code == 0 and ok.output.startswith("12 trajectories (station winds)")


def test_water_network():
    res = invoke("water", "network", "--river", "ndfa")
    assert res.exit_code == 0, res.output
    assert res.output.startswith("ndfa: ") and "target" in res.output
    bad = invoke("water", "network", "--river", "no-such-river")
    assert bad.exit_code == 2 and "no river network 'no-such-river'" in bad.output


def test_water_assess_errors(tmp_path):
    res = invoke("water", "assess", "--network", "no-such-network", "--store", str(tmp_path))
    assert res.exit_code == 2 and res.output.startswith("error: ")


def test_water_trace(monkeypatch, tmp_path):
    ranking = [
        {"reach": "R1", "entry_time": "2019-06-01 03:00", "position": 0.25, "delta": 1.5},
        {"reach": "R2", "entry_time": "2019-06-01 01:00", "position": 0.5, "delta": 3.0},
    ]
    out = {"detected": "2019-06-02 00:00", "ranking": ranking, "table": "t.csv", "figure": "f.png"}
    seen = {}

    def fake(river, store, outputs, section, variable, at, days, step, sign):
        seen.update(section=section, variable=variable, days=days, sign=sign)
        return out

    monkeypatch.setattr(pipelines.tracing.water, "trace_job", fake)
    args = ["water", "trace", "--section", "LIS", "--variable", "dissolved_oxygen", "--drop"]
    res = invoke(*args, "--store", str(tmp_path), "--outputs", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert seen == {"section": "LIS", "variable": "dissolved_oxygen", "days": 5.0, "sign": -1}
    assert "R1             entry ~2019-06-01 03:00 UTC, 25% down the reach" in res.output
    assert "INCONCLUSIVE" not in res.output and res.output.endswith("table t.csv; figure f.png\n")
    ranking[0]["mismatched_sections"] = 2
    assert "INCONCLUSIVE: even the best candidate is contradicted by 2" in invoke(*args).output
    missing = invoke("water", "trace", "--variable", "turbidity")
    assert missing.exit_code == 2 and "--section" in missing.output


def test_trace_drivers_names_an_unreadable_file(tmp_path):
    bad = tmp_path / "not_a_forecast.nc"
    bad.write_text("time,pm25\n")
    res = CliRunner().invoke(main, ["trace", "drivers", "--forecast", str(bad)])
    assert res.exit_code == 2
    assert f"forecast file {bad}: cannot be read" in res.output
