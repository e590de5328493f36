"""Synthetic twin: how far from known sources do PSCF, CWT and CPF put them? (issue #5)

Run: ``.venv/bin/python benchmarks/bench_source_twin.py``. Ingests the bundled Beijing data into a
temporary store, builds the wind field from the 12 stations' hourly winds (IDW on a 0.25 degree
grid) for one year (2016-03-01..2017-02-28), runs a Gaussian-puff simulator with known point
sources on that field (:mod:`benchmarks.twins.plume`), and localises the sources from the simulated
hourly series at the 12 station positions with the analyst's tools (36-h back-trajectories every
3 h from every station -> PSCF and CWT on a 0.1 degree grid; CPF by 16 wind sectors against each
station's own wind). Two source layouts, so that nothing is tuned to one. Writes BENCHMARKS.md.

Caveat: the twin uses the same wind field for dispersion and for the trajectories ("perfect
meteorology"), so the figures are a lower bound on real-world errors.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._machine import machine, write_section  # noqa: E402

LAYOUTS = {
    "A (3 sources, 50-85 km)": [
        ("SW", 39.35, 115.75, 1.0),
        ("E", 39.85, 117.35, 1.0),
        ("NW", 40.55, 115.95, 0.6),
    ],
    "B (2 sources, 100-130 km)": [
        ("S", 38.95, 116.35, 1.5),
        ("NE", 40.75, 117.45, 1.0),
    ],
}


def main() -> None:
    from benchmarks.twins.plume import Source
    from benchmarks.twins.plume_eval import run_twin
    from features.tracing.trajectory import WindField
    from features.wind import wind_components
    from pipelines.config import load_network, load_variables
    from pipelines.ingest import ingest
    from pipelines.store import StationStore

    net = load_network("beijing")
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        ingest("beijing", store)
        ds = StationStore(store, net, load_variables()["variables"]).open(
            start="2016-03-01", end="2017-02-28 23:00"
        )
    ws, wd = ds["wind_speed"].values, ds["wind_from_direction"].values
    u, v = wind_components(ws, wd)
    times = pd.DatetimeIndex(ds["time"].values)
    lat = np.array([s.lat for s in net.stations])
    lon = np.array([s.lon for s in net.stations])
    field = WindField.from_stations(
        times, lat, lon, u, v, np.arange(36.5, 43.51, 0.25), np.arange(112.5, 120.51, 0.25)
    )
    rows = []
    seconds = {}
    for name, spec in LAYOUTS.items():
        sources = [Source(*s) for s in spec]
        t0 = time.perf_counter()
        tab, extra = run_twin(field, sources, lat, lon, ws, wd, times, every_hours=3)
        seconds[name] = time.perf_counter() - t0
        tab.insert(0, "layout", name)
        rows.append(tab)
        print(tab, flush=True)
    df = pd.concat(rows)
    out = ROOT / "outputs" / "source_twin"
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "localisation_errors.csv", index=False)
    pivot = df.pivot_table(index=["layout", "source"], columns="method", values="error_km")
    body = (
        f"\nMachine: {machine()}. Command: `.venv/bin/python benchmarks/bench_source_twin.py`. "
        "Real Beijing station winds 2016-03-01..2017-02-28 (IDW field, 0.25 degree); Gaussian puffs "
        "from known sources; receptors at the 12 stations; 36-h back-trajectories every 3 h "
        "from every station; PSCF/CWT on 0.1 degree cells (openair weights), k highest cells at "
        "least 40 km apart matched to the k sources; CPF by 16 sectors at each station, error = "
        "cross-track distance at the source's range, median over stations. Same wind field for "
        "dispersion and trajectories: a lower bound on real errors.\n\n"
        "| layout | source | PSCF error km | CWT error km | CPF cross-track error km |\n|---|---|---|---|---|\n"
    )
    for (layout, src), r in pivot.iterrows():
        body += f"| {layout} | {src} | {r.get('pscf', np.nan):.0f} | {r.get('cwt', np.nan):.0f} | {r.get('cpf', np.nan):.0f} |\n"
    body += (
        "\n"
        + "; ".join(f"layout {k}: {v:.0f} s" for k, v in seconds.items())
        + " (simulation + trajectories + maps).\n"
    )
    write_section(
        str(ROOT / "BENCHMARKS.md"), "Source localisation, synthetic twin (issue #5)", body
    )


if __name__ == "__main__":
    main()
