"""The generic recipe a user could pick instead: ``mlforecast`` with default LightGBM and lags.

Recursive forecasting with lags 1, 2, 3, 24, 48 and hour/day-of-week date features, one global
model over all stations (``unique_id`` = station), default ``LGBMRegressor`` settings. Quantiles
come from its training errors per lead, as for the baselines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.forecast_features import Panel, targets
from models.forecast.base import Forecast, Forecaster, register_forecaster

__all__ = ["MLForecastDefault"]

_LAGS = [1, 2, 3, 24, 48]
_HISTORY = 24 * 7  # hours of history each recursive forecast starts from


def _long(panel: Panel, target: str, upto: int, start: int = 0) -> pd.DataFrame:
    y = panel.values[target][:, start : upto + 1]
    ds = panel.times[start : upto + 1]
    frames = [
        pd.DataFrame({"unique_id": st, "ds": ds, "y": y[s]}) for s, st in enumerate(panel.stations)
    ]
    df = pd.concat(frames, ignore_index=True)
    # mlforecast needs complete series: fill gaps by interpolation within each station
    df["y"] = df.groupby("unique_id")["y"].transform(
        lambda s: s.interpolate(limit_direction="both")
    )
    return df.dropna(subset=["y"])


@register_forecaster("mlforecast_default")
class MLForecastDefault(Forecaster):
    """``mlforecast.MLForecast`` with default LightGBM, lags [1, 2, 3, 24, 48], hour and weekday."""

    def fit(self, panel: Panel, train_end: pd.Timestamp) -> MLForecastDefault:
        """Fit one global recursive model on the training period."""
        import lightgbm as lgb
        from mlforecast import MLForecast

        last = int(panel.times.searchsorted(pd.Timestamp(train_end), side="right") - 1)
        train = _long(panel, self.target, last)
        if train.empty:
            raise ValueError(f"no {self.target} value up to the training end {train_end}")
        self.fcst_ = MLForecast(
            models={"lgbm": lgb.LGBMRegressor(verbose=-1, n_jobs=2)},
            freq="h",
            lags=_LAGS,
            date_features=["hour", "dayofweek"],
        )
        self.fcst_.fit(train)
        self.max_lead_ = int(self.params.get("max_lead", 72))
        # error quantiles per lead from a sample of training issue times, from a week after the
        # first value on (a record may start with months of no data at any site)
        seen = np.flatnonzero(np.isfinite(panel.values[self.target][:, : last + 1]).any(axis=0))
        idx = np.arange(int(seen[0]) + _HISTORY, last - self.max_lead_, 24 * 7)
        leads = np.arange(1, self.max_lead_ + 1)
        err = targets(panel, self.target, idx, leads) - self._point(panel, idx, leads)
        flat = err.transpose(2, 0, 1).reshape(len(leads), -1)
        self.residual_q_ = np.stack(
            [np.nanquantile(flat, q, axis=1) for q in self.quantiles], axis=-1
        )
        return self

    def _point(self, panel: Panel, issue_idx: np.ndarray, leads: np.ndarray) -> np.ndarray:
        out = np.full((len(panel.stations), len(issue_idx), len(leads)), np.nan)
        h = int(np.max(leads))
        pos = {st: s for s, st in enumerate(panel.stations)}
        for n, t in enumerate(issue_idx):
            hist = _long(panel, self.target, int(t), start=max(0, int(t) - _HISTORY))
            # recursive lags need the whole window of a station: others get no forecast
            size = hist.groupby("unique_id")["y"].transform("size")
            hist = hist[size > max(_LAGS)]
            if hist.empty:
                continue
            pred = self.fcst_.predict(h=h, new_df=hist)
            step = ((pred["ds"] - panel.times[int(t)]) / pd.Timedelta("1h")).astype(int).to_numpy()
            rows = pred["unique_id"].map(pos).to_numpy()
            ok = np.isin(step, leads)
            lead_pos = np.searchsorted(leads, step[ok])
            out[rows[ok], n, lead_pos] = pred["lgbm"].to_numpy()[ok]
        return out

    def predict(self, panel: Panel, issue_idx: np.ndarray, leads: np.ndarray) -> Forecast:
        """Recursive forecasts from each issue time, with per-lead error quantiles."""
        point = self._point(panel, issue_idx, np.asarray(leads))
        lead_pos = np.clip(np.asarray(leads) - 1, 0, self.residual_q_.shape[0] - 1)
        q = point[..., None] + self.residual_q_[lead_pos][None, None, :, :]
        return Forecast(
            mean=np.maximum(point, 0), quantiles=np.maximum(q, 0.0), levels=self.quantiles
        )
