"""PMF side by side with US EPA's ESAT on the three PMF5 example data sets (issue #5).

Run: ``make bench-pmf``: installs the benchmark-only dependency ``esat`` into its own
environment ``.venv-esat`` (ESAT pins numpy/numba versions Qingyuan's environment must keep
newer), then runs ``.venv/bin/python benchmarks/bench_pmf.py``, which runs ESAT there
(``benchmarks/esat_runner.py``) and Qingyuan here, one after the other. Data: ``data/esat_examples/`` (bundled copies of the
files ESAT ships; SOURCE.md there).

For each data set and factor count, in the same process on the same machine:

* ESAT ``BatchSA`` (timed around ``train()`` in its process) with the settings of ESAT's own workflow notebook: ``ls-nmf``, 20 models,
  seed 42, ``max_iter`` 20000, convergence 0.01 over 50 iterations, ``parallel=True`` on all cores;
  the best model is ESAT's (lowest Q(robust)).
* Qingyuan ``fit_pmf`` with the same number of starts and the same convergence rule, trained
  non-robust like ESAT's ``BatchSA`` (engine ``hals``); best run by Q(robust) as ESAT. The numba
  kernel is compiled before timing (its one-off compile time is reported separately).

Both get the same matrices (every species as given, no S/N categories). Compared: best Q(true)
and Q(robust), factors matched one to one by the Pearson r of their contributions
(:func:`models.pmf.error_estimates.match_factors`, Hungarian on r), with the cosines of the
matched profiles, and wall time. Writes BENCHMARKS.md's section
and ``outputs/pmf_bench/pmf_vs_esat.csv``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._machine import machine, write_section  # noqa: E402

DATA = ROOT / "data" / "esat_examples"
CASES = [  # (name, concentration file, uncertainty file, factors)
    ("Baton Rouge", "Dataset-BatonRouge-con.csv.xz", "Dataset-BatonRouge-unc.csv.xz", 6),
    ("Baton Rouge", "Dataset-BatonRouge-con.csv.xz", "Dataset-BatonRouge-unc.csv.xz", 7),
    ("St. Louis", "Dataset-StLouis-con.csv.xz", "Dataset-StLouis-unc.csv.xz", 5),
    ("Baltimore", "Dataset-Baltimore_con.txt.xz", "Dataset-Baltimore_unc.txt.xz", 7),
]
STARTS = 20


def run_esat(con: Path, unc: Path, factors: int, python: str) -> dict:
    """ESAT in its own environment (``python``), timed there around ``BatchSA.train``."""
    import json
    import subprocess

    done = subprocess.run(
        [
            python,
            str(ROOT / "benchmarks" / "esat_runner.py"),
            str(con),
            str(unc),
            str(factors),
            str(STARTS),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["F"] = np.asarray(out["F"], float)
    out["G"] = np.asarray(out["G"], float)
    return out


def run_ours(con: Path, unc: Path, factors: int) -> dict:
    from models.pmf.core import fit_pmf
    from pipelines.tracing.pmf_io import read_pmf_input

    data = read_pmf_input(con, unc)
    t0 = time.perf_counter()
    res = fit_pmf(data.x, data.u, factors, starts=STARTS, seed=42, robust=False)
    wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    lsnmf = fit_pmf(data.x, data.u, factors, starts=STARTS, seed=42, robust=False, method="ls-nmf")
    lsnmf_wall = time.perf_counter() - t0
    return {
        "lsnmf_q_true": lsnmf.q_true,
        "lsnmf_wall": lsnmf_wall,
        "wall": wall,
        "q_true": res.q_true,
        "q_robust": res.q_robust,
        "F": res.F,
        "G": res.G,
        "converged": sum(r.converged for r in res.runs),
        "q_true_min": min(r.q_true for r in res.runs),
        "q_exp": res.q_exp,
    }


def main() -> None:
    import argparse

    from models.pmf.core import fit_pmf

    ap = argparse.ArgumentParser()
    ap.add_argument("--esat-python", default=str(ROOT / ".venv-esat" / "bin" / "python"))
    args = ap.parse_args()
    from models.pmf.error_estimates import match_factors

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    fit_pmf(rng.random((30, 8)) + 0.1, np.full((30, 8), 0.1), 2, starts=2, max_iter=60)
    compile_s = time.perf_counter() - t0
    rows = []
    for name, c, u, k in CASES:
        con, unc = DATA / c, DATA / u
        esat = run_esat(con, unc, k, args.esat_python)
        ours = run_ours(con, unc, k)
        # factors matched one to one by the correlation of their contributions (a profile cosine
        # cannot tell apart factors one or two species dominate); cosines of the matched profiles
        match = match_factors(esat["G"], ours["G"])
        r_g = match.r_matched
        a = esat["F"] / np.linalg.norm(esat["F"], axis=1, keepdims=True)
        b = ours["F"][match.order] / np.linalg.norm(ours["F"][match.order], axis=1, keepdims=True)
        cos = (a * b).sum(axis=1)
        rows.append(
            {
                "data": name,
                "factors": k,
                "esat_q_true": esat["q_true"],
                "ours_q_true": ours["q_true"],
                "q_true_diff_percent": 100 * (ours["q_true"] / esat["q_true"] - 1),
                "esat_q_robust": esat["q_robust"],
                "ours_q_robust": ours["q_robust"],
                "esat_q_true_min_of_runs": esat["q_true_min"],
                "ours_q_true_min_of_runs": ours["q_true_min"],
                "q_exp": ours["q_exp"],
                "min_profile_cosine": float(cos.min()),
                "profile_cosines": " ".join(f"{v:.3f}" for v in sorted(cos)),
                "contribution_r": " ".join(f"{v:.3f}" for v in sorted(r_g)),
                "esat_converged": esat["converged"],
                "ours_converged": ours["converged"],
                "esat_wall_s": esat["wall"],
                "ours_wall_s": ours["wall"],
                "speed_up": esat["wall"] / ours["wall"],
                "ours_lsnmf_q_true": ours["lsnmf_q_true"],
                "ours_lsnmf_wall_s": ours["lsnmf_wall"],
            }
        )
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    out = ROOT / "outputs" / "pmf_bench"
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "pmf_vs_esat.csv", index=False)
    body = (
        f"\nMachine: {machine()}. Command: `make bench-pmf` (= `.venv/bin/python "
        "benchmarks/bench_pmf.py`, ESAT 2025.0.1 in `.venv-esat`). ESAT and Qingyuan ran one "
        f"after the other on the same machine in the same run; {STARTS} random starts each, convergence "
        "0.01 over 50 iterations for both, both trained non-robust, best run by Q(robust). "
        f"Numba compile time of Qingyuan's kernel (once per installation, cached): {compile_s:.1f} s, "
        "not included below.\n\n"
        "| data | factors | Q(true) ESAT | Q(true) ours | diff | Q(robust) ESAT | Q(robust) ours "
        "| lowest Q(true) of the 20: ESAT / ours | Q_exp | matched profiles: cosines | ESAT wall s "
        "| ours wall s | speed-up |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    for r in rows:
        body += (
            f"| {r['data']} | {r['factors']} | {r['esat_q_true']:,.1f} | {r['ours_q_true']:,.1f} "
            f"| {r['q_true_diff_percent']:+.2f} % | {r['esat_q_robust']:,.1f} | {r['ours_q_robust']:,.1f} "
            f"| {r['esat_q_true_min_of_runs']:,.1f} / {r['ours_q_true_min_of_runs']:,.1f} | {r['q_exp']:,.0f} "
            f"| {r['profile_cosines']} | {r['esat_wall_s']:.1f} | {r['ours_wall_s']:.2f} | {r['speed_up']:.1f}x |\n"
        )
    body += (
        "\nA negative difference is a lower Q: a better weighted fit of the same data with the same "
        "uncertainties. Qingyuan starts G and F from |N(0,1)| scaled like the data; ESAT clips "
        "negative normal draws to 1e-12, and multiplicative updates cannot revive entries that start "
        "near zero, which is why its runs stop at higher Q (Qingyuan's `ls-nmf` engine, ESAT's "
        "algorithm in numpy from Qingyuan's starts, reaches the Q(true) below).\n\n"
        "| data | factors | Q(true), Qingyuan `ls-nmf` engine | wall s |\n|---|---|---|---|\n"
    )
    for r in rows:
        body += (
            f"| {r['data']} | {r['factors']} | {r['ours_lsnmf_q_true']:,.1f} "
            f"| {r['ours_lsnmf_wall_s']:.1f} |\n"
        )
    write_section(str(ROOT / "BENCHMARKS.md"), "PMF vs US EPA ESAT (issue #5)", body)


if __name__ == "__main__":
    main()
