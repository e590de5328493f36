"""The whole PMF job side by side with US EPA ESAT on the three PMF5 example sets (issue #17).

Run: ``make bench-pmf`` once (it makes ``.venv-esat``), then
``.venv/bin/python benchmarks/bench_pmf_job.py [--bsdisp 2] [--limit 1800]``.

For each data set and factor count, on one machine, one after the other:

* **Qingyuan**: :func:`pipelines.tracing.pmf.run_pmf`, the code of ``qingyuan trace pmf``: read
  and prepare, fit (20 starts), bootstrap (100), DISP, BS-DISP (``--bsdisp`` replicates), every
  table and figure; trained non-robust with every species strong and no total variable, as
  ESAT's ``BatchSA`` in ``esat_runner.py``; no MLflow run. Stage times from its ``timings``.
* **ESAT 2025.0.1** (``benchmarks/esat_job.py`` in ``.venv-esat``): ``BatchSA`` (20 models),
  ``Bootstrap`` (100), ``Displacement``, ``BSDISP`` (same replicates), each result saved. One
  stage per process, each under ``--limit`` seconds: a stage that does not finish is reported
  as ``> limit`` (a lower bound, the whole job's total too).

Compared: Q(true) of the base fits and the wall time of every stage and of the whole job.
Writes the section "PMF whole job vs ESAT (issue #17)" of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._machine import machine, write_section  # noqa: E402
from benchmarks.bench_pmf import CASES, DATA, STARTS  # noqa: E402

TITLE = "PMF whole job vs ESAT (issue #17)"
BOOTSTRAPS = 100
STAGES = ("fit", "bootstrap", "disp", "bsdisp")


CACHE = ROOT / "outputs" / "pmf_bench" / "esat_job_stages.json"


def _cached(key: str, run) -> dict:
    """ESAT stage results kept across runs (``--fresh-esat`` to measure again): minutes each."""
    cache = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    if key not in cache:
        cache[key] = run()
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        CACHE.write_text(json.dumps(cache, indent=1))
    return cache[key]


def esat_stage(
    con: Path, unc: Path, factors: int, stage: str, n: int, *, python: str, limit: float
) -> dict:
    """One ESAT stage in its own process; ``{"fit": s, stage: s}`` or ``{stage: None}`` (timed out)."""
    cmd = [python, str(ROOT / "benchmarks" / "esat_job.py"), str(con), str(unc)]
    cmd += [str(factors), str(STARTS), stage, str(n)]
    try:
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return {stage: None}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {**out["seconds"], "q_true": out["q_true"]}


def ours(con: Path, unc: Path, factors: int, bsdisp_n: int) -> dict:
    """The ``qingyuan trace pmf`` job with the same settings, in a temporary folder."""
    from pipelines.tracing.pmf import run_pmf

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        s = run_pmf(
            con,
            unc,
            factors,
            Path(tmp) / "out",
            starts=STARTS,
            robust=False,
            auto_categories=False,
            total=None,
            bootstrap_n=BOOTSTRAPS,
            disp=True,
            bsdisp_n=bsdisp_n,
            track=False,
        )
        total = time.perf_counter() - t0
    t = s["timings"]
    return {
        "read": t["read_prepare"],
        "fit": t["fit"],
        "bootstrap": t["bootstrap"],
        "disp": t["disp"],
        "bsdisp": t.get("bsdisp"),
        "tables_figures": t["tables_figures"],
        "total": total,
        "q_true": s["q_true"],
    }


def _s(v: float | None, bound: float) -> str:
    return f"> {bound:.0f}" if v is None else f"{v:.1f}"


def main() -> None:
    """Run both jobs on every case and write the table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--esat-python", default=str(ROOT / ".venv-esat" / "bin" / "python"))
    ap.add_argument("--bsdisp", type=int, default=2, help="BS-DISP replicates (both tools)")
    ap.add_argument("--limit", type=float, default=1800, help="ESAT stage time limit [s]")
    ap.add_argument("--all-cases", action="store_true", help="also Baton Rouge with 7 factors")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--fresh-esat", action="store_true", help="ignore the kept ESAT stage times")
    args = ap.parse_args()
    import numpy as np

    from models.pmf.core import fit_pmf

    rng = np.random.default_rng(0)  # compile the numba kernels before timing (cache warm)
    fit_pmf(rng.random((30, 8)) + 0.1, np.full((30, 8), 0.1), 2, starts=2, max_iter=60)
    if args.fresh_esat and CACHE.exists():
        CACHE.unlink()
    rows = []
    seen: set[str] = set()
    for name, c, u, k in CASES:
        if name in seen and not args.all_cases:  # one factor count per data set by default
            continue
        seen.add(name)
        con, unc = DATA / c, DATA / u
        mine = ours(con, unc, k, args.bsdisp)
        print(name, k, "ours", json.dumps(mine), flush=True)
        theirs: dict = {}
        # the fit on its own first: a later stage that times out records no fit time, and the
        # lower bound of ESAT's whole job must not count an unmeasured fit as the limit
        stages = (("fit", 0), ("bootstrap", BOOTSTRAPS), ("disp", 0), ("bsdisp", args.bsdisp))
        for stage, n in stages:
            key = f"{c}|{k}|{stage}|{n}|{args.limit:g}"
            r = _cached(
                key,
                lambda stage=stage, n=n, con=con, unc=unc, k=k: esat_stage(
                    con, unc, k, stage, n, python=args.esat_python, limit=args.limit
                ),
            )
            if r.get("fit") is not None:
                theirs.setdefault("fit", r["fit"])
            if stage == "fit":  # read + fit: what every later stage's process repeats first
                theirs["overhead"] = r.get("total")
            if r.get("q_true") is not None:
                theirs.setdefault("q_true", r["q_true"])
            theirs[stage] = r.get(stage)
            print(name, k, "esat", stage, r.get(stage), flush=True)
        done = [theirs.get(s) for s in STAGES]
        e_total = None if any(v is None for v in done) else sum(done)
        # a stage that timed out ran for at least the limit less its process's read and fit
        bound = args.limit - (theirs.get("overhead") or 0.0)
        theirs["bound"] = {s: (args.limit if s == "fit" else bound) for s in STAGES}
        e_lower = sum(
            v if v is not None else theirs["bound"][s] for s, v in zip(STAGES, done, strict=True)
        )
        rows.append((name, k, mine, theirs, e_total, e_lower))
    lines = [
        f"Command: `.venv/bin/python benchmarks/bench_pmf_job.py --bsdisp {args.bsdisp} "
        f"--limit {args.limit:.0f}`; {machine()}.",
        "",
        f"Both tools: {STARTS} starts, non-robust, every species strong, no total variable; "
        f"bootstrap {BOOTSTRAPS}, DISP on all species, BS-DISP {args.bsdisp} replicates. Times in s; "
        "ESAT's stages each in their own process (its fit repeated there, counted once); "
        f"`> t`: the stage did not finish within the {args.limit:.0f} s limit of its process, "
        "t being the limit less that process's read and fit (a lower bound; the whole job's "
        "lower bound adds these). ESAT's times leave out its reading and saving; ours include "
        "reading, tables and figures.",
        "",
        "| data | factors | Q(true) ours / ESAT | fit | bootstrap | DISP | BS-DISP | tables+figures (ours) | whole job ours / ESAT | ESAT / ours |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, k, m, e, e_total, e_lower in rows:
        q_e = f"{e['q_true']:,.0f}" if e.get("q_true") else "-"
        cells = [
            f"{m[s] if m[s] is not None else 0:.1f} / {_s(e.get(s), e['bound'][s])}" for s in STAGES
        ]
        ratio = f"{e_total / m['total']:.1f}x" if e_total else f"> {e_lower / m['total']:.1f}x"
        whole = (
            f"{m['total']:.0f} / {e_total:.0f}"
            if e_total
            else f"{m['total']:.0f} / > {e_lower:.0f}"
        )
        lines.append(
            f"| {name} | {k} | {m['q_true']:,.0f} / {q_e} | "
            + " | ".join(cells)
            + f" | {m['tables_figures']:.1f} | {whole} | {ratio} |"
        )
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(str(ROOT / "BENCHMARKS.md"), TITLE, body)


if __name__ == "__main__":
    main()
