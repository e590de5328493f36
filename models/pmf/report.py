"""PMF outputs as PMF5 users expect them: tables and figures of a solution.

Tables: profiles in concentration units and as % of each species' total, contributions (raw and
normalised to a mean of 1), factor shares of the total variable, scaled-residual statistics per
species, the run table. Figures: profiles (bars, log scale) with % of species (dots),
fingerprints (stacked % bars), contribution time series, G-space scatter plots, histograms of
scaled residuals, observed vs modelled per species.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from models.pmf.core import PMFResult  # noqa: E402

__all__ = ["profile_tables", "residual_table", "write_pmf_outputs"]


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


def residual_table(x: np.ndarray, u: np.ndarray, res: PMFResult) -> pd.DataFrame:
    """Per species: Q/n, share of |scaled residual| > 3, KS normality p, observed-modelled r^2."""
    r = (x - res.G @ res.F) / u
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


def _save(fig, path: Path) -> str:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return str(path)


def write_pmf_outputs(
    x: np.ndarray,
    u: np.ndarray,
    res: PMFResult,
    out: Path,
    times: pd.DatetimeIndex | None = None,
    total: str | None = None,
) -> dict[str, str]:
    """Write every table (CSV) and figure (PNG) of a solution to ``out``; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    conc, pct, contrib = profile_tables(res)
    files: dict[str, str] = {}
    for name, df in (
        ("profiles_concentration", conc),
        ("profiles_percent_of_species", pct),
        ("contributions_normalised", contrib),
        ("residual_diagnostics", residual_table(x, u, res)),
        ("runs", res.runs_table()),
    ):
        p = out / f"{name}.csv"
        df.to_csv(p, index=name not in ("residual_diagnostics", "runs"))
        files[name] = str(p)
    if total and total in res.species:
        share = conc.loc[total] / conc.loc[total].sum() * 100
        p = out / "factor_share_of_total.csv"
        share.rename(f"percent_of_{total}").to_csv(p)
        files["factor_share_of_total"] = str(p)
    p_ = res.factors
    m = len(res.species)
    # profiles: bars (concentration, log) + dots (% of species)
    fig, axes = plt.subplots(p_, 1, figsize=(max(8, 0.28 * m), 2.0 * p_), sharex=True)
    axes = np.atleast_1d(axes)
    for k, ax in enumerate(axes):
        col = conc.columns[k]
        ax.bar(range(m), conc[col].clip(lower=1e-6), color="#4878a8")
        ax.set_yscale("log")
        ax.set_ylabel(col, fontsize=7)
        ax2 = ax.twinx()
        ax2.plot(range(m), pct[col], "o", color="#d62728", ms=3)
        ax2.set_ylim(0, 100)
        ax2.tick_params(labelsize=6)
    axes[-1].set_xticks(range(m), res.species, rotation=90, fontsize=6)
    fig.suptitle("Factor profiles: concentration (bars, log) and % of species (dots)", fontsize=9)
    files["fig_profiles"] = _save(fig, out / "profiles.png")
    # fingerprints: stacked % of species
    fig, ax = plt.subplots(figsize=(max(8, 0.28 * m), 3.2))
    bottom = np.zeros(m)
    for col in pct.columns:
        v = pct[col].fillna(0).to_numpy()
        ax.bar(range(m), v, bottom=bottom, label=col)
        bottom += v
    ax.set_xticks(range(m), res.species, rotation=90, fontsize=6)
    ax.set_ylabel("% of species")
    ax.legend(fontsize=6, ncol=p_, loc="upper center", bbox_to_anchor=(0.5, 1.15))
    files["fig_fingerprints"] = _save(fig, out / "fingerprints.png")
    # contributions over time
    fig, axes = plt.subplots(p_, 1, figsize=(9, 1.4 * p_), sharex=True)
    axes = np.atleast_1d(axes)
    t = times if times is not None else np.arange(len(contrib))
    for k, ax in enumerate(axes):
        ax.plot(t, contrib.iloc[:, k], lw=0.7)
        ax.set_ylabel(contrib.columns[k], fontsize=7)
    axes[0].set_title("Contributions (normalised to mean 1)", fontsize=9)
    files["fig_contributions"] = _save(fig, out / "contributions.png")
    # G-space: every pair of factors
    pairs = [(a, b) for a in range(p_) for b in range(a + 1, p_)]
    ncol = min(5, len(pairs)) or 1
    nrow = int(np.ceil(len(pairs) / ncol)) or 1
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.2 * ncol, 2.2 * nrow), squeeze=False)
    for ax, (a, b) in zip(axes.flat, pairs, strict=False):
        ax.scatter(contrib.iloc[:, a], contrib.iloc[:, b], s=3, alpha=0.6)
        ax.set_xlabel(f"G{a + 1}", fontsize=7)
        ax.set_ylabel(f"G{b + 1}", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(pairs) :]:
        ax.axis("off")
    fig.suptitle("G-space plots (edges along the axes: well-rotated factors)", fontsize=9)
    files["fig_g_space"] = _save(fig, out / "g_space.png")
    # scaled residual histograms
    r = (x - res.G @ res.F) / u
    ncol = 6
    nrow = int(np.ceil(m / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.0 * ncol, 1.5 * nrow), squeeze=False)
    for j, ax in enumerate(axes.flat):
        if j >= m:
            ax.axis("off")
            continue
        rj = r[:, j][np.isfinite(r[:, j])]
        ax.hist(np.clip(rj, -6, 6), bins=30, color="#888")
        ax.axvline(-3, color="r", lw=0.6)
        ax.axvline(3, color="r", lw=0.6)
        ax.set_title(res.species[j][:18], fontsize=6)
        ax.tick_params(labelsize=5)
    fig.suptitle("Scaled residuals (x - GF) / u, clipped at +-6", fontsize=9)
    files["fig_residuals"] = _save(fig, out / "residuals.png")
    return files
