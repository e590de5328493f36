"""LightGBM direct multi-horizon forecaster: one model for all leads (lead as a feature).

A mean model (L2) gives the point forecast; one quantile model per level gives the
probabilistic forecast. Training rows are (station, issue time, lead) triples drawn from the
training period only, with a validation slice at its end for early stopping (the test period is
never seen).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.forecast_features import (
    FeatureSpec,
    Panel,
    issue_features,
    lead_rows,
    targets,
    weather_forecast_rows,
)
from features.times import to_local
from models.forecast.base import Forecast, Forecaster, register_forecaster
from models.forecast.baselines import climatology_table
from models.forecast.calibration import apply_band_scale, fit_band_scale, fit_shrinkage

__all__ = ["LightGBMForecaster"]

_DEFAULTS: dict[str, Any] = {
    "n_estimators": 1000,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 200,
    "subsample": 0.7,
    "subsample_freq": 1,
    "colsample_bytree": 0.7,
    "reg_lambda": 5.0,
    "n_jobs": 2,
    "verbose": -1,
    "deterministic": True,  # same data and seed -> same model (champion comparisons are fair)
    "force_row_wise": True,
}


@register_forecaster("lightgbm")
class LightGBMForecaster(Forecaster):
    """Direct multi-horizon LightGBM with quantile models.

    Parameters (``configs/models/lightgbm.yml``)
    --------------------------------------------
    features : dict
        :class:`features.forecast_features.FeatureSpec` options.
    max_lead : int
        Longest lead [h] (default 72).
    issue_stride : int
        Hours between training issue times (default 3).
    leads_per_row : int
        Random leads drawn per (station, issue time) for training (default 8).
    validation : str
        ``blocked_weeks`` (every ``validation_every``-th week, default 5) or ``last_days``
        (the last ``validation_days``) of the training period, for early stopping and shrinkage.
    lgbm : dict
        LightGBM parameters.
    seed : int
        Random seed.
    weather_forecast : bool
        Use the panel's weather-forecast feed when it has one (default true). A model trained
        with a feed records it (``weather_feed_``) and refuses to forecast without it
        (:class:`features.forecast_features.MissingWeatherForecast`).
    """

    def _spec(self) -> FeatureSpec:
        return FeatureSpec.from_config(self.target, self.params.get("features", {}))

    def _rows(
        self, panel: Panel, issue_idx: np.ndarray, leads: np.ndarray, *, training: bool = False
    ) -> tuple[np.ndarray, list[str]]:
        feats, names = issue_features(panel, self._spec(), issue_idx)
        rows, names = lead_rows(feats, names, panel, issue_idx, leads, self.table_)
        feed = getattr(self, "weather_feed_", None)
        if feed is not None:  # training: issue times before the feed's first run get NaN weather
            wx, wnames, _ = weather_forecast_rows(
                panel,
                issue_idx,
                leads,
                feed=feed,
                variables=self.weather_variables_,
                training=training,
            )
            rows, names = np.concatenate([rows, wx.astype(rows.dtype)], axis=-1), names + wnames
        if getattr(self, "anchor_", "climatology") == "recent":
            S, N = len(panel.stations), len(issue_idx)
            lead_arr = np.broadcast_to(np.asarray(leads), (S, N, np.shape(leads)[-1]))
            rows = rows.copy()
            rows[..., names.index("climatology")] = self._recent_level(panel, issue_idx, lead_arr)
        return rows, names

    def _recent_level(
        self, panel: Panel, issue_idx: np.ndarray, lead_arr: np.ndarray
    ) -> np.ndarray:
        """Return the expected value at issue + lead for short records.

        The mean, over the last ``recent_days`` days before the issue, of the readings at the
        target's hour of day (the recent level and diurnal cycle together). Used instead of the
        hour x month climatology when the training data cover less than a year: months never seen
        in training have no climatology, so a summer-only record would anchor a December forecast
        on summer values.
        """
        import warnings

        y = panel.values[self.target]
        days = int(self.params.get("recent_days", 7))
        lead = np.asarray(lead_arr, int)
        # the latest same-hour time strictly before the issue (also for lead 0: the "now" anomaly
        # is measured against previous days, as the target's is)
        back = 24 * np.maximum(np.ceil(lead / 24).astype(int), 1)
        idx = issue_idx[None, :, None] + lead - back  # S x N x L
        s_idx = np.broadcast_to(np.arange(len(panel.stations))[:, None, None], idx.shape)
        vals = np.stack(
            [
                np.where(idx - 24 * j >= 0, y[s_idx, np.clip(idx - 24 * j, 0, None)], np.nan)
                for j in range(days)
            ],
            axis=-1,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = np.nanmean(vals, axis=-1)
        return np.where(np.isnan(out), self.overall_[:, None, None], out)

    def _validation_mask(
        self, issue_times: pd.DatetimeIndex, train_end: pd.Timestamp
    ) -> np.ndarray:
        """Issue times used for early stopping and shrinkage (never the test period).

        ``blocked_weeks`` (default): every ``validation_every``-th week of the training period,
        so that validation covers all seasons; ``last_days``: the final ``validation_days``.
        """
        how = self.params.get("validation", "blocked_weeks")
        if how == "last_days":
            start = train_end - pd.Timedelta(days=int(self.params.get("validation_days", 60)))
            return np.asarray(issue_times > start)
        weeks = ((issue_times - issue_times[0]) / pd.Timedelta("7D")).astype(int)
        return np.asarray(weeks % int(self.params.get("validation_every", 5)) == 0)

    # --------------------------------------------------------------------- anchor (baseline)
    def _clim_now(self, panel: Panel, issue_idx: np.ndarray) -> np.ndarray:
        if getattr(self, "anchor_", "climatology") == "recent":
            zero = np.zeros((len(panel.stations), len(issue_idx), 1), int)
            return self._recent_level(panel, issue_idx, zero)[..., 0]
        local = to_local(panel.times[issue_idx], panel.time_zone)
        S = len(panel.stations)
        return self.table_[
            np.arange(S)[:, None],
            local.hour.to_numpy()[None, :],
            local.month.to_numpy()[None, :] - 1,
        ]

    def _anchor(self, rows: np.ndarray, clim_now: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Damped anomaly persistence: clim(target) + rho_h * (y(t) - clim(t)); and the lead index."""
        names = self.feature_names_
        lead = rows[..., names.index("lead")].astype(int)
        lag0 = rows[..., names.index(f"{self.target}_lag0")]
        fallback = (
            rows[..., names.index(f"{self.target}_mean6")]
            if f"{self.target}_mean6" in names
            else lag0
        )
        now = np.where(np.isnan(lag0), fallback, lag0)
        anomaly = np.where(np.isnan(now), 0.0, now - clim_now[..., None])
        return rows[..., names.index("climatology")] + self.rho_[lead - 1] * anomaly, lead

    def fit(self, panel: Panel, train_end: pd.Timestamp) -> LightGBMForecaster:
        """Train on data up to ``train_end``.

        The models learn the residual of a damped-anomaly-persistence anchor, standardised by
        the anchor's error at each lead, so that every lead weighs the same in the loss; the
        residual is then shrunk per lead by a factor fitted on the validation slice (never on
        test data), which keeps long leads from fitting noise, and the quantile band is scaled per
        lead so that it covers its nominal share of the validation observations.
        """
        train_end = pd.Timestamp(train_end)
        max_lead = int(self.params.get("max_lead", 72))
        stride = int(self.params.get("issue_stride", 3))
        k = int(self.params.get("leads_per_row", 8))
        rng = np.random.default_rng(int(self.params.get("seed", 0)))
        mask = np.asarray(panel.times <= train_end)
        self.table_ = climatology_table(panel, self.target, mask)
        # anchor: hour x month climatology needs a year of training data; shorter records use the
        # recent level plus the diurnal cycle (``anchor: auto | climatology | recent``)
        span_days = (train_end - panel.times[0]) / pd.Timedelta(days=1)
        anchor = self.params.get("anchor", "auto")
        self.anchor_ = (
            ("recent" if span_days < 330 else "climatology") if anchor == "auto" else anchor
        )
        with np.errstate(invalid="ignore"):
            y_tr = np.where(mask[None, :], panel.values[self.target], np.nan)
            self.overall_ = np.nan_to_num(np.nanmean(y_tr, axis=1))
        last = int(np.flatnonzero(mask)[-1])
        issue_idx = np.arange(72, last - 1, stride)
        S, N = len(panel.stations), len(issue_idx)
        leads = rng.integers(1, max_lead + 1, size=(S, N, k))
        use_wx = panel.nwp is not None and bool(self.params.get("weather_forecast", True))
        self.weather_feed_ = panel.nwp.feed if use_wx else None
        self.weather_variables_ = sorted(panel.nwp.values) if use_wx else []
        self.weather_synthetic_ = bool(panel.nwp.synthetic) if use_wx else False
        rows, self.feature_names_ = self._rows(panel, issue_idx, leads, training=True)
        y = targets(panel, self.target, issue_idx, leads)
        y = np.where(issue_idx[None, :, None] + leads <= last, y, np.nan)  # targets inside training
        is_val = np.broadcast_to(
            self._validation_mask(panel.times[issue_idx], train_end)[None, :, None], y.shape
        )
        clim_now = self._clim_now(panel, issue_idx)
        # rho_h from the fitting rows (not validation)
        self.rho_ = np.zeros(max_lead)
        self.rho_[:] = 0.0
        names = self.feature_names_
        lag0 = rows[..., names.index(f"{self.target}_lag0")]
        a_now = lag0 - clim_now[..., None]
        a_tgt = y - rows[..., names.index("climatology")]
        fit_rows = ~is_val & ~np.isnan(a_now) & ~np.isnan(a_tgt)
        for h in range(1, max_lead + 1):
            sel = fit_rows & (leads == h)
            den = np.sum(a_now[sel] ** 2)
            self.rho_[h - 1] = float(np.sum(a_now[sel] * a_tgt[sel]) / den) if den > 0 else 0.0
        anchor, lead_idx = self._anchor(rows, clim_now)
        resid = y - anchor
        self.sigma_ = np.ones(max_lead)
        for h in range(1, max_lead + 1):
            sel = ~is_val & (leads == h) & ~np.isnan(resid)
            if sel.any():
                self.sigma_[h - 1] = max(float(np.sqrt(np.mean(resid[sel] ** 2))), 1e-6)
        z = resid / self.sigma_[lead_idx - 1]
        X, zv, val = rows.reshape(-1, rows.shape[-1]), z.ravel(), is_val.ravel()
        lead_flat = lead_idx.ravel()
        keep = ~np.isnan(zv)
        X, zv, val, lead_flat = X[keep], zv[keep], val[keep], lead_flat[keep]
        params = {
            **_DEFAULTS,
            **self.params.get("lgbm", {}),
            "random_state": int(self.params.get("seed", 0)),
        }
        cat = [self.feature_names_.index("station_index")]
        patience = int(self.params.get("early_stopping", 100))
        self.models_: dict[str, lgb.LGBMRegressor] = {}
        self.best_iterations_: dict[str, int] = {}
        objectives = {"mean": {"objective": "regression"}}
        objectives |= {f"q{q:g}": {"objective": "quantile", "alpha": q} for q in self.quantiles}
        for key, obj in objectives.items():
            model = lgb.LGBMRegressor(**params, **obj)
            model.fit(
                X[~val],
                zv[~val],
                eval_X=(X[val],),
                eval_y=(zv[val],),
                categorical_feature=cat,
                callbacks=[lgb.early_stopping(patience, verbose=False)],
            )
            self.models_[key] = model
            self.best_iterations_[key] = int(model.best_iteration_ or params["n_estimators"])
        # per-lead shrinkage of the mean residual and scaling of the quantile band, both fitted on
        # the validation slice (never on test data)
        width = int(self.params.get("shrink_group", 6))
        self.shrink_ = fit_shrinkage(
            self.models_["mean"].predict(X[val]), zv[val], lead_flat[val], max_lead, width
        )
        zq = np.sort(
            np.stack([self.models_[f"q{q:g}"].predict(X[val]) for q in self.quantiles], axis=-1),
            axis=-1,
        )
        self.band_ = fit_band_scale(zq, self.quantiles, zv[val], lead_flat[val], max_lead, width)
        self.n_train_rows_ = int((~val).sum())
        self.n_val_rows_ = int(val.sum())
        return self

    def predict(self, panel: Panel, issue_idx: np.ndarray, leads: np.ndarray) -> Forecast:
        """Predict every station, issue time and lead."""
        if np.max(leads) > len(self.rho_):
            raise ValueError(f"lead {np.max(leads)} h beyond the trained {len(self.rho_)} h")
        rows, _ = self._rows(panel, issue_idx, leads)
        anchor, lead_idx = self._anchor(rows, self._clim_now(panel, issue_idx))
        sigma = self.sigma_[lead_idx - 1]
        X = rows.reshape(-1, rows.shape[-1])
        shape = rows.shape[:-1]
        z = self.models_["mean"].predict(X).reshape(shape)
        mean = anchor + self.shrink_[lead_idx - 1] * sigma * z
        zq = np.sort(
            np.stack(
                [self.models_[f"q{q:g}"].predict(X).reshape(shape) for q in self.quantiles],
                axis=-1,
            ),
            axis=-1,
        )
        band = getattr(self, "band_", None)
        if band is not None:
            zq = apply_band_scale(zq, self.quantiles, band[lead_idx - 1])
        qs = anchor[..., None] + sigma[..., None] * zq
        qs = np.sort(np.maximum(qs, 0.0), axis=-1)  # no crossing, no negative concentrations
        return Forecast(mean=np.maximum(mean, 0.0), quantiles=qs, levels=self.quantiles)

    def drivers(
        self,
        panel: Panel,
        issue_idx: np.ndarray,
        leads: np.ndarray,
        *,
        pollutants: Collection[str],
        stations: np.ndarray | None = None,
    ) -> np.ndarray:
        """Driver-group contributions ``S x N x L x G`` (:mod:`models.forecast.drivers`) [target units].

        ``pollutants`` are the air pollutants of the variable registry
        (:func:`features.units.pollutants`), whose features count as local concentrations.
        ``stations``: an ``S`` boolean mask of the stations to explain (TreeSHAP costs about ten
        predictions per row); the others get NaN. Default: every station.
        """
        from models.forecast.drivers import GROUPS, group_contributions

        rows, names = self._rows(panel, issue_idx, leads)
        clim_now = self._clim_now(panel, issue_idx)
        anchor, lead_idx = self._anchor(rows, clim_now)
        anomaly = anchor - rows[..., names.index("climatology")]
        pick = np.ones(rows.shape[0], bool) if stations is None else np.asarray(stations, bool)
        out = np.full((*rows.shape[:-1], len(GROUPS)), np.nan)
        if not pick.any():
            return out
        sub = rows[pick]
        X = sub.reshape(-1, sub.shape[-1])
        contrib = self.models_["mean"].booster_.predict(X, pred_contrib=True)
        contrib = contrib.reshape(*sub.shape[:-1], contrib.shape[-1])
        scale = self.shrink_[lead_idx[pick] - 1] * self.sigma_[lead_idx[pick] - 1]
        out[pick] = group_contributions(
            contrib, names, self.target, scale, anomaly[pick], pollutants=pollutants
        )
        return out

    def feature_importance(self) -> pd.Series:
        """Gain importance of the mean model."""
        booster = self.models_["mean"].booster_
        return pd.Series(booster.feature_importance("gain"), index=self.feature_names_).sort_values(
            ascending=False
        )
