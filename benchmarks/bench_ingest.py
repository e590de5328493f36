"""Ingest benchmarks: the bundled Beijing set and a synthetic national network.

Run: ``.venv/bin/python benchmarks/bench_ingest.py`` (or ``make bench``). Each case runs in a fresh
subprocess so that peak RSS (``ru_maxrss``) belongs to that case alone. Figures are appended to
BENCHMARKS.md with the machine and the command.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._machine import machine, write_section  # noqa: E402

CASE = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pandas as pd
    from pipelines.ingest import ingest
    t0 = time.perf_counter()
    rep = ingest({network!r}, Path({store!r}), now=pd.Timestamp("2030-01-01", tz="UTC"))
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({{"wall_s": wall, "peak_rss_mb": rss, "rows_in": rep.rows_in,
                      "rows_stored": rep.rows_stored, "rows_quarantined": rep.rows_quarantined,
                      "partitions": len(rep.partitions_written)}}))
    """
)


def national_network(tmp: Path, n_stations: int = 2000, days: int = 31) -> Path:
    """Write a synthetic national network: YAML + one generic CSV of hourly values."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(42)
    lat = rng.uniform(20, 45, n_stations)
    lon = rng.uniform(100, 125, n_stations)
    times = pd.date_range("2016-01-01 01:00", periods=24 * days, freq="h")
    t = np.arange(len(times))
    base = 60 + 30 * np.sin(2 * np.pi * t / 24)
    rows = []
    ids = [f"{i + 1000:04d}A" for i in range(n_stations)]
    stamp = times.strftime("%Y-%m-%d %H:%M").to_numpy()
    for i, sid in enumerate(ids):
        noise = rng.normal(0, 5, (6, len(t)))
        pm25 = np.abs(base + noise[0] + 20 * np.sin(i))
        vals = np.stack(
            [
                pm25,
                pm25 * 1.6,
                np.abs(10 + noise[1]),
                np.abs(40 + noise[2]),
                np.abs(0.8 + noise[3] / 20),
                np.abs(80 - 0.5 * base + noise[4]),
            ],
            axis=1,
        )
        block = [
            f"{s},{sid}," + ",".join(f"{x:.1f}" for x in v)
            for s, v in zip(stamp, vals, strict=True)
        ]
        rows.extend(block)
    data = tmp / "national.csv"
    data.write_text("time,site,pm25,pm10,so2,no2,co,o3\n" + "\n".join(rows) + "\n")
    stations = "\n".join(
        f"  - {{id: '{s}', lat: {a:.4f}, lon: {o:.4f}}}"
        for s, a, o in zip(ids, lat, lon, strict=True)
    )
    yml = tmp / "national.yml"
    yml.write_text(
        textwrap.dedent(f"""
        name: national
        kind: air
        time_zone: Asia/Shanghai
        time_label: interval_end
        frequency: 1h
        sources:
          - adapter: column_table
            files: ["{data}"]
            time_column: time
            station_column: site
            columns:
              pm25: {{variable: pm25, units: ug m-3}}
              pm10: {{variable: pm10, units: ug m-3}}
              so2: {{variable: so2, units: ug m-3}}
              no2: {{variable: no2, units: ug m-3}}
              co: {{variable: co, units: mg m-3}}
              o3: {{variable: o3, units: ug m-3}}
        stations:
        """)
        + stations
        + "\n"
    )
    return yml


def run_case(network: str, store: Path) -> dict:
    code = CASE.format(root=str(ROOT), network=network, store=str(store))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results["beijing"] = run_case("beijing", tmp / "store_bj")
        yml = national_network(tmp)
        results["national"] = run_case(str(yml), tmp / "store_nat")
    bj, nat = results["beijing"], results["national"]
    body = (
        f"\nMachine: {machine()}. Command: `.venv/bin/python benchmarks/bench_ingest.py` (each case in a fresh\n"
        "process; wall time of `pipelines.ingest.ingest` = read + normalise + QC + atomic store write;\n"
        "peak RSS = `ru_maxrss` of that process).\n\n"
        "| case | rows in | stored | quarantined | partitions | wall [s] | target | peak RSS [MB] | target |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        f"| Beijing, 12 stations x 35,064 h (bundled) | {bj['rows_in']:,} | {bj['rows_stored']:,} | "
        f"{bj['rows_quarantined']} | {bj['partitions']} | {bj['wall_s']:.1f} | < 30 | {bj['peak_rss_mb']:.0f} | < 2048 |\n"
        f"| Synthetic national, 2,000 stations x 31 d x 6 pollutants | {nat['rows_in']:,} | {nat['rows_stored']:,} | "
        f"{nat['rows_quarantined']} | {nat['partitions']} | {nat['wall_s']:.1f} | < 60 | {nat['peak_rss_mb']:.0f} | - |\n"
    )
    write_section(str(ROOT / "BENCHMARKS.md"), "Ingest (issue #2)", body)
    print(body)


if __name__ == "__main__":
    main()
