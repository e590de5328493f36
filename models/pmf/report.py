"""PMF outputs as PMF5 users expect them: the tables of a solution, as data.

Profiles in concentration units and as % of each species' total, contributions (normalised to a
mean of 1), factor shares of the total variable, scaled-residual statistics per species, the run
table. Nothing here writes a file: :mod:`pipelines.tracing.pmf` writes the tables (CSV) and the
figures drawn by :mod:`pipelines.tracing.pmf_figures` (PNG).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from models.pmf.core import PMFResult

__all__ = [
    "TABLES_WITHOUT_INDEX",
    "factor_share_of_total",
    "pmf_tables",
    "profile_tables",
    "residual_table",
    "scaled_residuals",
]

#: Tables whose row index is a plain counter (written without it).
TABLES_WITHOUT_INDEX = ("residual_diagnostics", "runs")


def profile_tables(res: PMFResult) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Profiles (concentration), profiles (% of species) and normalised contributions.

    Contributions are scaled to a mean of 1 per factor and the profiles by the inverse, so the
    model is unchanged and profiles are in concentration units (PMF5's convention).
    """
    scale = res.G.mean(axis=0).clip(1e-300)
    G = res.G / scale
    F = res.F * scale[:, None]
    names = [f"factor_{k + 1}" for k in range(res.factors)]
    conc = pd.DataFrame(F.T, index=res.species, columns=names)
    pct = conc.div(conc.sum(axis=1).replace(0, np.nan), axis=0) * 100.0
    contrib = pd.DataFrame(G, index=res.samples, columns=names)
    return conc, pct, contrib


def scaled_residuals(x: np.ndarray, u: np.ndarray, res: PMFResult) -> np.ndarray:
    """Scaled residuals ``(x - G F) / u`` of a solution (``n x m``; NaN where ``x`` is NaN)."""
    return (x - res.G @ res.F) / u


def residual_table(x: np.ndarray, u: np.ndarray, res: PMFResult) -> pd.DataFrame:
    """Per species: Q/n, share of |scaled residual| > 3, KS normality p, observed-modelled r^2."""
    r = scaled_residuals(x, u, res)
    model = res.G @ res.F
    rows = []
    for j, s in enumerate(res.species):
        rj = r[:, j][np.isfinite(r[:, j])]
        ok = np.isfinite(x[:, j])
        r2 = np.corrcoef(x[ok, j], model[ok, j])[0, 1] ** 2 if ok.sum() > 2 else np.nan
        rows.append(
            {
                "species": s,
                "q_over_n": float(np.sum(rj**2) / max(len(rj), 1)),
                "share_abs_r_gt_3": float(np.mean(np.abs(rj) > 3)) if len(rj) else np.nan,
                "ks_p_normal": float(stats.kstest(rj, "norm").pvalue) if len(rj) > 3 else np.nan,
                "r2_observed_modelled": float(r2),
            }
        )
    return pd.DataFrame(rows)


def factor_share_of_total(conc: pd.DataFrame, total: str) -> pd.Series:
    """Share of each factor in the total variable ``total`` [%] (named ``percent_of_<total>``).

    Parameters
    ----------
    conc : pandas.DataFrame
        Profiles in concentration units (species x factors, :func:`profile_tables`).
    total : str
        The total variable, a row of ``conc``.
    """
    share = conc.loc[total] / conc.loc[total].sum() * 100
    return share.rename(f"percent_of_{total}")


def pmf_tables(
    x: np.ndarray, u: np.ndarray, res: PMFResult, total: str | None = None
) -> dict[str, pd.DataFrame | pd.Series]:
    """Every table of a solution, by output name, in the order they are written.

    Parameters
    ----------
    x, u : numpy.ndarray
        ``n x m`` concentrations and uncertainties the solution was fitted to.
    res : PMFResult
        The solution.
    total : str, optional
        The total variable: adds ``factor_share_of_total`` when it is one of the species.

    Returns
    -------
    dict
        ``profiles_concentration``, ``profiles_percent_of_species``, ``contributions_normalised``,
        ``residual_diagnostics``, ``runs`` (and ``factor_share_of_total``).
    """
    conc, pct, contrib = profile_tables(res)
    tables: dict[str, pd.DataFrame | pd.Series] = {
        "profiles_concentration": conc,
        "profiles_percent_of_species": pct,
        "contributions_normalised": contrib,
        "residual_diagnostics": residual_table(x, u, res),
        "runs": res.runs_table(),
    }
    if total and total in res.species:
        tables["factor_share_of_total"] = factor_share_of_total(conc, total)
    return tables
