"""Synthetic twin of the control-measure scenario: known source classes, known response.

Each source class is a set of puff sources (:mod:`benchmarks.twins.plume`) with its own diurnal
emission cycle and a known chemical profile (mass fractions of 12 PM2.5 species). The receptor's
species are the class concentrations times their profiles plus a small background, with
multiplicative noise; PM2.5 is their sum (noisy too, a weak species of the fit as in practice).

1. PMF (:class:`models.pmf.estimator.PMF`) on the training hours; factors are matched to classes
   by the correlation of their contributions with the true class series
   (:func:`models.pmf.error_estimates.match_factors`), standing in for the analyst's
   identification step; a block bootstrap gives the share spread.
2. Scenario window (the hours after training): the "forecast" is the true PM2.5 (so that only
   the scenario method is scored, not the forecaster) with a +-20 % quantile band; the predicted
   cut series comes from :func:`features.scenario.scenario_draws` with the PMF share of the class
   per local hour (:func:`features.scenario.class_share`).
3. Truth: the class is re-simulated with its emissions cut by the fraction from ``T`` (puffs
   released before ``T`` keep their mass); the true reduction is the difference.

Scores per class over the hours from ``T`` to the end of the window: the error of the mean
predicted reduction against the true one [% of the true], the hourly MAE [% of the true mean
reduction], and the share of hours whose true reduction lies in the predicted band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks.twins.plume import Source, simulate_receptors
from features.scenario import (
    class_share,
    combine_intervals,
    deviation_paths,
    effective_cut,
    scenario_draws,
    share_deviations,
    share_variability,
)
from features.tracing.trajectory import WindField
from models.pmf.error_estimates import bootstrap, match_factors
from models.pmf.estimator import PMF

__all__ = ["SPECIES", "TwinClass", "default_classes", "run_scenario_twin", "synthetic_wind"]

SPECIES = ["SO4", "NO3", "NH4", "OC", "EC", "Cl", "K", "Ca", "Si", "Fe", "Zn", "Al"]


@dataclass(frozen=True)
class TwinClass:
    """A source class of the twin: its sources, profile [mass fraction] and diurnal cycle."""

    name: str
    sources: tuple[Source, ...]
    profile: tuple[float, ...]  # one fraction per SPECIES, summing to 1
    peak_hours: tuple[int, ...]  # local hours of the emission maxima
    amplitude: float  # relative diurnal amplitude [1]


def _ring(
    name: str,
    lat0: float,
    lon0: float,
    n: int,
    radius_km: tuple[float, float],
    rate: float,
    *,
    seed: int,
    sector: tuple[float, float] = (0.0, 360.0),
) -> tuple[Source, ...]:
    """``n`` point sources of one class scattered around the receptor (total rate ``rate``)."""
    rng = np.random.default_rng(seed)
    az = np.radians(rng.uniform(*sector, n))
    r = rng.uniform(*radius_km, n)
    dlat = r * np.cos(az) / 111.2
    dlon = r * np.sin(az) / (111.2 * np.cos(np.radians(lat0)))
    return tuple(
        Source(f"{name}-{i}", float(lat0 + a), float(lon0 + b), rate / n)
        for i, (a, b) in enumerate(zip(dlat, dlon, strict=True))
    )


def default_classes(lat0: float = 39.9, lon0: float = 116.4) -> list[TwinClass]:
    """Four classes of scattered sources around a receptor: coal heating, traffic, industry, dust.

    Traffic is close to the receptor in every direction, coal heating spread over the suburbs,
    industry in the southern sector further out, dust in the west and north-west.
    """

    def prof(**kw: float) -> tuple[float, ...]:
        v = np.array([kw.get(s, 0.0) for s in SPECIES])
        return tuple(float(x) for x in v / v.sum())

    return [
        TwinClass(
            "coal_heating",
            _ring("coal", lat0, lon0, 6, (8.0, 35.0), 1.6, seed=1),
            prof(SO4=25, NO3=8, NH4=10, OC=25, EC=8, Cl=10, K=4, Ca=3, Si=5, Fe=2),
            (22, 6),
            0.6,
        ),
        TwinClass(
            "traffic",
            _ring("traffic", lat0, lon0, 6, (2.0, 12.0), 0.5, seed=2),
            prof(SO4=5, NO3=30, NH4=10, OC=30, EC=20, Fe=3, Zn=2),
            (8, 18),
            0.8,
        ),
        TwinClass(
            "industry",
            _ring("industry", lat0, lon0, 4, (30.0, 70.0), 2.4, seed=3, sector=(120.0, 260.0)),
            prof(SO4=20, NO3=10, NH4=8, OC=15, EC=5, Ca=6, Si=10, Fe=15, Zn=8, Cl=3),
            (12,),
            0.1,
        ),
        TwinClass(
            "dust",
            _ring("dust", lat0, lon0, 4, (10.0, 40.0), 0.8, seed=4, sector=(250.0, 340.0)),
            prof(Si=35, Ca=20, Fe=10, OC=10, K=5, SO4=5, NO3=5, EC=2, Al=8),
            (14,),
            0.9,
        ),
    ]


def synthetic_wind(times: pd.DatetimeIndex, seed: int = 0, prevailing: float = 315.0) -> WindField:
    """A spatially uniform wind: direction mean-reverting around a prevailing one, diurnal speed.

    The direction the wind comes from is ``prevailing`` plus an Ornstein-Uhlenbeck anomaly
    (correlation time 24 h, standard deviation 70 degrees), so that training and scenario days
    share one climatology while single days differ.
    """
    rng = np.random.default_rng(seed)
    T = len(times)
    phi = np.exp(-1.0 / 24.0)
    eps = rng.normal(0, 70.0 * np.sqrt(1 - phi * phi), T)
    anomaly = np.zeros(T)
    for t in range(1, T):
        anomaly[t] = phi * anomaly[t - 1] + eps[t]
    from_dir = np.radians(prevailing + anomaly)  # [degree from north], meteorological
    hour = times.hour.to_numpy()
    speed = 2.5 + 1.2 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.gamma(2.0, 0.5, T)
    u, v = -speed * np.sin(from_dir), -speed * np.cos(from_dir)
    lat, lon = np.arange(37.5, 42.51, 0.25), np.arange(114.0, 119.01, 0.25)
    U = np.broadcast_to(u[:, None, None], (T, len(lat), len(lon))).copy()
    V = np.broadcast_to(v[:, None, None], (T, len(lat), len(lon))).copy()
    return WindField(np.asarray(times, "datetime64[ns]"), lat, lon, U, V)


def _cycle(times: pd.DatetimeIndex, c: TwinClass, offset_h: int = 8) -> np.ndarray:
    hour = (times.hour.to_numpy() + offset_h) % 24  # local hour (UTC+8)
    d = np.min([np.abs(((hour - p) + 12) % 24 - 12) for p in c.peak_hours], axis=0)
    return 1.0 + c.amplitude * (np.exp(-0.5 * (d / 3.0) ** 2) * 2 - 0.5)


def run_scenario_twin(
    *,
    train_days: int = 30,
    eval_days: int = 12,
    window_hours: int = 72,
    every_hours: int = 48,
    cut: float = 0.3,
    ramp_hours: float = 0.0,
    method: str = "hour_of_day",
    variability: str = "record",
    classes: list[TwinClass] | None = None,
    bootstrap_n: int = 10,
    starts: int = 4,
    seed: int = 0,
    field: WindField | None = None,
    start: str = "2016-11-15",
    step_minutes: float = 15.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate, fit PMF, predict each class's cut and score it against the re-simulated truth.

    The cut starts at the beginning of each scenario window (every ``every_hours`` over the
    ``eval_days`` after training). The simulator is linear in emissions and starts without puffs,
    so the true reduction from a cut from ``T`` is exactly ``cut`` times a re-simulation of the
    class over ``[T, T + window)`` (only the puffs released after ``T``).

    Parameters
    ----------
    train_days, eval_days : int
        Days of PMF training hours and of scenario windows after them [d].
    window_hours, every_hours : int
        Length of a scenario window and the hours between their starts [h].
    cut : float
        Emission cut [fraction].
    ramp_hours : float
        Ramp of the predicted effective cut [h] (:func:`features.scenario.effective_cut`).
    method : str
        Share method of :func:`features.scenario.class_share`.
    variability : {"record", "none", "daily"}
        The share's spread beside the bootstrap: ``record`` (what ``qingyuan scenario`` does):
        hourly paths of the PMF record's share deviations (:func:`features.scenario.deviation_paths`);
        ``none``: the bootstrap only (``share.variability: none``);
        ``daily``: one multiplier per draw with the 5-95 % spread of the daily shares
        (:func:`features.scenario.share_variability`), the earlier method.
    classes : list of TwinClass, optional
        Default :func:`default_classes`.
    bootstrap_n : int
        Bootstrap replicates for the share spread (0: none).
    starts : int
        PMF random starts.
    seed : int
        Seed of wind, noise and fit.
    field : WindField, optional
        Wind field covering ``start`` .. ``start + train_days + eval_days`` (e.g. real station
        winds); default :func:`synthetic_wind`.
    start : str
        First hour (naive UTC).
    step_minutes : float
        Integration step of the puffs [min].

    Returns
    -------
    table : pandas.DataFrame
        One row per class: contribution r of the matched factor, true and PMF share in training
        [%], true and predicted mean reduction over all windows [concentration units], the
        pooled error of the mean [% of the true reduction], the median over windows of the
        absolute error of the window mean [%], the pooled error and the largest window error in
        percentage points of the baseline PM2.5 [pp], the hourly MAE [% of the true mean], share of the hours whose true reduction lies in the P10-P90 band [%], share of the windows whose true mean reduction lies in the window's P10-P90 band [%].
    windows : pandas.DataFrame
        One row per class and window: true and predicted mean reduction, error [%].
    """
    classes = classes or default_classes()
    rng = np.random.default_rng(seed)
    n_train = train_days * 24
    T = n_train + eval_days * 24
    times = pd.date_range(start, periods=T, freq="h")
    field = field if field is not None else synthetic_wind(times, seed)
    rec_lat, rec_lon = np.array([39.9]), np.array([116.4])
    kw = {
        "background": 0.0,
        "noise": 0.0,
        "lifetime_hours": 24.0,
        "max_age_hours": 48,
        "step_minutes": step_minutes,
    }

    def simulate(c: TwinClass, sl: slice) -> np.ndarray:
        tt = times[sl]
        scale = np.tile(_cycle(tt, c), (len(c.sources), 1))
        return simulate_receptors(
            field, list(c.sources), rec_lat, rec_lon, tt, rate_scale=scale, **kw
        )[0]

    C = np.array([simulate(c, slice(0, T)) for c in classes])  # C x T, noiseless truth
    u_r, v_r = field.at(times.values.astype("datetime64[ns]"), np.full(T, 39.9), np.full(T, 116.4))
    wind_from = np.degrees(np.arctan2(-u_r, -v_r)) % 360  # at the receptor [degree from north]
    P = np.array([c.profile for c in classes])  # C x species
    bg = 0.02 * np.mean(C.sum(0)) * np.ones(len(SPECIES)) / len(SPECIES)
    clean = C.T @ P + bg  # T x species
    x_sp = clean * np.exp(rng.normal(0, 0.12, clean.shape))
    pm = (C.sum(0) + bg.sum()) * np.exp(rng.normal(0, 0.08, T))
    x = np.column_stack([x_sp, pm])
    u = 0.1 * x + 0.01 * np.median(x, axis=0)
    u[:, -1] *= 3.0  # the total variable is weak (PMF5 practice)
    tr = slice(0, n_train)
    res = PMF(len(classes), starts=starts, seed=seed).fit(x[tr], u[tr]).result_
    # the analyst's identification step: here the true class series are known, so factors are
    # matched to classes by the correlation of contributions (PMF5's mapping, one to one)
    match = match_factors(C[:, tr].T, res.G)
    order, r_matched = match.order, match.r_matched
    contrib = pd.DataFrame(
        res.G * res.F[:, -1][None, :],  # contributions in the units of the total variable
        index=times[:n_train],
        columns=[f"factor_{k + 1}" for k in range(len(classes))],
    )
    rel = np.ones((len(classes), 2))
    if bootstrap_n:
        bs = bootstrap(x[tr], u[tr], res, bootstrap_n, seed=seed)
        base_f = getattr(bs, "base_F", res.F)  # the replicates' scale
        for k in range(len(classes)):
            v = bs.F[:, k, -1][np.isfinite(bs.F[:, k, -1])]  # the total's profile value
            if len(v) >= 3 and base_f[k, -1] > 0:
                lo, hi = np.percentile(v, [5, 95]) / base_f[k, -1]
                rel[k] = (min(lo, 1.0), max(hi, 1.0))
    base = C.sum(0) + bg.sum()
    levels = (0.1, 0.5, 0.9)
    win_rows = []
    per_class: dict[str, dict[str, list[np.ndarray]]] = {
        c.name: {"true": [], "pred": [], "lo": [], "hi": [], "base": []} for c in classes
    }
    draws = 500
    deviations = {}
    for i in range(len(classes)):
        col = f"factor_{int(order[i]) + 1}"
        deviations[col] = share_deviations(
            contrib, [col], method=method, time_zone="Asia/Shanghai", sample_wind=wind_from[tr]
        )
    for w0 in range(n_train, T - window_hours + 1, every_hours):
        sl = slice(w0, w0 + window_hours)
        win = times[sl]
        start = win[0] - pd.Timedelta(hours=1)  # emissions of the hour labelled win[0] on
        eff = effective_cut(win, start, cut, ramp_hours=ramp_hours)
        quant = base[sl, None] * np.array([0.8, 1.0, 1.2])[None, :]  # the "forecast"
        for i, c in enumerate(classes):
            k = int(order[i])
            col = f"factor_{k + 1}"
            boot = (float(rel[k, 0]), float(rel[k, 1]))
            if variability == "daily":
                spread = combine_intervals(
                    boot, share_variability(contrib, [col], time_zone="Asia/Shanghai")
                )
                paths = None
            elif variability == "none":  # bootstrap only: `share.variability: none`
                spread, paths = boot, None
            elif variability == "record":
                spread = boot
                paths = deviation_paths(
                    deviations[col], len(win), draws, np.random.default_rng([seed, w0, i])
                )
            else:
                raise ValueError(f"unknown variability {variability!r} (record, none or daily)")
            share = class_share(
                contrib,
                [col],
                win,
                method=method,
                time_zone="Asia/Shanghai",
                level=base[sl],
                sample_wind=wind_from[tr],
                wind=wind_from[sl],
            )
            sc = scenario_draws(
                base[sl],
                quant,
                levels,
                share=share,
                cut=eff,
                share_interval=spread,
                share_paths=paths,
                draws=draws,
                seed=seed,
            )
            true_red = cut * simulate(c, sl)
            pred = sc.reduction_mean
            acc = per_class[c.name]
            acc["true"].append(true_red)
            acc["base"].append(base[sl])
            acc["pred"].append(pred)
            acc["lo"].append(sc.reduction_quantiles[:, 0])
            acc["hi"].append(sc.reduction_quantiles[:, -1])
            win_rows.append(
                {
                    "class": c.name,
                    "window_start": win[0],
                    "true_mean_reduction": float(true_red.mean()),
                    "predicted_mean_reduction": float(pred.mean()),
                    "error_percent": float(100 * (pred.mean() / true_red.mean() - 1)),
                    "error_pp_of_pm25": float(
                        100 * (pred.mean() - true_red.mean()) / base[sl].mean()
                    ),
                    "in_band": bool(
                        sc.period_reduction_quantiles[0] - 1e-12
                        <= true_red[eff > 0].mean()
                        <= sc.period_reduction_quantiles[-1] + 1e-12
                    ),
                }
            )
    windows = pd.DataFrame(win_rows)
    rows = []
    for i, c in enumerate(classes):
        a = {k: np.concatenate(v) for k, v in per_class[c.name].items()}
        tm, pmn = a["true"].mean(), a["pred"].mean()
        wc = windows[windows["class"] == c.name]
        col = f"factor_{int(order[i]) + 1}"
        rows.append(
            {
                "class": c.name,
                "factor": col,
                "contribution_r": float(r_matched[i]),
                "true_share_percent": 100 * float(C[i, tr].sum() / C[:, tr].sum()),
                "pmf_share_percent": 100 * float(contrib[col].sum() / contrib.to_numpy().sum()),
                "true_mean_reduction": float(tm),
                "predicted_mean_reduction": float(pmn),
                "pooled_error_percent": float(100 * (pmn / tm - 1)),
                "median_window_abs_error_percent": float(wc["error_percent"].abs().median()),
                "pooled_error_pp_of_pm25": float(100 * (pmn - tm) / a["base"].mean()),
                "max_window_abs_error_pp_of_pm25": float(wc["error_pp_of_pm25"].abs().max()),
                "hourly_mae_percent": float(100 * np.mean(np.abs(a["pred"] - a["true"])) / tm),
                "band_coverage_percent": float(
                    100 * np.mean((a["true"] >= a["lo"] - 1e-12) & (a["true"] <= a["hi"] + 1e-12))
                ),
                "window_band_coverage_percent": float(100 * wc["in_band"].mean()),
                "windows": len(wc),
            }
        )
    return pd.DataFrame(rows), windows
