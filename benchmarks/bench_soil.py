"""Soil (issue #18): kriging cross-validation on Meuse, and a synthetic provincial survey.

Run: ``.venv/bin/python benchmarks/bench_soil.py`` (about 5-10 min on 2 shared cores);
``--samples N`` survey size (default 100,000), ``--no-write`` prints the section without
touching BENCHMARKS.md. Everything is written in a temporary folder.

1. Meuse (155 topsoil samples, read from the installed scikit-gstat): leave-one-out CV of
   ordinary kriging of log contents (spherical variogram fitted by scikit-gstat) against IDW
   (power 2, all samples) for Cd, Cu, Pb, Zn; and, for log zinc, kriging with the model gstat's
   documentation fits by eye, ``vgm(.55, "Sph", 900, .05)``.
2. A SYNTHETIC survey: N sampling points uniformly over 300 km x 300 km in UTM 50N, 8 metals
   (GB 15618's), lognormal contents with spatial correlation (random Fourier features, ~20 km),
   pH 4.5-8.5 and paddy / other land use at random, 1 % below a detection limit: written as the
   long CSV of the ``soil_csv`` adapter, then ``ingest``, ``assess`` and ``map`` (local
   kriging with the 32 nearest samples on a 2 km grid, LOO on a random 5,000) are each run in a
   fresh process, timed (wall) and measured (peak RSS).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._machine import machine, write_section  # noqa: E402

TITLE = "Soil: kriging on Meuse and a provincial survey (issue #18)"
GSTAT_DOC = "https://www.rdocumentation.org/packages/gstat/versions/1.1-6/topics/gstat"
METALS = {  # analyte: (median mg/kg, log sd)
    "Cd": (0.25, 0.6),
    "Hg": (0.08, 0.7),
    "As": (10.0, 0.4),
    "Pb": (35.0, 0.4),
    "Cr": (70.0, 0.3),
    "Cu": (25.0, 0.4),
    "Ni": (30.0, 0.35),
    "Zn": (80.0, 0.35),
}
NETWORK = """
name: survey
title: SYNTHETIC provincial soil survey (benchmark)
kind: soil
crs: EPSG:32650
campaign: s2026
analytes: {{Cd: soil_cd, Hg: soil_hg, As: soil_as, Pb: soil_pb, Cr: soil_cr, Cu: soil_cu, Ni: soil_ni, Zn: soil_zn}}
sources:
  - adapter: soil_csv
    files: [{csv}]
map_resolution_m: 2000
map_neighbours: 32
synthetic: true
assumptions: ["SYNTHETIC data (benchmark)"]
"""


def meuse_cv() -> tuple[list[str], dict]:
    """Rows of the Meuse CV table and the log-zinc reference comparison."""
    from features.soil.kriging import VariogramModel, kriging_loo
    from pipelines.soil.maps import cross_validate
    from pipelines.soil.sources import meuse_file

    d = pd.read_csv(meuse_file())
    xy = d[["x", "y"]].to_numpy(float)
    rows = []
    for metal in ("cadmium", "copper", "lead", "zinc"):
        z = np.log(d[metal].to_numpy(float))
        cv = cross_validate(xy, z)
        vm = cv["variogram"]
        rows.append(
            f"| {metal} | {vm.nugget:.3f} / {vm.psill:.3f} / {vm.range:.0f} | "
            f"{cv['ok_rmse_log']:.3f} | {cv['ok_msse']:.2f} | {cv['idw_rmse_log']:.3f} | "
            f"{cv['ok_rmse_mgkg']:.1f} | {cv['idw_rmse_mgkg']:.1f} |"
        )
    z = np.log(d["zinc"].to_numpy(float))
    ref = kriging_loo(xy, z, VariogramModel("spherical", 0.05, 0.55, 900.0))
    return rows, {"rmse": ref.rmse, "msse": ref.msse}


def make_survey(n: int, path: Path, seed: int = 18) -> None:
    """Write the synthetic survey's long CSV (n samples x 8 analytes)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(350_000, 650_000, n)
    y = rng.uniform(3_300_000, 3_600_000, n)
    ph = np.round(rng.uniform(4.5, 8.5, n), 1)
    sub = np.where(rng.random(n) < 0.4, "paddy", "other")
    parts = []
    for k, (name, (median, sd)) in enumerate(METALS.items()):
        w = rng.normal(0, 1 / 20_000, (64, 2))  # ~20 km correlation
        phase = rng.uniform(0, 2 * np.pi, 64)
        field = np.sqrt(2 / 64) * np.cos(np.column_stack([x, y]) @ w.T + phase).sum(axis=1)
        val = median * np.exp(sd * (0.85 * field + 0.5 * rng.normal(size=n)))
        text = np.char.mod("%.4g", val).astype(object)
        dl = median / 20
        text[val < dl] = f"<{dl:.3g}"
        parts.append(
            pd.DataFrame(
                {
                    "sample_id": np.char.add("S", np.arange(n).astype(str)),
                    "plot": np.char.add("P", (np.arange(n) // 4).astype(str)),
                    "x": np.round(x, 1),
                    "y": np.round(y, 1),
                    "depth_top_cm": 0,
                    "depth_bottom_cm": 20,
                    "land_use": "agricultural",
                    "land_subtype": sub,
                    "ph": ph,
                    "date": "2026-05-01",
                    "campaign": "s2026",
                    "analyte": name,
                    "value": text,
                    "unit": "mg/kg",
                    "method": "synthetic",
                    "dl": f"{dl:.3g}",
                }
            )
        )
        del k
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)


def _phase(args: argparse.Namespace) -> None:
    """One timed phase in this (fresh) process; prints JSON."""
    import resource

    from pipelines.soil import jobs

    t0 = time.perf_counter()
    if args.phase == "ingest":
        r = jobs.ingest_job(args.network, args.store)
        extra = {k: r[k] for k in ("rows_in", "rows_stored", "rows_quarantined", "balanced")}
    elif args.phase == "assess":
        r = jobs.assess_job(args.network, args.store, args.out)
        extra = {"samples": r["samples"]}
    else:
        r = jobs.map_job(args.network, args.store, args.out)
        cv = r["cv"]
        extra = {
            "neighbourhood": r["neighbourhood"],
            "ok_rmse_log": cv["ok_rmse_log"].round(3).tolist(),
            "idw_rmse_log": cv["idw_rmse_log"].round(3).tolist(),
            "msse": cv["ok_msse"].round(2).tolist(),
        }
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": secs, "peak_mib": peak, **extra}))


def main() -> None:
    """Run both parts and write the section."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--phase", choices=["ingest", "assess", "map"])
    ap.add_argument("--network")
    ap.add_argument("--store")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.phase:
        _phase(args)
        return
    rows, ref = meuse_cv()
    with tempfile.TemporaryDirectory(prefix="bench-soil-") as tmp:
        work = Path(tmp)
        csv = work / "survey.csv"
        t0 = time.perf_counter()
        make_survey(args.samples, csv)
        gen = time.perf_counter() - t0
        net = work / "survey.yml"
        net.write_text(NETWORK.format(csv=csv), encoding="utf-8")
        timings = {}
        for phase in ("ingest", "assess", "map"):
            cmd = [sys.executable, __file__, "--phase", phase, "--network", str(net)]
            cmd += ["--store", str(work / "store"), "--out", str(work / "out")]
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if res.returncode:
                raise SystemExit(f"{phase} failed:\n{res.stderr[-3000:]}")
            timings[phase] = json.loads(res.stdout.strip().splitlines()[-1])
            print(phase, timings[phase], flush=True)
    ing, ass, mp = timings["ingest"], timings["assess"], timings["map"]
    total = ing["seconds"] + ass["seconds"] + mp["seconds"]
    metals = list(METALS)
    body = f"""
Measured by `benchmarks/bench_soil.py` on {machine()} (2 cores shared with other work).

**Meuse** (155 topsoil samples, `sp::meuse` read from the installed scikit-gstat; GPL-3.0 data,
not copied). Leave-one-out cross-validation of ordinary kriging of log contents (spherical
variogram fitted by scikit-gstat: 15 lags to one third of the diagonal, with nugget) against
inverse-distance weighting (power 2, every sample). RMSE on the log scale and, back-transformed
with exp, in mg kg-1; MSSE = mean(e² / σ²) of the kriging, 1 when the kriging variance is right.

| metal | nugget / partial sill / range [m] | OK RMSE (log) | OK MSSE | IDW RMSE (log) | OK RMSE [mg/kg] | IDW RMSE [mg/kg] |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Published reference: gstat's documentation ({GSTAT_DOC}) fits ln(zinc) by eye with
`vgm(.55, "Sph", 900, .05)`; our fit of log zinc is close to it (table). Leave-one-out kriging
with that model gives RMSE {ref["rmse"]:.3f} and MSSE {ref["msse"]:.2f} (same solver). A
published cross-validation RMSE for Meuse was not found with the search tool, so none is quoted;
the `vgm(0.59, "Sph", 896, 0.05)` of the issue's brief was not found either.

**Synthetic provincial survey** (SYNTHETIC: {args.samples:,} samples x 8 metals =
{args.samples * 8:,} rows over 300 km x 300 km, UTM 50N; generation {gen:.0f} s, not counted).
Each step in a fresh process (`qingyuan soil ingest | assess | map`'s job functions):

| step | wall [s] | peak RSS [MiB] | notes |
|---|---|---|---|
| ingest (read CSV, checks, CF point netCDF) | {ing["seconds"]:.1f} | {ing["peak_mib"]:.0f} | rows in {ing["rows_in"]:,}, stored {ing["rows_stored"]:,}, quarantined {ing["rows_quarantined"]:,}, balanced {ing["balanced"]} |
| assess (classes, Pi, Nemerow, hot spots) | {ass["seconds"]:.1f} | {ass["peak_mib"]:.0f} | {ass["samples"]:,} samples |
| map (8 metals: variogram, LOO, OK + indicator kriging, figures) | {mp["seconds"]:.1f} | {mp["peak_mib"]:.0f} | {mp["neighbourhood"]}; 2 km grid |
| **total** | **{total:.1f}** | | |

How {args.samples:,} points are kriged: the variogram is fitted for the neighbourhood
(`features.soil.kriging.fit_variogram(n_neighbours=32)`: 1,500 samples, half random and half in
clusters of nearest neighbours, so that pairs at the survey's own ~1 km spacing are there; lags
up to 3x the median distance to the 32nd neighbour; short lags weighted more); kriging uses the
32 nearest samples per grid cell (scipy cKDTree, batched numpy solves of the 33 x 33 systems,
4,096 cells a batch) on a 2 km grid (22,500 cells); leave-one-out CV of a random 5,000 samples,
each from its 32 nearest among all the others. LOO RMSE (log) per metal ({", ".join(metals)}):
OK {mp["ok_rmse_log"]}, IDW {mp["idw_rmse_log"]}; MSSE {mp["msse"]}. Kriging beats IDW for
{sum(o < i for o, i in zip(mp["ok_rmse_log"], mp["idw_rmse_log"], strict=True))} of
{len(metals)} metals; MSSE {min(mp["msse"]):.2f}-{max(mp["msse"]):.2f} (1 = kriging variance right).
Before the neighbourhood fit (a random 1,500 with lags to a third of the 424 km diagonal, and
the LOO on a thinned 5,000) kriging was no better than IDW and the MSSE was 1.5-7.9: the
variogram had no pairs at the survey's spacing and no nugget.
"""
    print(body)
    if not args.no_write:
        write_section(str(ROOT / "BENCHMARKS.md"), TITLE, body)


if __name__ == "__main__":
    main()
