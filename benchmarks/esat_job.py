"""Run US EPA ESAT's whole PMF job on one data set; print JSON of stage timings (bench_pmf_job.py).

Runs in ``.venv-esat`` (see ``benchmarks/esat_runner.py``). Stages, each timed: read the files
(``DataHandler``), ``BatchSA`` (``starts`` models, ls-nmf, the settings of ``esat_runner.py``),
``Bootstrap`` (``bs_n`` replicates, block size as ours: ``round(n ** (1/3))``), ``Displacement``
(all species) and ``BSDISP`` (``bsdisp_n`` replicates of its own bootstrap, all species), then the
results saved (``save`` of each: ESAT's equivalent of our tables; ESAT draws figures only on
request, in plotly, so none are drawn). One stage per process, so that the caller can give each
stage its own time limit: every process reads and fits again (same seed, same models) and
times the fit and the one stage asked for.
Usage: ``python esat_job.py CON UNC FACTORS STARTS STAGE N`` with STAGE ``fit``, ``bootstrap``
(N replicates), ``disp`` or ``bsdisp`` (N replicates).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from esat.error.bootstrap import Bootstrap
from esat.error.bs_disp import BSDISP
from esat.error.displacement import Displacement

sys.path.insert(0, str(Path(__file__).resolve().parent))
from esat_runner import read_plain, train_batch  # noqa: E402


def main() -> None:
    con, unc = Path(sys.argv[1]), Path(sys.argv[2])
    factors, starts = int(sys.argv[3]), int(sys.argv[4])
    stage, n_rep = sys.argv[5], int(sys.argv[6])
    bs_n = n_rep if stage == "bootstrap" else 0
    disp = stage == "disp"
    bsdisp_n = n_rep if stage == "bsdisp" else 0
    tmp = Path(tempfile.mkdtemp())
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    V, U, labels = read_plain(con, unc)
    times["read"] = time.perf_counter() - t0
    t = time.perf_counter()
    batch = train_batch(V, U, factors, starts)
    times["fit"] = time.perf_counter() - t
    best = batch.results[batch.best_model]
    block = max(1, round(V.shape[0] ** (1 / 3)))
    if bs_n:
        t = time.perf_counter()
        bs = Bootstrap(
            sa=best,
            feature_labels=labels,
            model_selected=batch.best_model,
            bootstrap_n=bs_n,
            block_size=block,
            threshold=0.6,
            seed=42,
        )
        bs.run()
        times["bootstrap"] = time.perf_counter() - t
        bs.save(bs_name="bs", output_directory=str(tmp), pickle_result=False)
    if disp:
        t = time.perf_counter()
        d = Displacement(sa=best, feature_labels=labels, model_selected=batch.best_model)
        d.run()
        times["disp"] = time.perf_counter() - t
        d.save(disp_name="disp", output_directory=str(tmp), pickle_result=False)
    if bsdisp_n:
        t = time.perf_counter()
        b = BSDISP(
            sa=best,
            feature_labels=labels,
            model_selected=batch.best_model,
            bootstrap_n=bsdisp_n,
            block_size=block,
            threshold=0.6,
            seed=42,
        )
        b.run()
        times["bsdisp"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    print(
        json.dumps({"seconds": times, "q_true": float(best.Qtrue), "q_robust": float(best.Qrobust)})
    )


if __name__ == "__main__":
    main()
