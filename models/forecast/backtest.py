"""Rolling-origin backtest.

Fit on the training period, forecast every issue time of the test period and score per lead. Pure:
takes a panel, returns tables.

Scores are like-for-like: every model is scored on the same cells, those observed and forecast by
every model in the comparison (a model that abstains where another falls back would otherwise be
scored on an easier sample). Each row states its sample size ``n`` and the model's own
``forecast_share`` of the observed cells; a model forecasting under :data:`MIN_SHARE` of them is
left out of the common sample and scored on its own cells (``sample = own``). A model that fails
to fit or predict is reported in :attr:`BacktestResult.failed` and the others are still scored.
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

__all__ = ["MIN_SHARE", "BacktestError", "BacktestResult", "common_sample", "run_backtest", "score"]

#: A model forecasting fewer of the observed cells is scored on its own cells, not the common ones.
MIN_SHARE = 0.5


class BacktestError(RuntimeError):
    """No model of a backtest could be fitted and run."""


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
    failed: dict[str, str] = field(default_factory=dict)  # model -> "ExcType: message"
    sample: list[str] = field(default_factory=list)  # models whose cells define the common sample


def score(
    forecast: Forecast,
    obs: np.ndarray,
    leads: np.ndarray,
    threshold: float | None,
    reference_rmse: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per-lead verification table of one forecast, on the cells where ``obs`` is finite.

    ``n`` counts the scored cells per lead (both observed and forecast).
    """
    rows: dict[str, Any] = {
        "lead": leads,
        "n": np.sum(np.isfinite(forecast.mean) & np.isfinite(obs), axis=(0, 1)),
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
    forecasts, fitted, fit_s, pred_s, failed = {}, {}, {}, {}, {}
    for name, cfg in model_configs.items():
        t0 = time.perf_counter()
        # the horizon is a forecast setting (configs/forecast.yml: leads), not a model one
        params = {**(cfg.get("params") or {}), "max_lead": max_lead}
        try:
            model = create_forecaster(
                cfg.get("forecaster", name), target, quantiles=quantiles, **params
            ).fit(panel, train_end)
            fit_s[name] = time.perf_counter() - t0
            t0 = time.perf_counter()
            forecasts[name] = model.predict(panel, issue_idx, leads)
        except Exception as exc:  # noqa: BLE001 - one model's failure must not discard the others
            failed[name] = f"{type(exc).__name__}: {exc}"
            fit_s.pop(name, None)
            continue
        pred_s[name] = time.perf_counter() - t0
        fitted[name] = model
    if not forecasts:
        raise BacktestError(
            f"{target}: every model failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items())
        )
    members, common = common_sample({k: f.mean for k, f in forecasts.items()}, obs)
    obs_common = np.where(common, obs, np.nan)
    ref = None
    if "persistence" in members:
        ref = metrics.rmse(forecasts["persistence"].mean, obs_common)
    tables = []
    for name, fc in forecasts.items():
        own = name not in members
        t = score(fc, obs if own else obs_common, leads, threshold, None if own else ref)
        t.insert(0, "model", name)
        t.insert(2, "sample", "own" if own else "common")
        t.insert(4, "forecast_share", _share(fc.mean, obs))
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
        failed=failed,
        sample=members,
    )


def _share(pred: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Per lead: share of the observed cells that ``pred`` forecasts."""
    seen = np.isfinite(obs)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(seen & np.isfinite(pred), axis=(0, 1)) / np.sum(seen, axis=(0, 1))


def common_sample(
    means: dict[str, np.ndarray], obs: np.ndarray, *, min_share: float = MIN_SHARE
) -> tuple[list[str], np.ndarray]:
    """Find the models sharing one sample, and its cells.

    Parameters
    ----------
    means : dict of numpy.ndarray
        Model -> ``S x N x L`` mean forecast.
    obs : numpy.ndarray
        ``S x N x L`` observations.
    min_share : float
        A model forecasting less than this share of the observed cells (over all leads) is left
        out, so that one nearly empty model does not empty everyone's sample.

    Returns
    -------
    members : list of str
        Models in the common sample.
    cells : numpy.ndarray
        ``S x N x L`` bool: observed and forecast by every member.
    """
    seen = np.isfinite(obs)
    total = max(int(seen.sum()), 1)
    members = [k for k, m in means.items() if np.sum(seen & np.isfinite(m)) / total >= min_share]
    cells = seen.copy()
    for k in members:
        cells &= np.isfinite(means[k])
    return members, cells
