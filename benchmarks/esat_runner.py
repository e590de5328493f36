"""Run US EPA ESAT's BatchSA on one data set; print JSON (used by bench_pmf.py).

Runs in its own virtualenv (``.venv-esat``, made by ``make bench-pmf``) because ESAT pins
versions of numpy and numba that Qingyuan's environment must not be downgraded to.
Usage: ``python esat_runner.py CON UNC FACTORS STARTS`` (plain or .xz files).
"""

from __future__ import annotations

import json
import lzma
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from esat.data.datahandler import DataHandler
from esat.model.batch_sa import BatchSA


def read_plain(con: Path, unc: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a data set with ESAT's ``DataHandler`` (decompressed first: ESAT reads plain files)."""
    tmp = Path(tempfile.mkdtemp())
    plain = []
    for f in (con, unc):
        p = tmp / f.name.removesuffix(".xz")
        p.write_bytes(lzma.decompress(f.read_bytes()) if f.suffix == ".xz" else f.read_bytes())
        plain.append(p)
    dh = DataHandler(input_path=str(plain[0]), uncertainty_path=str(plain[1]), index_col="Date")
    V, U = dh.get_data()
    labels = list(dh.features) if dh.features is not None else list(dh.input_data.columns)
    return V, U, labels


def train_batch(V: np.ndarray, U: np.ndarray, factors: int, starts: int) -> BatchSA:
    """ESAT's ``BatchSA`` with the settings of its workflow notebook, trained."""
    b = BatchSA(
        V=V,
        U=U,
        factors=factors,
        models=starts,
        method="ls-nmf",
        seed=42,
        max_iter=20000,
        init_method="col_means",
        init_norm=True,
        converge_delta=0.01,
        converge_n=50,
        parallel=True,
        cores=os.cpu_count(),
        verbose=False,
    )
    b.train()
    return b


def main() -> None:
    con, unc, factors, starts = (
        Path(sys.argv[1]),
        Path(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    V, U, _ = read_plain(con, unc)
    t0 = time.perf_counter()
    b = train_batch(V, U, factors, starts)
    wall = time.perf_counter() - t0
    best = b.results[b.best_model]
    runs = [r for r in b.results if r is not None]
    json.dump(
        {
            "wall": wall,
            "q_true": float(best.Qtrue),
            "q_robust": float(best.Qrobust),
            "F": np.asarray(best.H, float).tolist(),
            "G": np.asarray(best.W, float).tolist(),
            "converged": sum(bool(r.converged) for r in runs),
            "q_true_min": min(float(r.Qtrue) for r in runs),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
