"""The PMF job: read files -> prepare -> fit -> error estimates -> outputs -> MLflow run.

Everything an analyst gets from one ``qingyuan trace pmf`` call lands in one output folder
(tables, figures, ``summary.json``) and one MLflow run of the ``qingyuan-pmf`` experiment
(parameters, Q values, the folder as artifacts).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.pmf.core import PMFResult, fit_pmf
from models.pmf.error_estimates import bootstrap, displacement, fpeak
from models.pmf.prep import prepare
from models.pmf.report import TABLES_WITHOUT_INDEX, pmf_tables
from pipelines.tracing.pmf_figures import FIGURE_FILES, pmf_figures
from pipelines.tracing.pmf_io import read_pmf_input

__all__ = ["run_pmf", "write_pmf_outputs"]


def write_pmf_outputs(
    x: np.ndarray,
    u: np.ndarray,
    res: PMFResult,
    out: Path,
    times: pd.DatetimeIndex | None = None,
    total: str | None = None,
) -> dict[str, str]:
    """Write every table (CSV) and figure (PNG) of a solution to ``out``; return their paths.

    Tables come from :func:`models.pmf.report.pmf_tables`, figures from
    :func:`pipelines.tracing.pmf_figures.pmf_figures`.
    """
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for name, table in pmf_tables(x, u, res, total).items():
        p = out / f"{name}.csv"
        table.to_csv(p, index=name not in TABLES_WITHOUT_INDEX)
        files[name] = str(p)
    for name, fig in pmf_figures(x, u, res, times):
        p = out / FIGURE_FILES[name]
        fig.savefig(p, dpi=110, bbox_inches="tight")
        plt.close(fig)
        files[name] = str(p)
    return files


def run_pmf(
    concentration: Path,
    uncertainty: Path,
    factors: int,
    out: Path,
    starts: int = 20,
    seed: int = 42,
    robust: bool = True,
    categories: dict[str, str] | None = None,
    auto_categories: bool = True,
    total: str | None = None,
    extra_pct: float = 0.0,
    bootstrap_n: int = 20,
    disp: bool = False,
    fpeak_strengths: tuple[float, ...] = (),
    nonpositive: str = "error",
    track: bool = True,
) -> dict[str, Any]:
    """Run PMF on a pair of files and write everything to ``out``.

    Parameters
    ----------
    categories : dict, optional
        Species -> strong / weak / bad chosen by the analyst (override the S/N suggestion).
    auto_categories : bool
        Apply the S/N categories (PMF5's bad < 0.5 <= weak < 1 <= strong) to species the
        analyst did not categorise; False: every such species is strong.
    total : str, optional
        The total variable (e.g. ``PM2.5``): set weak; factor shares of it are reported.
    disp : bool
        Run the displacement error estimate (a few minutes on 40 species).
    """
    t0 = time.perf_counter()
    data = read_pmf_input(Path(concentration), Path(uncertainty), nonpositive)
    cats = dict(categories or {})
    if not auto_categories:
        cats = {s: cats.get(s, "strong") for s in data.species}
        if total and total not in (categories or {}):
            cats[total] = "weak"
    prep = prepare(data.x, data.u, data.species, data.samples, categories=cats, total=total)
    res = fit_pmf(
        prep.x,
        prep.u,
        factors,
        starts=starts,
        seed=seed,
        robust=robust,
        species=prep.species,
        samples=prep.samples,
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = write_pmf_outputs(prep.x, prep.u, res, out, data.times, total)
    prep.species_table().to_csv(out / "species_sn_categories.csv", index=False)
    files["species_sn_categories"] = str(out / "species_sn_categories.csv")
    summary: dict[str, Any] = {
        "inputs": {"concentration": str(concentration), "uncertainty": str(uncertainty)},
        "read_report": data.report,
        "treatments": prep.treatments,
        "dropped_species": prep.dropped_species,
        "categories": prep.categories,
        "settings": res.settings,
        "q_true": res.q_true,
        "q_robust": res.q_robust,
        "q_exp": res.q_exp,
        "q_true_over_q_exp": res.q_true / res.q_exp if res.q_exp > 0 else None,
        "best_run": res.best,
        "runs_converged": sum(r.converged for r in res.runs),
    }
    if bootstrap_n:
        bs = bootstrap(prep.x, prep.u, res, bootstrap_n, seed=seed)
        bs.mapping.to_csv(out / "bootstrap_mapping.csv", index=False)
        bs.profile_percentiles(prep.species).to_csv(out / "bootstrap_profiles.csv", index=False)
        files["bootstrap_mapping"] = str(out / "bootstrap_mapping.csv")
        files["bootstrap_profiles"] = str(out / "bootstrap_profiles.csv")
        summary["bootstrap"] = {
            "replicates": bootstrap_n,
            "block": bs.block,
            "mapped_percent": bs.mapping["mapped_percent"].round(1).tolist(),
            "q_median": float(np.nanmedian(bs.q)),
        }
    if disp:
        d = displacement(prep.x, prep.u, res)
        d.intervals.to_csv(out / "disp_intervals.csv", index=False)
        d.swaps.to_csv(out / "disp_swaps.csv", index=False)
        files["disp_intervals"] = str(out / "disp_intervals.csv")
        files["disp_swaps"] = str(out / "disp_swaps.csv")
        summary["disp"] = {
            "swaps": d.swaps.to_dict(orient="records"),
            "largest_dq_decrease": d.largest_dq_decrease,
        }
    if fpeak_strengths:
        table, _ = fpeak(prep.x, prep.u, res, tuple(fpeak_strengths))
        table.to_csv(out / "fpeak.csv", index=False)
        files["fpeak"] = str(out / "fpeak.csv")
        summary["fpeak"] = table.to_dict(orient="records")
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary["files"] = files
    if track:
        summary["mlflow_run_id"] = _log(summary, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return summary


def _log(summary: dict[str, Any], out: Path) -> str:
    """One MLflow run (experiment ``qingyuan-pmf``): parameters, Q values, the output folder."""
    import mlflow

    from models import tracking
    from pipelines.config import forecast_config
    from pipelines.config.locations import project_root

    cfg = {**forecast_config()["mlflow"], "experiment": "qingyuan-pmf"}
    exp = tracking.configure(project_root(), cfg)
    with mlflow.start_run(experiment_id=exp, run_name=f"pmf-{Path(out).name}") as run:
        mlflow.log_params(
            {
                **{k: str(v) for k, v in summary["settings"].items()},
                "concentration": summary["inputs"]["concentration"],
                "uncertainty": summary["inputs"]["uncertainty"],
                "dropped_species": ",".join(summary["dropped_species"]),
            }
        )
        mlflow.log_metrics(
            {
                "q_true": summary["q_true"],
                "q_robust": summary["q_robust"],
                "q_exp": summary["q_exp"],
                "runs_converged": summary["runs_converged"],
            }
        )
        mlflow.set_tag("git_commit", tracking.git_commit(project_root()))
        mlflow.log_artifacts(str(out))
        return run.info.run_id
