"""Figures of a PMF solution, drawn but not saved.

PMF5's profile, fingerprint, contribution, G-space and scaled-residual plots.
:func:`pmf_figures` yields matplotlib figures by output name; :mod:`pipelines.tracing.pmf`
saves them (``FIGURE_FILES``) and closes them.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from models.pmf.core import PMFResult  # noqa: E402
from models.pmf.report import profile_tables, scaled_residuals  # noqa: E402
from pipelines.fonts import use_cjk_font  # noqa: E402

use_cjk_font()  # hanzi in the figures without a system CJK font

__all__ = ["FIGURE_FILES", "pmf_figures"]

#: File name of each figure, by output name, in the order they are drawn.
FIGURE_FILES = {
    "fig_profiles": "profiles.png",
    "fig_fingerprints": "fingerprints.png",
    "fig_contributions": "contributions.png",
    "fig_g_space": "g_space.png",
    "fig_residuals": "residuals.png",
}


def _profiles(conc: pd.DataFrame, pct: pd.DataFrame, species: list[str]) -> Figure:
    """Profiles: bars (concentration, log) and dots (% of species), one panel per factor."""
    p_, m = conc.shape[1], len(species)
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
    axes[-1].set_xticks(range(m), species, rotation=90, fontsize=6)
    fig.suptitle("Factor profiles: concentration (bars, log) and % of species (dots)", fontsize=9)
    return fig


def _fingerprints(pct: pd.DataFrame, species: list[str]) -> Figure:
    """Fingerprints: stacked % of species."""
    p_, m = pct.shape[1], len(species)
    fig, ax = plt.subplots(figsize=(max(8, 0.28 * m), 3.2))
    bottom = np.zeros(m)
    for col in pct.columns:
        v = pct[col].fillna(0).to_numpy()
        ax.bar(range(m), v, bottom=bottom, label=col)
        bottom += v
    ax.set_xticks(range(m), species, rotation=90, fontsize=6)
    ax.set_ylabel("% of species")
    ax.legend(fontsize=6, ncol=p_, loc="upper center", bbox_to_anchor=(0.5, 1.15))
    return fig


def _contributions(contrib: pd.DataFrame, times: pd.DatetimeIndex | None) -> Figure:
    """Contributions over time, one panel per factor."""
    p_ = contrib.shape[1]
    fig, axes = plt.subplots(p_, 1, figsize=(9, 1.4 * p_), sharex=True)
    axes = np.atleast_1d(axes)
    t = times if times is not None else np.arange(len(contrib))
    for k, ax in enumerate(axes):
        ax.plot(t, contrib.iloc[:, k], lw=0.7)
        ax.set_ylabel(contrib.columns[k], fontsize=7)
    axes[0].set_title("Contributions (normalised to mean 1)", fontsize=9)
    return fig


def _g_space(contrib: pd.DataFrame) -> Figure:
    """G-space: every pair of factors."""
    p_ = contrib.shape[1]
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
    return fig


def _residuals(r: np.ndarray, species: list[str]) -> Figure:
    """Histograms of scaled residuals per species, clipped at +-6."""
    m = len(species)
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
        ax.set_title(species[j][:18], fontsize=6)
        ax.tick_params(labelsize=5)
    fig.suptitle("Scaled residuals (x - GF) / u, clipped at +-6", fontsize=9)
    return fig


def pmf_figures(
    x: np.ndarray,
    u: np.ndarray,
    res: PMFResult,
    times: pd.DatetimeIndex | None = None,
):
    """Draw the figures of a solution one at a time.

    Parameters
    ----------
    x, u : numpy.ndarray
        ``n x m`` concentrations and uncertainties the solution was fitted to.
    res : PMFResult
        The solution.
    times : pandas.DatetimeIndex, optional
        Sample times for the contribution plot (default: sample number).

    Yields
    ------
    name : str
        Output name (a key of :data:`FIGURE_FILES`).
    figure : matplotlib.figure.Figure
        The figure; the caller saves and closes it before the next one is drawn.
    """
    conc, pct, contrib = profile_tables(res)
    yield "fig_profiles", _profiles(conc, pct, res.species)
    yield "fig_fingerprints", _fingerprints(pct, res.species)
    yield "fig_contributions", _contributions(contrib, times)
    yield "fig_g_space", _g_space(contrib)
    yield "fig_residuals", _residuals(scaled_residuals(x, u, res), res.species)
