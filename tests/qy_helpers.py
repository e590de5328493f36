"""Test helpers (a uniquely named module: site-packages may hold an unrelated ``tests`` package)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write_network(tmp_path: Path, body: str, name: str = "testnet") -> Path:
    """Write a network YAML into tmp_path and return its path."""
    path = tmp_path / f"{name}.yml"
    path.write_text(body, encoding="utf-8")
    return path


GENERIC_NETWORK = """
name: {name}
title: test network
kind: air
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources:
  - adapter: column_table
    files: ["{files}"]
    time_column: time
    station_column: site
    columns:
      pm25: {{variable: pm25, units: ug m-3}}
      pm10: {{variable: pm10, units: ug m-3}}
      co: {{variable: co, units: mg m-3}}
stations:
  - {{id: A, name: Station A, lat: 39.90, lon: 116.40}}
  - {{id: B, name: Station B, lat: 39.95, lon: 116.45}}
  - {{id: C, name: Station C, lat: 39.85, lon: 116.35}}
"""


def hourly_csv(
    path: Path,
    start: str = "2016-01-01 01:00",
    hours: int = 72,
    stations=("A", "B", "C"),
    seed: int = 0,
) -> Path:
    """A clean generic CSV of smooth synthetic hourly values for the test network."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=hours, freq="h")
    rows = []
    for s in stations:
        base = 50 + 20 * np.sin(np.arange(hours) / 24 * 2 * np.pi) + rng.normal(0, 2, hours)
        for t, v in zip(times, base, strict=True):
            rows.append(f"{t:%Y-%m-%d %H:%M},{s},{v:.1f},{v * 1.6:.1f},{v / 60:.2f}")
    path.write_text("time,site,pm25,pm10,co\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def beijing_forecast_file(
    out: Path,
    issue: str | pd.Timestamp,
    daily_pm25: list[float],
    *,
    band: tuple[float, float] = (0.85, 1.15),
    drivers: bool = False,
) -> Path:
    """A Beijing forecast file (the layout of ``pipelines.forecast.files``) with a scripted episode.

    PM2.5 is constant within each 24-h window from the issue (one value per day of
    ``daily_pm25``); P10 / P90 are the mean times ``band``; with ``drivers`` three driver groups
    share the mean 50 / 30 / 20 %.
    """
    import json

    import xarray as xr

    from pipelines.config import load_network
    from pipelines.forecast.files import forecast_path

    net = load_network("beijing")
    stations = [s.id for s in net.stations]
    t = pd.Timestamp(issue)
    hourly = np.repeat(np.asarray(daily_pm25, float), 24)
    n_st, n_lead = len(stations), len(hourly)
    mean = np.broadcast_to(hourly, (n_st, 1, n_lead)).astype("float32")
    data = {
        "pm25_mean": (("station", "issue_time", "lead_time"), mean),
        "pm25_quantile": (
            ("station", "issue_time", "lead_time", "quantile"),
            np.stack([band[0] * mean, mean, band[1] * mean], axis=-1),
        ),
    }
    coords = {
        "station": stations,
        "issue_time": [t.to_datetime64()],
        "lead_time": np.arange(1, n_lead + 1, dtype="int32"),
        "quantile": [0.1, 0.5, 0.9],
    }
    if drivers:
        data["pm25_drivers"] = (
            ("station", "issue_time", "lead_time", "driver"),
            np.stack([0.5 * mean, 0.3 * mean, 0.2 * mean], axis=-1),
        )
        coords["driver"] = ["local", "meteorology", "regional"]
    ds = xr.Dataset(
        data,
        coords=coords,
        attrs={
            "network": "beijing",
            "issue_time": f"{t:%Y-%m-%dT%H:%M:%S}Z",
            "data_cutoff": f"{t:%Y-%m-%dT%H:%M:%S}Z",
            "model_uris": json.dumps({"pm25": "models:/beijing-pm25@champion"}),
            "mlflow_run_ids": json.dumps({"pm25": "abc123"}),
        },
    )
    ds["pm25_mean"].attrs["units"] = "ug m-3"
    path = forecast_path(out, "beijing", t)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path)
    return path


def cf_check(path) -> dict:
    """The IOOS compliance checker's CF 1.8 report of a netCDF file (nothing written beside it)."""
    import json
    import tempfile

    from compliance_checker.runner import CheckSuite, ComplianceChecker

    CheckSuite.load_all_available_checkers()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        ComplianceChecker.run_checker(
            str(path), ["cf:1.8"], 0, "strict", output_filename=str(out), output_format="json"
        )
        return json.loads(out.read_text())["cf:1.8"]


#: The issue time of the scripted warning decisions (UTC).
SCRIPTED_T0 = pd.Timestamp("2016-12-14 00:00")


def scripted_decision(level: str | None, days: int = 2):
    """Return a warning decision for ``level`` (None: no warning), ``days`` long from T0 + 24 h."""
    from features.warnings.rules import Decision

    start = SCRIPTED_T0 + pd.Timedelta(hours=24)
    return Decision(
        level=level,
        start=start if level else None,
        end=start + pd.Timedelta(hours=24 * days) if level else None,
        probability=0.9,
        aqi_range=(220.0, 260.0),
        primary_pollutant="pm25",
        clear_hours=24.0 if level else 96.0,
        lead_hours=24.0 if level else None,
        used_upper_bound=False,
        day_probability=[0.1, 0.9, 0.9, 0.1],
        reasons=["scripted"],
    )


def render_stub(ctx):
    """Render a warning as a minimal CAP-like and JSON text (the lifecycle tests' renderer)."""
    import json

    body = {"sent": ctx["sent"].isoformat(), "identifier": ctx["identifier"]}
    return f"<alert>{ctx['identifier']}</alert>", json.dumps(body)
