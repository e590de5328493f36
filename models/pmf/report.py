"""PMF outputs as PMF5 users expect them: the tables of a solution, as data.

Every table is on PMF5's scale: contributions normalised to a mean of 1 per factor and profiles
multiplied by the inverse (:func:`normalise`), so that profiles are in the concentration units of
the input and ``G F`` is unchanged. Tables (units in brackets):

* ``profiles_concentration`` [input units]: species x factors;
* ``profiles_percent_of_species`` [%]: each species' profile values as % of their sum over factors;
* ``profiles_percent_of_factor_total`` [%]: each factor's profile as % of its sum over the
  species, the total variable left out of the sum and of the table (it would count the mass twice);
* ``contributions_normalised`` [1]: samples x factors, mean 1 per factor;
* ``contributions_total_variable`` [units of the total variable]: ``G x F[total]`` per sample and
  factor, PMF5's mass contribution (only with a total variable);
* ``factor_share_of_total`` [%]: each factor's share of the total variable;
* ``residuals`` [input units] and ``scaled_residuals`` [1]: ``x - G F`` and ``(x - G F) / u``,
  samples x species (``u`` the uncertainty the model was fitted with);
* ``observed_predicted_regression``: per species, ordinary least squares of predicted on observed
  (slope [1], intercept [input units], r^2 [1], n [samples]);
* ``residual_diagnostics``: per species Q/n, share of |scaled residual| > 3, KS normality p,
  observed-modelled r^2;
* ``runs``: one row per random start.

:func:`observed_predicted_series` gives the observed-vs-predicted time series of every species.
Nothing here writes a file: :mod:`pipelines.tracing.pmf` writes the tables (CSV) and the figures
drawn by :mod:`pipelines.tracing.pmf_figures` (PNG).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from models.pmf.core import PMFResult

__all__ = [
    "TABLES_WITHOUT_INDEX",
    "contributions_in_total_units",
    "factor_share_of_total",
    "normalise",
    "observed_predicted_regression",
    "observed_predicted_series",
    "percent_of_factor_total",
    "pmf_tables",
    "profile_tables",
    "residual_table",
    "scaled_residuals",
]

#: Tables whose row index is a plain counter (written without it).
TABLES_WITHOUT_INDEX = ("residual_diagnostics", "runs")


def normalise(G: np.ndarray, F: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PMF5's scale of a solution: contributions with a mean of 1, profiles scaled by the inverse.

    Parameters
    ----------
    G : numpy.ndarray
        ``n x p`` contributions [any scale].
    F : numpy.ndarray
        ``p x m`` profiles [input units per unit of G].

    Returns
    -------
    G, F : numpy.ndarray
        Normalised contributions [1] and profiles [input units]; ``G F`` is unchanged.
    scale : numpy.ndarray
        ``p`` factors by which G was divided (its column means).
    """
    scale = np.asarray(G, float).mean(axis=0).clip(1e-300)
    return G / scale, F * scale[:, None], scale


def profile_tables(res: PMFResult) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Profiles (concentration), profiles (% of species) and normalised contributions.

    Contributions are scaled to a mean of 1 per factor and the profiles by the inverse
    (:func:`normalise`), so the model is unchanged and profiles are in concentration units
    (PMF5's convention).
    """
    G, F, _ = normalise(res.G, res.F)
    names = [f"factor_{k + 1}" for k in range(res.factors)]
    conc = pd.DataFrame(F.T, index=res.species, columns=names)
    pct = conc.div(conc.sum(axis=1).replace(0, np.nan), axis=0) * 100.0
    contrib = pd.DataFrame(G, index=res.samples, columns=names)
    return conc, pct, contrib


def percent_of_factor_total(conc: pd.DataFrame, total: str | None = None) -> pd.DataFrame:
    """Each factor's profile as % of its sum over the species [%] (columns sum to 100).

    Parameters
    ----------
    conc : pandas.DataFrame
        Profiles in concentration units (species x factors, :func:`profile_tables`).
    total : str, optional
        The total variable: left out of the sum and of the table.
    """
    part = conc.drop(index=total) if total is not None and total in conc.index else conc
    return part.div(part.sum(axis=0).replace(0, np.nan), axis=1) * 100.0


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


def observed_predicted_regression(x: np.ndarray, res: PMFResult) -> pd.DataFrame:
    """Per species, the least-squares line of predicted on observed (PMF5's obs/pred scatter).

    Parameters
    ----------
    x : numpy.ndarray
        ``n x m`` observed concentrations the solution was fitted to [input units].
    res : PMFResult
        The solution; predicted is ``G F``.

    Returns
    -------
    pandas.DataFrame
        Indexed by species: ``slope`` [1], ``intercept`` [input units], ``r2`` [1], ``n``
        [samples] (cells with a missing observation left out; NaN with fewer than 3 samples).
    """
    model = res.G @ res.F
    rows = []
    for j, s in enumerate(res.species):
        ok = np.isfinite(x[:, j])
        obs, pred = x[ok, j], model[ok, j]
        if ok.sum() > 2 and np.ptp(obs) > 0:
            fit = stats.linregress(obs, pred)
            slope, icpt, r2 = float(fit.slope), float(fit.intercept), float(fit.rvalue**2)
        else:
            slope = icpt = r2 = np.nan
        rows.append({"species": s, "slope": slope, "intercept": icpt, "r2": r2, "n": int(ok.sum())})
    return pd.DataFrame(rows).set_index("species")


def observed_predicted_series(x: np.ndarray, res: PMFResult) -> dict[str, pd.DataFrame]:
    """Observed and predicted time series of every species (PMF5's obs/pred time series).

    Returns
    -------
    dict
        Species -> DataFrame indexed by sample: ``observed``, ``predicted`` and ``residual``
        (observed - predicted), all in the input units.
    """
    model = res.G @ res.F
    idx = pd.Index(res.samples, name="sample")
    return {
        s: pd.DataFrame(
            {"observed": x[:, j], "predicted": model[:, j], "residual": x[:, j] - model[:, j]},
            index=idx,
        )
        for j, s in enumerate(res.species)
    }


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


def contributions_in_total_units(
    conc: pd.DataFrame, contrib: pd.DataFrame, total: str
) -> pd.DataFrame:
    """Mass contribution of every factor to every sample [units of the total variable].

    PMF5's "contributions in units of the total variable": the normalised contribution times the
    factor's profile value of the total variable, ``g_ik f_k,total``; the row sums are the
    modelled total variable.

    Parameters
    ----------
    conc : pandas.DataFrame
        Profiles in concentration units (species x factors, :func:`profile_tables`).
    contrib : pandas.DataFrame
        Normalised contributions (samples x factors, :func:`profile_tables`).
    total : str
        The total variable, a row of ``conc``.
    """
    return contrib * conc.loc[total]


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
        The total variable: adds ``contributions_total_variable`` and ``factor_share_of_total``
        when it is one of the species.

    Returns
    -------
    dict
        ``profiles_concentration``, ``profiles_percent_of_species``,
        ``profiles_percent_of_factor_total``, ``contributions_normalised``
        (``contributions_total_variable``, ``factor_share_of_total``), ``residuals``,
        ``scaled_residuals``, ``observed_predicted_regression``, ``residual_diagnostics``,
        ``runs``; units in the module docstring.
    """
    conc, pct, contrib = profile_tables(res)
    has_total = bool(total) and total in res.species
    tables: dict[str, pd.DataFrame | pd.Series] = {
        "profiles_concentration": conc,
        "profiles_percent_of_species": pct,
        "profiles_percent_of_factor_total": percent_of_factor_total(
            conc, total if has_total else None
        ),
        "contributions_normalised": contrib,
    }
    if has_total:
        tables["contributions_total_variable"] = contributions_in_total_units(conc, contrib, total)
        tables["factor_share_of_total"] = factor_share_of_total(conc, total)
    model = res.G @ res.F
    tables["residuals"] = pd.DataFrame(x - model, index=res.samples, columns=res.species)
    tables["scaled_residuals"] = pd.DataFrame(
        scaled_residuals(x, u, res), index=res.samples, columns=res.species
    )
    tables["observed_predicted_regression"] = observed_predicted_regression(x, res)
    tables["residual_diagnostics"] = residual_table(x, u, res)
    tables["runs"] = res.runs_table()
    return tables
