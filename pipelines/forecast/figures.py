"""Figures an analyst reads faster than tables: forecast vs observed, skill by lead, reliability."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from models.forecast.backtest import BacktestResult  # noqa: E402
from pipelines.fonts import use_cjk_font  # noqa: E402

use_cjk_font()  # hanzi in the figures without a system CJK font

__all__ = ["plot_forecast_vs_observed", "plot_reliability", "plot_skill_by_lead"]


def plot_skill_by_lead(result: BacktestResult, path: Path, metric: str = "rmse") -> Path:
    """One line per model: ``metric`` against lead time."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for name, grp in result.table.groupby("model", sort=False):
        ax.plot(grp["lead"], grp[metric], label=name, lw=1.2)
    ax.set_xlabel("lead time [h]")
    ax.set_ylabel(f"{metric.upper()} of {result.target}")
    ax.set_title(
        f"{result.target}: {metric.upper()} by lead, test {result.window.get('test_start', '')[:10]}"
        f" .. {result.window.get('test_end', '')[:10]}"
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_forecast_vs_observed(
    result: BacktestResult,
    times: pd.DatetimeIndex,
    station_index: int,
    station_name: str,
    lead: int,
    path: Path,
    model: str = "lightgbm",
) -> Path:
    """Forecasts at one lead with the P10-P90 band against the observations, for one station."""
    fc = result.forecasts[model]
    j = int(np.flatnonzero(result.leads == lead)[0])
    valid_times = times[result.issue_idx] + pd.Timedelta(hours=lead)
    lo, hi = min(fc.levels), max(fc.levels)
    fig, ax = plt.subplots(figsize=(10, 4), dpi=120)
    ax.fill_between(
        valid_times,
        fc.quantile(lo)[station_index, :, j],
        fc.quantile(hi)[station_index, :, j],
        alpha=0.3,
        label=f"P{lo * 100:g}-P{hi * 100:g}",
    )
    ax.plot(valid_times, fc.mean[station_index, :, j], lw=1, label=f"{model} (+{lead} h)")
    ax.plot(valid_times, result.observed[station_index, :, j], lw=0.8, color="k", label="observed")
    ax.set_ylabel(result.target)
    ax.set_title(f"{station_name}: {result.target} forecast at +{lead} h vs observed")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_reliability(
    result: BacktestResult, threshold: float, leads: list[int], path: Path
) -> Path:
    """Reliability diagram of ``P(value > threshold)`` per model at a few leads.

    Points on the diagonal are reliable; the dot size shows how many forecasts fell in the bin.
    """
    from models.forecast.metrics import reliability

    fig, axes = plt.subplots(1, len(leads), figsize=(4 * len(leads), 4), dpi=120, squeeze=False)
    event = np.where(np.isnan(result.observed), np.nan, result.observed > threshold)
    for ax, lead in zip(axes[0], leads, strict=True):
        j = int(np.flatnonzero(result.leads == lead)[0])
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        for name, fc in result.forecasts.items():
            rel = reliability(fc.exceedance_probability(threshold)[..., j], event[..., j])
            ok = rel["count"] > 0
            ax.plot(rel["forecast"][ok], rel["observed"][ok], marker="o", ms=3, lw=1, label=name)
        ax.set_title(f"+{lead} h")
        ax.set_xlabel(f"forecast P({result.target} > {threshold:g})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("observed frequency")
    axes[0, -1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
