"""MLflow pyfunc wrapper: a fitted forecaster plus what it needs to rebuild its input panel.

Input: a long DataFrame of recent history (``station``, ``time`` in UTC, one column per
variable, valid values only). Output: one row per station and lead with the mean and quantiles,
issued at the last time of the input.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import joblib
import mlflow.pyfunc
import numpy as np
import pandas as pd

from features.forecast_features import Panel, with_weather_forecast
from features.nwp_features import NWPRuns
from features.times import naive_utc
from features.wind import wind_components

__all__ = ["StationForecastModel", "history_frame", "panel_from_history"]


def panel_from_history(history: pd.DataFrame, meta: dict[str, Any]) -> Panel:
    """Rebuild the hourly panel (trained station order) from a long history frame."""
    times = naive_utc(pd.DatetimeIndex(pd.to_datetime(history["time"])))
    grid = pd.date_range(times.min(), times.max(), freq="h")
    stations = meta["stations"]
    s_idx = pd.Index(stations).get_indexer(history["station"].astype(str))
    t_idx = grid.get_indexer(times)
    ok = (s_idx >= 0) & (t_idx >= 0)
    values = {}
    for v in meta["variables"]:
        arr = np.full((len(stations), len(grid)), np.nan)
        if v in history:
            arr[s_idx[ok], t_idx[ok]] = history[v].to_numpy(dtype=float)[ok]
        values[v] = arr
    if "wind_speed" in values and "wind_from_direction" in values:
        values["wind_u"], values["wind_v"] = wind_components(
            values["wind_speed"], values["wind_from_direction"]
        )
    return Panel(
        stations, grid, values, np.array(meta["lat"]), np.array(meta["lon"]), meta["time_zone"]
    )


def history_frame(panel: Panel, end_idx: int, hours: int) -> pd.DataFrame:
    """Long history frame of the ``hours`` before and including column ``end_idx``."""
    sl = slice(max(0, end_idx - hours + 1), end_idx + 1)
    times = panel.times[sl]
    frames = []
    for s, st in enumerate(panel.stations):
        d = {"station": st, "time": times}
        d |= {v: a[s, sl] for v, a in panel.values.items() if v not in ("wind_u", "wind_v")}
        frames.append(pd.DataFrame(d))
    return pd.concat(frames, ignore_index=True)


class StationForecastModel(mlflow.pyfunc.PythonModel):
    """Deployable forecaster for one network and target."""

    def load_context(self, context: Any) -> None:
        """Load the pickled forecaster and its metadata."""
        self.forecaster = joblib.load(context.artifacts["forecaster"])
        with open(context.artifacts["meta"], encoding="utf-8") as fh:
            self.meta = json.load(fh)

    def drivers(
        self,
        model_input: pd.DataFrame,
        *,
        pollutants: Collection[str],
        nwp: NWPRuns | None = None,
        stations: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """Driver-group contributions ``S x L x G`` from the last time, or None if unsupported.

        ``pollutants`` are the air pollutants of the variable registry
        (:func:`features.units.pollutants`); ``nwp`` the weather-forecast feed as in
        :meth:`forecast`; ``stations`` an ``S`` boolean mask of the stations to explain (in the
        order of the model's stations; the others are NaN), default every station.
        """
        if not hasattr(self.forecaster, "drivers"):
            return None
        panel = with_weather_forecast(panel_from_history(model_input, self.meta), nwp)
        leads = np.arange(1, int(self.meta["max_lead"]) + 1)
        issue = np.array([len(panel.times) - 1])
        if stations is None:
            return self.forecaster.drivers(panel, issue, leads, pollutants=pollutants)[:, 0]
        out = self.forecaster.drivers(panel, issue, leads, pollutants=pollutants, stations=stations)
        return out[:, 0]

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        """Forecast all leads from the last time in ``model_input`` (models without a feed).

        A model trained with a weather-forecast feed needs the feed's runs, which a DataFrame
        input cannot carry: call :meth:`forecast` with ``nwp``; here it raises
        :class:`features.forecast_features.MissingWeatherForecast` naming the feed.
        """
        return self.forecast(model_input)

    def forecast(self, model_input: pd.DataFrame, *, nwp: NWPRuns | None = None) -> pd.DataFrame:
        """Forecast all leads from the last time in ``model_input``.

        Parameters
        ----------
        model_input : pandas.DataFrame
            Recent history (:func:`history_frame`).
        nwp : features.nwp_features.NWPRuns, optional
            The weather-forecast feed the model was trained with (``meta["weather_feed"]``),
            with the run visible at the issue time.
        """
        panel = with_weather_forecast(panel_from_history(model_input, self.meta), nwp)
        leads = np.arange(1, int(self.meta["max_lead"]) + 1)
        fc = self.forecaster.predict(panel, np.array([len(panel.times) - 1]), leads)
        n_st, n_lead = len(panel.stations), len(leads)
        columns: dict[str, Any] = {
            "station": np.repeat(np.asarray(panel.stations, dtype=object), n_lead),
            "lead": np.tile(leads.astype("int64"), n_st),
            "mean": np.asarray(fc.mean[:, 0, :], "float64").ravel(),
        }
        for k, q in enumerate(fc.levels):  # station-major rows, as the frame always was
            columns[f"q{q:g}"] = np.asarray(fc.quantiles[:, 0, :, k], "float64").ravel()
        return pd.DataFrame(columns)
