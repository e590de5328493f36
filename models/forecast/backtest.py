"""Rolling-origin backtest.

Fit on the training period, forecast every issue time of the test period and score per lead. Pure:
takes a panel, returns tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import models.forecast.baselines  # noqa: F401 - registers baselines
import models.forecast.generic  # noqa: F401 - registers mlforecast_default
import models.forecast.lgbm  # noqa: F401 - registers lightgbm
import models.forecast.stgnn  # noqa: F401 - registers stgnn
from features.forecast_features import Panel, targets
from models.forecast import metrics
from models.forecast.base import Forecast, Forecaster, create_forecaster

__all__ = ["BacktestResult", "run_backtest", "score"]


@dataclass
class BacktestResult:
    """Scores per model and lead, the fitted models and their forecasts."""

    target: str
    table: pd.DataFrame
    forecasts: dict[str, Forecast]
    fitted: dict[str, Forecaster]
    fit_seconds: dict[str, float]
    predict_seconds: dict[str, float]
    issue_idx: np.ndarray
    leads: np.ndarray
    observed: np.ndarray
    window: dict[str, str] = field(default_factory=dict)
    daily: pd.DataFrame | None = None  # D+1..D+3 scores when several pollutants were backtested


def score(
    forecast: Forecast,
    obs: np.ndarray,
    leads: np.ndarray,
    threshold: float | None,
    reference_rmse: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per-lead verification table of one forecast."""
    rows: dict[str, Any] = {
        "lead": leads,
        "rmse": metrics.rmse(forecast.mean, obs),
        "mae": metrics.mae(forecast.mean, obs),
    }
    if reference_rmse is not None:
        rows["skill_vs_persistence"] = metrics.skill(rows["rmse"], reference_rmse)
    if threshold is not None:
        cat = metrics.categorical_scores(forecast.mean, obs, threshold)
        rows |= {"csi": cat["csi"], "pod": cat["pod"], "far": cat["far"]}
        prob = forecast.exceedance_probability(threshold)
        event = np.where(np.isnan(obs), np.nan, obs > threshold)
        rows["brier"] = [
            float(metrics.reliability(prob[..., j], event[..., j])["brier"])
            for j in range(len(leads))
        ]
    for q in forecast.levels:
        rows[f"pinball_q{q:g}"] = metrics.pinball(forecast.quantile(q), obs, q)
    lo, hi = min(forecast.levels), max(forecast.levels)
    rows[f"coverage_{lo:g}_{hi:g}"] = metrics.coverage(
        forecast.quantile(lo), forecast.quantile(hi), obs
    )
    return pd.DataFrame(rows)


def run_backtest(
    panel: Panel,
    target: str,
    model_configs: dict[str, dict[str, Any]],
    train_end: pd.Timestamp,
    test_start: pd.Timestamp,
    test_end: pd.Timestamp,
    issue_stride: int = 6,
    max_lead: int = 72,
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
    threshold: float | None = None,
) -> BacktestResult:
    """Fit every model on data up to ``train_end`` and score it on the test issue times.

    Parameters
    ----------
    panel : Panel
        All data (training and test); models only see times up to ``train_end`` when fitting,
        and features at issue time only when predicting.
    model_configs : dict
        Model name -> ``{"forecaster": name, "params": {...}}`` (``configs/models/*.yml``).
    train_end, test_start, test_end : pandas.Timestamp
        UTC times; issue times run from ``test_start`` to ``test_end - max_lead``.
    """
    leads = np.arange(1, max_lead + 1)
    issue_idx = np.flatnonzero(
        (panel.times >= test_start) & (panel.times <= test_end - pd.Timedelta(hours=max_lead))
    )
    issue_idx = issue_idx[::issue_stride]
    obs = targets(panel, target, issue_idx, leads)
    forecasts, fitted, fit_s, pred_s = {}, {}, {}, {}
    for name, cfg in model_configs.items():
        t0 = time.perf_counter()
        # the horizon is a forecast setting (configs/forecast.yml: leads), not a model one
        params = {**(cfg.get("params") or {}), "max_lead": max_lead}
        model = create_forecaster(
            cfg.get("forecaster", name), target, quantiles=quantiles, **params
        ).fit(panel, train_end)
        fit_s[name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        forecasts[name] = model.predict(panel, issue_idx, leads)
        pred_s[name] = time.perf_counter() - t0
        fitted[name] = model
    ref = metrics.rmse(forecasts["persistence"].mean, obs) if "persistence" in forecasts else None
    tables = []
    for name, fc in forecasts.items():
        t = score(fc, obs, leads, threshold, ref)
        t.insert(0, "model", name)
        tables.append(t)
    return BacktestResult(
        target=target,
        table=pd.concat(tables, ignore_index=True),
        forecasts=forecasts,
        fitted=fitted,
        fit_seconds=fit_s,
        predict_seconds=pred_s,
        issue_idx=issue_idx,
        leads=leads,
        observed=obs,
        window={
            "train_end": str(train_end),
            "test_start": str(test_start),
            "test_end": str(test_end),
        },
    )
