"""Figures of a PMF solution, drawn but not saved.

PMF5's profile, fingerprint, contribution, G-space and scaled-residual plots, and the DISP
warning figure when DISP was run. :func:`pmf_figures` yields matplotlib figures by output name;
:mod:`pipelines.tracing.pmf` saves them (``FIGURE_FILES``) and closes them.

Drawn for speed (the figures once took longer than the fit): the Agg backend, fixed margins
instead of a tight bounding box (which draws every figure twice), no minor ticks on log axes, a
few ticks on the G-space panels, and the scaled residuals of all species in one image rather
than one histogram panel per species. The bundled CJK font is used only when a label needs it
(font fallback makes every text element slower to lay out).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogFormatter, MaxNLocator, NullLocator  # noqa: E402

from models.pmf.core import PMFResult  # noqa: E402
from models.pmf.report import profile_tables, scaled_residuals  # noqa: E402

__all__ = ["FIGURE_FILES", "pmf_figures"]

#: File name of each figure, by output name, in the order they are drawn
#: (``fig_disp_warning`` only when DISP was run).
FIGURE_FILES = {
    "fig_profiles": "profiles.png",
    "fig_fingerprints": "fingerprints.png",
    "fig_contributions": "contributions.png",
    "fig_g_space": "g_space.png",
    "fig_residuals": "residuals.png",
    "fig_disp_warning": "disp_warning.png",
}


def _bottom_margin(labels: list[str], height_in: float, fontsize: float = 6) -> float:
    """Share of the figure height that rotated tick labels of ``labels`` need."""
    longest = max((len(s) for s in labels), default=1)
    need_in = 0.3 + longest * fontsize * 0.55 / 72  # ~0.55 em per character
    return min(0.6, need_in / height_in)


def _profiles(conc: pd.DataFrame, pct: pd.DataFrame, species: list[str]) -> Figure:
    """Profiles: bars (concentration, log) and dots (% of species), one panel per factor."""
    p_, m = conc.shape[1], len(species)
    height = 1.6 * p_ + 1.4
    # panels do not share x: a shared axis would lay out the m species ticks on every panel and
    # every twin (most of the drawing time); only the bottom panel has them
    fig, axes = plt.subplots(p_, 1, figsize=(max(8, 0.22 * m), height))
    axes = np.atleast_1d(axes)
    for k, ax in enumerate(axes):
        col = conc.columns[k]
        # one line collection instead of m bar patches; plain tick labels (no mathtext)
        width_pt = 72 * fig.get_figwidth() * 0.88 / m
        ax.vlines(range(m), 1e-6, conc[col].clip(lower=1e-6), color="#4878a8", lw=0.7 * width_pt)
        ax.set_yscale("log")
        ax.set_ylim(1e-6, None)
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=True))
        ax.tick_params(labelsize=6)
        ax.set_ylabel(col, fontsize=7)
        ax.set_xlim(-0.6, m - 0.4)
        if k < p_ - 1:
            ax.set_xticks([])
        else:
            ax.set_xticks(range(m), species, rotation=90, fontsize=6)
        ax2 = ax.twinx()
        ax2.plot(range(m), pct[col], "o", color="#d62728", ms=3)
        ax2.set_ylim(0, 100)
        ax2.set_yticks([0, 50, 100])
        ax2.tick_params(labelsize=6)
    fig.suptitle(
        "Factor profiles: concentration (bars, log, input units) and % of species (dots)",
        fontsize=9,
    )
    fig.subplots_adjust(
        left=0.07,
        right=0.95,
        top=1 - 0.45 / height,
        bottom=_bottom_margin(species, height),
        hspace=0.15,
    )
    return fig


def _fingerprints(pct: pd.DataFrame, species: list[str]) -> Figure:
    """Fingerprints: stacked % of species."""
    p_, m = pct.shape[1], len(species)
    height = 3.6
    fig, ax = plt.subplots(figsize=(max(8, 0.22 * m), height))
    bottom = np.zeros(m)
    for col in pct.columns:
        v = pct[col].fillna(0).to_numpy()
        ax.bar(range(m), v, bottom=bottom, label=col)
        bottom += v
    ax.set_xticks(range(m), species, rotation=90, fontsize=6)
    ax.set_xlim(-0.6, m - 0.4)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of species")
    ax.legend(fontsize=6, ncol=p_, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=_bottom_margin(species, height))
    return fig


def _contributions(contrib: pd.DataFrame, times: pd.DatetimeIndex | None) -> Figure:
    """Contributions over time, one panel per factor."""
    p_ = contrib.shape[1]
    height = 1.3 * p_ + 0.8
    fig, axes = plt.subplots(p_, 1, figsize=(9, height), sharex=True)
    axes = np.atleast_1d(axes)
    t = times if times is not None else np.arange(len(contrib))
    for k, ax in enumerate(axes):
        ax.plot(t, contrib.iloc[:, k], lw=0.7)
        ax.set_ylabel(contrib.columns[k], fontsize=7)
        ax.yaxis.set_major_locator(MaxNLocator(3))
        ax.tick_params(labelsize=6)
    axes[0].set_title("Contributions (normalised to mean 1)", fontsize=9)
    fig.subplots_adjust(left=0.08, right=0.98, top=1 - 0.35 / height, bottom=0.45 / height)
    return fig


def _g_space(contrib: pd.DataFrame) -> Figure:
    """G-space: every pair of factors."""
    p_ = contrib.shape[1]
    pairs = [(a, b) for a in range(p_) for b in range(a + 1, p_)]
    ncol = min(5, len(pairs)) or 1
    nrow = int(np.ceil(len(pairs) / ncol)) or 1
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.2 * ncol, 2.2 * nrow), squeeze=False)
    for ax, (a, b) in zip(axes.flat, pairs, strict=False):
        ax.scatter(contrib.iloc[:, a], contrib.iloc[:, b], s=3, alpha=0.6, linewidths=0)
        ax.set_xlabel(f"G{a + 1}", fontsize=7, labelpad=1)
        ax.set_ylabel(f"G{b + 1}", fontsize=7, labelpad=1)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.yaxis.set_major_locator(MaxNLocator(3))
        ax.tick_params(labelsize=6, pad=1)
    for ax in list(axes.flat)[len(pairs) :]:
        ax.axis("off")
    fig.suptitle("G-space plots (edges along the axes: well-rotated factors)", fontsize=9)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.1, wspace=0.35, hspace=0.45)
    return fig


def _residuals(r: np.ndarray, species: list[str]) -> Figure:
    """Histograms of scaled residuals of every species as one image (rows: species)."""
    m = len(species)
    edges = np.linspace(-6, 6, 49)
    counts = np.zeros((m, len(edges) - 1))
    beyond = np.zeros(m)
    for j in range(m):
        rj = r[:, j][np.isfinite(r[:, j])]
        counts[j] = np.histogram(np.clip(rj, -6, 6), bins=edges)[0]
        beyond[j] = 100.0 * np.mean(np.abs(rj) > 3) if len(rj) else np.nan
    share = counts / counts.sum(axis=1, keepdims=True).clip(1)
    height = max(3.0, 0.14 * m + 1.0)
    fig, ax = plt.subplots(figsize=(7, height))
    top = float(np.percentile(share * 100, 98)) or 1.0  # one spike must not wash out the rest
    im = ax.imshow(
        share * 100,
        aspect="auto",
        cmap="Greys",
        extent=(-6, 6, m - 0.5, -0.5),
        vmin=0,
        vmax=top,
        interpolation="nearest",
    )
    ax.axvline(-3, color="r", lw=0.8)
    ax.axvline(3, color="r", lw=0.8)
    ax.set_yticks(range(m), [f"{s[:22]} ({b:.0f} %)" for s, b in zip(species, beyond, strict=True)])
    ax.tick_params(axis="y", labelsize=6)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("scaled residual (x - GF) / u, clipped at +-6")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="% of samples")
    ax.set_title("Scaled residuals per species (in brackets: % beyond +-3)", fontsize=9)
    fig.subplots_adjust(left=0.3, right=0.9, top=1 - 0.4 / height, bottom=0.5 / height)
    return fig


def _disp_warning(disp) -> Figure:
    """DISP swaps per factor and dQmax, with PMF5's verdict as the title."""
    swaps = disp.swaps.sort_values("dq_max")
    cols = [c for c in swaps.columns if c.startswith("factor_")]
    p_ = len(cols)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * p_ + 2), 3.4))
    width = 0.8 / len(swaps)
    for i, (_, row) in enumerate(swaps.iterrows()):
        ax.bar(
            np.arange(p_) + (i - (len(swaps) - 1) / 2) * width,
            row[cols].to_numpy(float),
            width,
            label=f"dQmax {row['dq_max']:g}",
        )
    ax.set_xticks(range(p_), cols, fontsize=7)
    ax.set_ylim(0, max(1.0, float(swaps[cols].to_numpy().max()) * 1.15))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("swaps (displacements)")
    ax.legend(fontsize=7, frameon=False)
    first = swaps.iloc[0]
    if not disp.well_defined:
        verdict, colour = (
            f"DISP WARNING: {int(first[cols].sum())} swaps at dQmax = {first['dq_max']:g} - "
            "the solution is not well defined",
            "#c00000",
        )
    else:
        verdict, colour = f"No swaps at dQmax = {first['dq_max']:g}: DISP finds no swap", "#2a7a2a"
    note = f"largest Q decrease {disp.largest_dq_decrease:.2f}"
    if disp.largest_dq_decrease > 1:
        note += " - a displaced refit found a lower Q: the base run was not a minimum"
        if disp.well_defined:
            colour = "#b06000"
    ax.set_title(f"{verdict}\n{note}", fontsize=8, color=colour)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.82, bottom=0.12)
    return fig


def _needs_cjk(labels: list[str]) -> bool:
    return any(not s.isascii() for s in labels)


def pmf_figures(
    x: np.ndarray,
    u: np.ndarray,
    res: PMFResult,
    times: pd.DatetimeIndex | None = None,
    *,
    disp=None,
) -> Iterator[tuple[str, Figure]]:
    """Draw the figures of a solution one at a time.

    Parameters
    ----------
    x, u : numpy.ndarray
        ``n x m`` concentrations and uncertainties the solution was fitted to.
    res : PMFResult
        The solution.
    times : pandas.DatetimeIndex, optional
        Sample times for the contribution plot (default: sample number).
    disp : models.pmf.error_estimates.DisplacementResult, optional
        DISP results: adds the DISP warning figure.

    Yields
    ------
    name : str
        Output name (a key of :data:`FIGURE_FILES`).
    figure : matplotlib.figure.Figure
        The figure; the caller saves and closes it before the next one is drawn.
    """
    conc, pct, contrib = profile_tables(res)
    if _needs_cjk(res.species):
        from pipelines.fonts import use_cjk_font

        use_cjk_font()  # hanzi in species names without a system CJK font
        fonts = nullcontext()
    else:  # Latin labels only: no fallback font to search for every glyph
        fonts = matplotlib.rc_context({"font.family": ["sans-serif"]})
    with fonts:
        yield "fig_profiles", _profiles(conc, pct, res.species)
        yield "fig_fingerprints", _fingerprints(pct, res.species)
        yield "fig_contributions", _contributions(contrib, times)
        yield "fig_g_space", _g_space(contrib)
        yield "fig_residuals", _residuals(scaled_residuals(x, u, res), res.species)
        if disp is not None:
            yield "fig_disp_warning", _disp_warning(disp)
