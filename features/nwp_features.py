"""Weather-forecast (NWP) features at the valid time of each lead, leak-free by construction.

A feed's runs at the stations are held as one cube (:class:`NWPRuns`: run x station x forecast
period, hourly periods). For a forecast issued at T, only the newest run with
``run issue + latency <= T`` is visible (:func:`visible_runs`); the feature of lead h is that
run's value at forecast period ``T + h - run issue``, i.e. at the **valid** time of the lead
(:func:`valid_time_features`). Later runs are never indexed, whatever they contain
(``tests/features/test_nwp_features.py`` perturbs them to prove it).

Derived stagnation features (:func:`derive`) are computed along each run's periods only, from
:mod:`features.stagnation`: wind speed, relative humidity, ventilation (wind x boundary-layer
height, where the feed has it), 24-h pressure tendency, hours of calm and trailing 24-h means
of wind, humidity and ventilation, 24-h precipitation; at selection, the change from the issue
time to the valid time (pressure, temperature, dew point, wind speed) and the run's age.
All pure functions on numpy arrays; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import bottleneck as bn
import numpy as np
import pandas as pd

from features.stagnation import (
    calm_hours,
    pressure_tendency,
    relative_humidity,
    ventilation_index,
)

__all__ = [
    "CHANGE_VARIABLES",
    "PREFIX",
    "NWPRuns",
    "derive",
    "feature_names",
    "valid_time_features",
    "visible_runs",
]

#: Prefix of every weather-forecast feature name (the ``weather_forecast`` driver group).
PREFIX = "nwp_"
#: Variables whose change from the issue time to the valid time is a feature.
CHANGE_VARIABLES = ("air_pressure", "air_temperature", "dew_point_temperature", "wind_speed")
#: Minimum hours in a trailing 24-h window of a run for a windowed feature [h].
MIN_WINDOW_H = 6
#: Calm: 10-m wind speed below this [m s-1].
CALM_MS = 1.0


@dataclass
class NWPRuns:
    """The runs of one weather-forecast feed at a network's stations.

    Attributes
    ----------
    feed : str
        Feed name (``weather_forecasts`` of the network YAML).
    stations : list of str
        Station ids (axis 1).
    run_times : pandas.DatetimeIndex
        Issue times of the runs (naive UTC), ascending (axis 0).
    periods : numpy.ndarray
        Forecast periods [h], hourly from 0 (axis 2).
    values : dict
        Registry variable -> ``R x S x P`` float32 (registry units), NaN where missing.
    latency_hours : float
        A run issued at ``r`` is usable from ``r + latency`` [h].
    source : str
        Provenance text of the feed (e.g. the synthetic marker of the files).
    synthetic : bool
        True when the feed is the synthetic benchmark feed, not a real NWP.
    """

    feed: str
    stations: list[str]
    run_times: pd.DatetimeIndex
    periods: np.ndarray
    values: dict[str, np.ndarray]
    latency_hours: float = 0.0
    source: str = ""
    synthetic: bool = False
    derived: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        self.run_times = pd.DatetimeIndex(self.run_times)
        if not self.run_times.is_monotonic_increasing or self.run_times.has_duplicates:
            raise ValueError(f"feed {self.feed!r}: run issue times must be strictly ascending")
        p = np.asarray(self.periods)
        if len(p) and not np.array_equal(p, np.arange(len(p))):
            raise ValueError(f"feed {self.feed!r}: forecast periods must be hourly from 0 h")
        shape = (len(self.run_times), len(self.stations), len(p))
        for v, a in self.values.items():
            if a.shape != shape:
                raise ValueError(f"feed {self.feed!r}: {v} has shape {a.shape}, expected {shape}")

    def visible_at(self, issue_time: pd.Timestamp) -> NWPRuns | None:
        """Only the newest run visible at ``issue_time`` (None when there is none)."""
        r = int(visible_runs(self.run_times, pd.DatetimeIndex([issue_time]), self.latency_hours)[0])
        if r < 0:
            return None
        return replace(
            self,
            run_times=self.run_times[r : r + 1],
            values={v: a[r : r + 1] for v, a in self.values.items()},
        )

    def reindex_stations(self, stations: list[str]) -> NWPRuns:
        """Return the same runs on another station order (stations the feed lacks are all-NaN)."""
        pos = {s: i for i, s in enumerate(self.stations)}
        idx = np.array([pos.get(s, -1) for s in stations], int)
        out = {}
        for v, a in self.values.items():
            b = np.full((a.shape[0], len(stations), a.shape[2]), np.nan, a.dtype)
            b[:, idx >= 0] = a[:, idx[idx >= 0]]
            out[v] = b
        return replace(self, stations=list(stations), values=out)


def visible_runs(
    run_times: pd.DatetimeIndex, issue_times: pd.DatetimeIndex, latency_hours: float
) -> np.ndarray:
    """Index of the newest run visible at each issue time, -1 where none is.

    A run issued at ``r`` is visible at T when ``r + latency <= T``.

    Parameters
    ----------
    run_times : pandas.DatetimeIndex
        Ascending run issue times.
    issue_times : pandas.DatetimeIndex
        Forecast issue times T.
    latency_hours : float
        Feed latency [h].

    Returns
    -------
    numpy.ndarray
        ``N`` int indices into ``run_times``.
    """
    avail = pd.DatetimeIndex(run_times) + pd.Timedelta(hours=float(latency_hours))
    return avail.searchsorted(pd.DatetimeIndex(issue_times), side="right") - 1


def _trailing(fn, x: np.ndarray, window: int) -> np.ndarray:
    """Trailing window along the period axis (last), partial windows from ``MIN_WINDOW_H`` hours."""
    w = min(window, x.shape[-1])
    return fn(x, w, min_count=min(MIN_WINDOW_H, w), axis=-1)


def derive(runs: NWPRuns) -> NWPRuns:
    """Add the derived stagnation variables to a feed's cube (along each run's periods only).

    Adds, where the inputs exist: ``wind_speed`` (from u, v when the feed has no speed),
    ``relative_humidity`` (Magnus, from temperature and dew point) [%], ``ventilation``
    (wind speed x boundary-layer height) [m2 s-1], ``pressure_tend24`` (24-h tendency)
    [pressure units], ``calm24`` (calm hours, wind < :data:`CALM_MS`, in the 24 h ending at the
    valid time, scaled from partial windows of at least :data:`MIN_WINDOW_H` hours) [h],
    trailing 24-h means ``wind_speed_mean24``, ``relative_humidity_mean24``,
    ``ventilation_mean24`` and ``precipitation_sum24`` (the rain of the run's hours among the
    last 24) [mm]. A window never reaches before the run's issue time (no other run is mixed in).
    Already derived runs are returned unchanged.

    Parameters
    ----------
    runs : NWPRuns
        Base variables in registry units (temperatures in degC).

    Returns
    -------
    NWPRuns
        A copy with the derived variables added (names in ``derived``).
    """
    if runs.derived:  # already derived: nothing to add (idempotent)
        return runs
    v = {k: a.astype("float32") for k, a in runs.values.items()}
    new: list[str] = []

    def put(name: str, arr: np.ndarray) -> None:
        v[name] = np.asarray(arr, "float32")
        new.append(name)

    if "wind_speed" not in v and {"eastward_wind", "northward_wind"} <= set(v):
        put("wind_speed", np.hypot(v["eastward_wind"], v["northward_wind"]))
    if "relative_humidity" not in v and {"air_temperature", "dew_point_temperature"} <= set(v):
        put(
            "relative_humidity", relative_humidity(v["air_temperature"], v["dew_point_temperature"])
        )
    if {"wind_speed", "boundary_layer_height"} <= set(v):
        put("ventilation", ventilation_index(v["wind_speed"], v["boundary_layer_height"]))
    if "air_pressure" in v and v["air_pressure"].shape[-1] > 24:
        put("pressure_tend24", pressure_tendency(v["air_pressure"], hours=24))
    if "wind_speed" in v:
        ws = v["wind_speed"].astype(float)
        calm = np.where(np.isnan(ws), np.nan, (ws < CALM_MS).astype(float))
        full = calm_hours(ws, threshold=CALM_MS, window_h=min(24, ws.shape[-1]))
        frac = _trailing(bn.move_mean, calm, 24)
        put("calm24", np.where(np.isnan(full), 24.0 * frac, full))
        put("wind_speed_mean24", _trailing(bn.move_mean, ws, 24))
    if "relative_humidity" in v:
        put("relative_humidity_mean24", _trailing(bn.move_mean, v["relative_humidity"], 24))
    if "ventilation" in v:
        put("ventilation_mean24", _trailing(bn.move_mean, v["ventilation"], 24))
    if "precipitation" in v:
        # rain in the 24 h ending at the valid time, within the run (fewer hours early in a run:
        # the amount so far, never scaled up); an hour without a value counts as no rain
        rain = np.nan_to_num(v["precipitation"].astype(float))
        put("precipitation_sum24", bn.move_sum(rain, min(24, rain.shape[-1]), min_count=1, axis=-1))
    return replace(runs, values=v, derived=tuple(runs.derived) + tuple(new))


def feature_names(variables: list[str] | tuple[str, ...]) -> list[str]:
    """Feature names of :func:`valid_time_features` for a cube with these variables."""
    names = [f"{PREFIX}{v}" for v in variables]
    names += [f"{PREFIX}{v}_change" for v in CHANGE_VARIABLES if v in variables]
    return names + [f"{PREFIX}age"]


def valid_time_features(
    runs: NWPRuns, issue_times: pd.DatetimeIndex, leads: np.ndarray
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Features of the newest visible run at the valid time of every lead.

    Parameters
    ----------
    runs : NWPRuns
        The feed (stations in the order of the forecast rows; see
        :meth:`NWPRuns.reindex_stations`), usually :func:`derive`'d.
    issue_times : pandas.DatetimeIndex
        ``N`` forecast issue times T (naive UTC).
    leads : numpy.ndarray
        ``L`` leads [h] for every row, or ``S x N x L`` leads per row.

    Returns
    -------
    features : numpy.ndarray
        ``S x N x L x F`` float32: every variable at ``T + lead``, the change of
        :data:`CHANGE_VARIABLES` from T to ``T + lead``, and ``age`` (hours from the run's issue
        to the valid time). NaN where no run is visible or the run has no value there (``age``
        too, so a finite age means the run reaches the valid time at that station).
    names : list of str
        The ``F`` names (:func:`feature_names`).
    run_index : numpy.ndarray
        ``N`` index of the run used per issue time (-1: none visible).
    """
    S, N = len(runs.stations), len(issue_times)
    lead_arr = np.broadcast_to(np.asarray(leads), (S, N, np.shape(leads)[-1])).astype(int)
    r = visible_runs(runs.run_times, issue_times, runs.latency_hours)
    ok_run = r >= 0
    offset = np.zeros(N, int)  # hours from the run's issue to T
    if ok_run.any():
        d = pd.DatetimeIndex(issue_times)[ok_run] - runs.run_times[r[ok_run]]
        offset[ok_run] = np.asarray(d / pd.Timedelta(hours=1)).astype(int)
    P = len(runs.periods)
    period = offset[None, :, None] + lead_arr  # S x N x L
    ok = ok_run[None, :, None] & (period >= 0) & (period < P)
    rr = np.broadcast_to(np.where(ok_run, r, 0)[None, :, None], period.shape)
    ss = np.broadcast_to(np.arange(S)[:, None, None], period.shape)
    pp = np.clip(period, 0, max(P - 1, 0))
    p_now = np.broadcast_to(np.clip(offset, 0, max(P - 1, 0))[None, :, None], period.shape)
    now_ok = ok_run[None, :, None] & (offset[None, :, None] < P)
    variables = list(runs.values)
    cols = []
    for v in variables:
        cols.append(np.where(ok, runs.values[v][rr, ss, pp], np.nan))
    # the run has data for this station and period (a shorter run, or a station it lacks: none)
    ok = ok & np.any(np.isfinite(np.stack(cols)), axis=0) if cols else ok
    for v in CHANGE_VARIABLES:
        if v in runs.values:
            a = runs.values[v]
            cols.append(np.where(ok & now_ok, a[rr, ss, pp] - a[rr, ss, p_now], np.nan))
    cols.append(np.where(ok, period, np.nan))
    feats = np.stack(cols, axis=-1).astype("float32")
    return feats, feature_names(variables), np.where(ok_run, r, -1)
