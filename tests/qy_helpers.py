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
