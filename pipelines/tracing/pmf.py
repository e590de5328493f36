"""The PMF job: read files -> prepare -> fit -> error estimates -> outputs -> MLflow run.

Everything an analyst gets from one ``qingyuan trace pmf`` call lands in one output folder
(tables, figures, ``summary.json``) and one MLflow run of the ``qingyuan-pmf`` experiment
(parameters, Q values, the folder as artifacts).

Files of the output folder (units in brackets; tables from :func:`models.pmf.report.pmf_tables`):

* ``profiles_concentration.csv`` [input units], ``profiles_percent_of_species.csv`` [%],
  ``profiles_percent_of_factor_total.csv`` [%, total variable left out];
* ``contributions_normalised.csv`` [1, mean 1], ``contributions_total_variable.csv`` [units of
  the total variable: ``G x F[total]``], ``factor_share_of_total.csv`` [%];
* ``residuals.csv`` [input units] and ``scaled_residuals.csv`` [1], samples x species;
* ``observed_predicted_regression.csv`` (slope [1], intercept [input units], r^2, n per species)
  and ``observed_predicted/<species>.csv`` (observed, predicted, residual per sample
  [input units]), listed in ``observed_predicted_series.csv``;
* ``residual_diagnostics.csv``, ``runs.csv``, ``species_sn_categories.csv``;
* ``bootstrap_mapping.csv`` (base factor x bootstrap factor counts, unmapped, mapped %),
  ``bootstrap_profiles.csv`` (percentiles [input units, the profile table's scale]);
* with DISP: ``disp_intervals.csv`` [input units], ``disp_swaps.csv``, ``disp_summary.csv``;
* with Fpeak (PMF 5.0's penalised Fpeak, :func:`models.pmf.fpeak.penalised_fpeak`):
  ``fpeak.csv`` (Q, dQ per strength) and ``fpeak_profiles.csv`` (strength x factor x species
  [input units]);
* with constraints (``constraints``, a file of :mod:`pipelines.config.pmf_constraints`):
  ``constrained_profiles.csv`` [input units], ``constrained_contributions.csv`` [1, mean 1],
  ``constrained_constraints.csv`` (each constraint's base, goal and achieved value);
* with BS-DISP (:func:`models.pmf.bsdisp.bsdisp`): ``bsdisp_intervals.csv`` [input units, per
  dQmax 0.5/1/2/4], ``bsdisp_swaps.csv`` (swaps and % of replicates accepted per dQmax);
* figures ``profiles.png``, ``fingerprints.png``, ``contributions.png``, ``g_space.png``,
  ``residuals.png`` and, with DISP, ``disp_warning.png``.

This module imports matplotlib only when figures are drawn and MLflow only when the run is logged,
and never the forecasting stack (torch, LightGBM) or Prefect.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.pmf.core import PMFResult
from models.pmf.error_estimates import MATCH_METHOD, DisplacementResult, bootstrap, displacement
from models.pmf.estimator import PMF
from models.pmf.prep import detect_total, prepare
from models.pmf.report import TABLES_WITHOUT_INDEX, observed_predicted_series, pmf_tables
from pipelines.tracing.pmf_io import read_pmf_input

__all__ = ["pmf_out_dir", "run_pmf", "write_pmf_outputs"]

#: Folder (in the output folder) of the observed-vs-predicted series, one CSV per species.
OBSERVED_PREDICTED_DIR = "observed_predicted"


#: What each output is and its units (``files.csv`` of the output folder). "data units": the
#: units of the concentration file (e.g. ug/m3, ppbC); Q values are dimensionless.
FILE_GUIDE: dict[str, tuple[str, str]] = {
    "profiles_concentration": (
        "factor profiles: mean contribution of each factor to each species",
        "data units",
    ),
    "profiles_percent_of_species": ("share of each species' modelled total per factor", "%"),
    "profiles_percent_of_factor_total": (
        "share of each factor's summed profile per species (total variable left out)",
        "%",
    ),
    "contributions_normalised": ("factor contributions per sample, mean 1 per factor", "1"),
    "contributions_total_variable": (
        "contributions in units of the total variable (G x F[total])",
        "units of the total variable",
    ),
    "factor_share_of_total": ("each factor's share of the total variable", "%"),
    "residuals": ("observed - modelled, samples x species", "data units"),
    "scaled_residuals": ("residuals / uncertainty, samples x species", "1"),
    "observed_predicted_regression": (
        "observed vs predicted per species: slope, intercept, r2, n",
        "slope 1, intercept data units, r2 1",
    ),
    "observed_predicted": (
        "observed, predicted and residual per sample: one CSV per species (index of the files)",
        "data units",
    ),
    "residual_diagnostics": ("per species: scaled-residual summary and the share beyond +-3", "1"),
    "runs": ("every random start: Q(true), Q(robust), convergence, iterations", "Q: 1"),
    "species_sn_categories": ("per species: signal to noise, category, treatments", "S/N: 1"),
    "bootstrap_mapping": ("bootstrap factor x base factor counts, unmapped, mapped %", "count, %"),
    "bootstrap_profiles": (
        "bootstrap percentiles (5, 25, 50, 75, 95) of every profile element",
        "data units",
    ),
    "disp_intervals": ("DISP interval of every profile element per dQmax 4/8/16/32", "data units"),
    "disp_swaps": ("DISP swaps per factor and dQmax", "count"),
    "disp_summary": ("PMF5's DISP summary: swaps, largest Q decrease", "count, Q: 1"),
    "bsdisp_intervals": (
        "BS-DISP interval of every profile element per dQmax 0.5/1/2/4",
        "data units",
    ),
    "bsdisp_swaps": ("BS-DISP swaps per factor, replicates accepted per dQmax", "count, %"),
    "fpeak": ("penalised Fpeak runs: Q, dQ, shares of zeros per strength", "Q: 1, dQ %: %"),
    "fpeak_profiles": ("profiles of every Fpeak strength, long format", "data units"),
    "constrained_profiles": ("profiles of the constrained run", "data units"),
    "constrained_contributions": ("contributions of the constrained run, mean 1", "1"),
    "constrained_constraints": (
        "each constraint: base, goal, achieved, dQ limit",
        "data units (contributions: 1)",
    ),
    "fig_profiles": (
        "figure: profiles (bars, data units) and % of species (dots)",
        "data units, %",
    ),
    "fig_fingerprints": ("figure: each factor's share of every species", "%"),
    "fig_contributions": ("figure: contribution time series per factor", "1"),
    "fig_g_space": ("figure: G-space plots of every pair of factors (rotational edges)", "1"),
    "fig_residuals": ("figure: scaled residuals of every species", "1"),
    "fig_disp_warning": ("figure: DISP swaps per dQmax, PMF5's warning", "count"),
}


def pmf_out_dir(out_dir: str | Path, concentration: str | Path, factors: int) -> Path:
    """Output folder of a PMF run: ``<out_dir>/pmf/<concentration file stem>_f<factors>``."""
    return Path(out_dir) / "pmf" / f"{Path(concentration).name.split('.')[0]}_f{factors}"


def _file_name(species: str, taken: set[str]) -> str:
    """Return a safe, unique file name for a species (``1,2,4-TMB`` -> ``1_2_4-TMB.csv``)."""
    stem = re.sub(r"[^A-Za-z0-9.+-]+", "_", species).strip("_.") or "species"
    name, k = f"{stem}.csv", 2
    while name.lower() in taken:
        name, k = f"{stem}_{k}.csv", k + 1
    taken.add(name.lower())
    return name


def write_pmf_outputs(
    x: np.ndarray,
    u: np.ndarray,
    res: PMFResult,
    out: Path,
    times: pd.DatetimeIndex | None = None,
    total: str | None = None,
    *,
    disp: DisplacementResult | None = None,
) -> dict[str, str]:
    """Write every table (CSV) and figure (PNG) of a solution to ``out``; return their paths.

    Tables come from :func:`models.pmf.report.pmf_tables`; the observed-vs-predicted series of
    :func:`models.pmf.report.observed_predicted_series` go to one CSV per species in the folder
    ``observed_predicted/``, listed (species, file) in ``observed_predicted_series.csv`` (the
    returned ``observed_predicted``); figures come from :func:`pipelines.tracing.pmf_figures.pmf_figures`
    (the DISP warning figure when ``disp`` is given).
    """
    import matplotlib.pyplot as plt

    from pipelines.tracing.pmf_figures import FIGURE_FILES, pmf_figures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for name, table in pmf_tables(x, u, res, total).items():
        p = out / f"{name}.csv"
        table.to_csv(p, index=name not in TABLES_WITHOUT_INDEX)
        files[name] = str(p)
    folder = out / OBSERVED_PREDICTED_DIR
    folder.mkdir(exist_ok=True)
    taken: set[str] = set()
    index = []
    for species, series in observed_predicted_series(x, res).items():
        fname = _file_name(species, taken)
        series.to_csv(folder / fname)
        index.append({"species": species, "file": f"{OBSERVED_PREDICTED_DIR}/{fname}"})
    pd.DataFrame(index).to_csv(out / "observed_predicted_series.csv", index=False)
    files["observed_predicted"] = str(out / "observed_predicted_series.csv")
    for name, fig in pmf_figures(x, u, res, times, disp=disp):
        p = out / FIGURE_FILES[name]
        fig.savefig(p, dpi=100)
        plt.close(fig)
        files[name] = str(p)
    return files


def _resolve_total(total: str | None, species: list[str], path: Path) -> tuple[str | None, bool]:
    """Return the total variable to use and whether it was detected (``total="auto"``)."""
    if total == "auto":
        return detect_total(species), True
    if total is not None and total not in species:
        raise ValueError(f"total variable {total!r} is not a species of {path.name}")
    return total, False


def run_pmf(
    concentration: Path,
    uncertainty: Path,
    factors: int,
    out: Path,
    *,
    starts: int = 20,
    seed: int = 42,
    robust: bool = True,
    categories: dict[str, str] | None = None,
    auto_categories: bool = True,
    total: str | None = "auto",
    extra_pct: float = 0.0,
    bootstrap_n: int = 100,
    disp: bool = False,
    bsdisp_n: int = 0,
    fpeak_strengths: tuple[float, ...] = (),
    constraints: Path | None = None,
    nonpositive: str = "error",
    track: bool = True,
) -> dict[str, Any]:
    """Run PMF on a pair of files and write everything to ``out``.

    Parameters
    ----------
    concentration, uncertainty : pathlib.Path
        The PMF5/ESAT input files (:func:`pipelines.tracing.pmf_io.read_pmf_input`).
    factors : int
        Number of factors.
    out : pathlib.Path
        Output folder (files listed in the module docstring).
    starts, seed : int
        Random starts of the base run and the seed of the batch.
    robust : bool
        Robust mode (PMF5's default).
    categories : dict, optional
        Species -> strong / weak / bad chosen by the analyst (override the S/N suggestion and
        the total variable's weak default).
    auto_categories : bool
        Apply the S/N categories (PMF5's bad < 0.5 <= weak < 1 <= strong) to species the
        analyst did not categorise; False: every such species is strong.
    total : str or None
        The total variable (e.g. ``PM2.5``): set weak, contributions reported in its units,
        factor shares of it reported. ``"auto"`` (default): found by name
        (:func:`models.pmf.prep.detect_total`); None: no total variable.
    extra_pct : float
        Extra modelling uncertainty [%]: ``u' = sqrt(u^2 + (extra_pct / 100 x)^2)`` for every
        cell, used by the fit, the bootstrap and DISP.
    bootstrap_n : int
        Bootstrap replicates (PMF5's default 100; 0: none).
    disp : bool
        Run the displacement error estimate (a few minutes on 40 species).
    bsdisp_n : int
        BS-DISP replicates (0: none; PMF5 suggests 100; minutes per replicate on 40 species).
    fpeak_strengths : tuple of float
        Strengths ``phi`` of PMF 5.0's penalised Fpeak to run (e.g. -0.5, 0.5).
    constraints : pathlib.Path, optional
        A constraints file (:func:`pipelines.config.pmf_constraints.load_constraints`): one
        constrained run from the base, with its dQ.
    nonpositive : {"error", "floor"}
        What to do with uncertainties <= 0.
    track : bool
        Log an MLflow run.

    Returns
    -------
    dict
        The run's summary (also written to ``summary.json``).
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 3)
        return now

    data = read_pmf_input(Path(concentration), Path(uncertainty), nonpositive)
    total, detected = _resolve_total(total, data.species, Path(concentration))
    if bootstrap_n < 0 or bsdisp_n < 0:
        raise ValueError("bootstrap and BS-DISP replicates must be >= 0")
    cats = dict(categories or {})
    if not auto_categories:
        cats = {s: cats.get(s, "strong") for s in data.species}
        if total and total not in (categories or {}):
            cats[total] = "weak"
    prep = prepare(
        data.x,
        data.u,
        data.species,
        data.samples,
        categories=cats,
        total=total,
        extra_pct=extra_pct,
    )
    wanted = None
    if constraints is not None:  # checked before the fit: a typo costs no minutes
        from pipelines.config.pmf_constraints import load_constraints

        wanted = load_constraints(
            constraints, species=prep.species, samples=prep.samples, factors=factors
        )
    t = lap("read_prepare", t0)
    frame = {"index": prep.samples, "columns": prep.species}
    est = PMF(factors, starts=starts, seed=seed, robust=robust).fit(
        pd.DataFrame(prep.x, **frame), pd.DataFrame(prep.u, **frame)
    )
    res = est.result_
    t = lap("fit", t)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    summary: dict[str, Any] = {
        "inputs": {"concentration": str(concentration), "uncertainty": str(uncertainty)},
        "read_report": data.report,
        "treatments": prep.treatments,
        "dropped_species": prep.dropped_species,
        "categories": prep.categories,
        "total_variable": prep.total,
        "total_variable_detected": bool(detected and prep.total),
        "extra_uncertainty_percent": float(extra_pct),
        "settings": {**res.settings, "extra_uncertainty_percent": float(extra_pct)},
        "q_true": res.q_true,
        "q_robust": res.q_robust,
        "q_exp": res.q_exp,
        "q_true_over_q_exp": res.q_true / res.q_exp if res.q_exp > 0 else None,
        "best_run": res.best,
        "runs_converged": sum(r.converged for r in res.runs),
    }
    if bootstrap_n:
        bs = bootstrap(prep.x, prep.u, res, bootstrap_n, seed=seed)
        pct = bs.profile_percentiles(prep.species)
        bs.mapping.to_csv(out / "bootstrap_mapping.csv", index=False)
        pct.to_csv(out / "bootstrap_profiles.csv", index=False)
        files["bootstrap_mapping"] = str(out / "bootstrap_mapping.csv")
        files["bootstrap_profiles"] = str(out / "bootstrap_profiles.csv")
        inside = pct.groupby("factor")["base_within_p5_p95"].sum()
        summary["bootstrap"] = {
            "replicates": bootstrap_n,
            "block": bs.block,
            "threshold_r": bs.threshold,
            "match": MATCH_METHOD,
            "mapped_percent": [round(float(v), 1) for v in bs.mapped_percent],
            "mapping": bs.mapping.astype(object).where(bs.mapping.notna(), None).to_dict("records"),
            "base_within_p5_p95": {f"factor_{k}": int(v) for k, v in inside.items()},
            "species": len(prep.species),
            "q_median": float(np.nanmedian(bs.q)),
        }
        t = lap("bootstrap", t)
    d = None
    if disp:
        d = displacement(prep.x, prep.u, res)
        d.intervals.to_csv(out / "disp_intervals.csv", index=False)
        d.swaps.to_csv(out / "disp_swaps.csv", index=False)
        d.summary().to_csv(out / "disp_summary.csv", index=False)
        for name in ("disp_intervals", "disp_swaps", "disp_summary"):
            files[name] = str(out / f"{name}.csv")
        summary["disp"] = {
            "swaps": d.swaps.to_dict(orient="records"),
            "largest_dq_decrease": d.largest_dq_decrease,
            "well_defined": d.well_defined,
            "match": MATCH_METHOD,
        }
        t = lap("disp", t)
    if bsdisp_n:
        from models.pmf.bsdisp import bsdisp

        b = bsdisp(prep.x, prep.u, res, replicates=bsdisp_n, seed=seed)
        b.intervals.to_csv(out / "bsdisp_intervals.csv", index=False)
        b.swaps.to_csv(out / "bsdisp_swaps.csv", index=False)
        files["bsdisp_intervals"] = str(out / "bsdisp_intervals.csv")
        files["bsdisp_swaps"] = str(out / "bsdisp_swaps.csv")
        summary["bsdisp"] = {
            **b.summary,
            "dq_max": list(b.settings["dq_max"]),
            "accepted_percent": b.swaps.set_index("dq_max")["accepted_percent"].to_dict(),
            "match": MATCH_METHOD,
        }
        t = lap("bsdisp", t)
    if fpeak_strengths:
        from models.pmf.fpeak import penalised_fpeak

        fp = penalised_fpeak(prep.x, prep.u, res, tuple(fpeak_strengths))
        fp.table.to_csv(out / "fpeak.csv", index=False)
        fp.profiles(prep.species).to_csv(out / "fpeak_profiles.csv", index=False)
        files["fpeak"] = str(out / "fpeak.csv")
        files["fpeak_profiles"] = str(out / "fpeak_profiles.csv")
        summary["fpeak"] = {
            "method": "penalised (PMF2 / PMF 5.0 auxiliary equations)",
            "weight": fp.weight,
            "q_robust_reference": fp.q_robust_reference,
            "runs": fp.table.to_dict(orient="records"),
        }
        t = lap("fpeak", t)
    if wanted:
        from models.pmf.constrained import constrained_run

        c = constrained_run(prep.x, prep.u, res, wanted)
        c.profiles().to_csv(out / "constrained_profiles.csv", index_label="species")
        c.contributions().to_csv(out / "constrained_contributions.csv", index_label="sample")
        c.constraints.to_csv(out / "constrained_constraints.csv", index=False)
        for name in (
            "constrained_profiles",
            "constrained_contributions",
            "constrained_constraints",
        ):
            files[name] = str(out / f"{name}.csv")
        summary["constrained"] = {
            "file": str(constraints),
            "q_robust_base": c.q_robust_base,
            "q_robust": c.q_robust,
            "dq_robust": c.dq_robust,
            "dq_robust_percent": c.dq_robust_percent,
            "acceptable": c.acceptable,
            "swapped": c.swapped,
            "guidance": c.guidance,
        }
        t = lap("constrained", t)
    files = {**write_pmf_outputs(prep.x, prep.u, res, out, data.times, prep.total, disp=d), **files}
    prep.species_table().to_csv(out / "species_sn_categories.csv", index=False)
    files["species_sn_categories"] = str(out / "species_sn_categories.csv")
    t = lap("tables_figures", t)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary["timings"] = timings
    summary["files"] = files
    guide = [
        {"output": name, "file": Path(path).relative_to(out).as_posix(), "what": w, "units": un}
        for name, path in files.items()
        for w, un in [FILE_GUIDE.get(name, ("", ""))]
    ]
    pd.DataFrame(guide).to_csv(out / "files.csv", index=False)
    if track:
        summary["mlflow_run_id"] = _log(summary, out)
        lap("mlflow", t)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return summary


def _log(summary: dict[str, Any], out: Path) -> str:
    """One MLflow run (experiment ``qingyuan-pmf``): parameters, Q values, the output folder."""
    import mlflow

    from models import tracking
    from pipelines.config.forecast import forecast_config
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
                "total_variable": str(summary.get("total_variable")),
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
