"""Honest baselines: persistence and a station x local-hour x month climatology.

Both get quantiles from their own training-period errors per lead, so they can be scored with
the same probabilistic metrics as the learned models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.forecast_features import Panel, targets
from features.times import to_local
from models.forecast.base import Forecast, Forecaster, register_forecaster

__all__ = ["ClimatologyForecaster", "PersistenceForecaster", "climatology_table"]


def climatology_table(panel: Panel, target: str, train_mask: np.ndarray) -> np.ndarray:
    """Mean of ``target`` by station, local hour and month over the training times.

    Returns
    -------
    numpy.ndarray
        ``S x 24 x 12``; bins without data fall back to the station's hour-of-day mean, then to
        the station mean.
    """
    y = np.where(train_mask[None, :], panel.values[target], np.nan)
    local = to_local(panel.times, panel.time_zone)
    hour, month = local.hour.to_numpy(), local.month.to_numpy() - 1
    S = y.shape[0]
    total = np.zeros((S, 24, 12))
    count = np.zeros((S, 24, 12))
    ok = ~np.isnan(y)
    for s in range(S):
        np.add.at(total[s], (hour[ok[s]], month[ok[s]]), y[s, ok[s]])
        np.add.at(count[s], (hour[ok[s]], month[ok[s]]), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = total / count
        by_hour = total.sum(axis=2) / count.sum(axis=2)
        overall = total.sum(axis=(1, 2)) / count.sum(axis=(1, 2))
    table = np.where(np.isnan(table), by_hour[:, :, None], table)
    return np.where(np.isnan(table), overall[:, None, None], table)


def _training_issue_idx(
    panel: Panel, train_end: pd.Timestamp, stride: int, max_lead: int
) -> np.ndarray:
    last = panel.times.searchsorted(train_end, side="right") - 1 - max_lead
    return np.arange(0, max(last, 0), stride)


class _ResidualQuantiles(Forecaster):
    """Adds per-lead empirical error quantiles (from training) to a point forecast."""

    def _point(self, panel: Panel, issue_idx: np.ndarray, leads: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _fit_residuals(self, panel: Panel, train_end: pd.Timestamp, max_lead: int = 72) -> None:
        idx = _training_issue_idx(
            panel, train_end, int(self.params.get("residual_stride", 7)), max_lead
        )
        leads = np.arange(1, max_lead + 1)
        err = targets(panel, self.target, idx, leads) - self._point(panel, idx, leads)
        flat = err.transpose(2, 0, 1).reshape(max_lead, -1)
        self.residual_q_ = np.stack(
            [np.nanquantile(flat, q, axis=1) for q in self.quantiles], axis=-1
        )

    def predict(self, panel: Panel, issue_idx: np.ndarray, leads: np.ndarray) -> Forecast:
        """Point forecast plus the training error quantiles of each lead (clipped at 0)."""
        point = self._point(panel, issue_idx, leads)
        lead_pos = np.clip(np.asarray(leads) - 1, 0, self.residual_q_.shape[0] - 1)
        q = point[..., None] + self.residual_q_[lead_pos][None, None, :, :]
        return Forecast(mean=point, quantiles=np.maximum(q, 0.0), levels=self.quantiles)


@register_forecaster("persistence")
class PersistenceForecaster(_ResidualQuantiles):
    """The last valid observation at the issue time, for every lead."""

    def _point(self, panel: Panel, issue_idx: np.ndarray, leads: np.ndarray) -> np.ndarray:
        y = panel.values[self.target]
        # last valid value within 6 h before the issue time (gaps are common)
        frame = pd.DataFrame(y.T).ffill(limit=6).to_numpy().T
        last = frame[:, issue_idx]
        return np.broadcast_to(last[:, :, None], (y.shape[0], len(issue_idx), len(leads))).copy()

    def fit(self, panel: Panel, train_end: pd.Timestamp) -> PersistenceForecaster:
        """Learn only the error quantiles per lead."""
        self._fit_residuals(panel, pd.Timestamp(train_end))
        return self


@register_forecaster("climatology")
class ClimatologyForecaster(_ResidualQuantiles):
    """Training mean by station, local hour and month of the target time."""

    def fit(self, panel: Panel, train_end: pd.Timestamp) -> ClimatologyForecaster:
        """Compute the table from training times only, then the error quantiles."""
        mask = np.asarray(panel.times <= pd.Timestamp(train_end))
        self.table_ = climatology_table(panel, self.target, mask)
        self._fit_residuals(panel, pd.Timestamp(train_end))
        return self

    def _point(self, panel: Panel, issue_idx: np.ndarray, leads: np.ndarray) -> np.ndarray:
        S = len(panel.stations)
        t = (
            panel.times[issue_idx].values[:, None]
            + np.asarray(leads).astype("timedelta64[h]")[None, :]
        )
        local = to_local(pd.DatetimeIndex(t.ravel()), panel.time_zone)
        hour = local.hour.to_numpy().reshape(t.shape)
        month = local.month.to_numpy().reshape(t.shape) - 1
        return self.table_[np.arange(S)[:, None, None], hour[None], month[None]]
