"""Which enterprise explains an ambient anomaly? Transported reported emissions, ranked (pure).

An anomaly at a receptor (an air station's PM2.5 / SO2 / NO2, a river section's NH3-N / COD) at
the hour ``T`` is compared, hour by hour over a window ending at ``T``, with what every
enterprise's reported emissions (HJ 212 online monitoring, :func:`emission_rate` [kg h-1]) would
have added there:

* **air** (:func:`air_contributions`): back-trajectories from the receptor arriving every hour
  (:func:`features.tracing.trajectory.back_trajectories` on the network's wind field). An
  enterprise's plume reaches the receptor when the trajectory passes near it: a Gaussian
  footprint of half-width ``sigma0_m + growth x distance travelled`` (the accepted wind sector
  narrows with distance, ``atan(growth)`` ~ 19 degrees by default), mixed over
  ``mixing_height_m``, decaying with ``lifetime_hours``, times the enterprise's emission in the
  hour the air passed it (``T`` minus the travel time).
* **water** (:func:`water_contributions`): an outfall upstream of the section (the river network)
  reaches it after the travel time from its point on its reach; its discharge arrives spread in
  time by dispersion (a Gaussian of ``spread_h_per_sqrt_h x sqrt(travel) + min_sigma_h``, as in
  :func:`features.tracing.upstream.trace_upstream`) and diluted by the section's flow. The
  configured travel times are uncertain: every factor of ``travel_time_factors`` is tried and
  the best kept.

Both sides go through the same high-pass (minus the trailing median of ``baseline_hours``): the
ambient *excess* and each enterprise's *transported emission excess* ``x``.
:func:`rank_enterprises` scores each enterprise alone by the log-likelihood gain of
``excess = a x + noise`` over ``excess = noise`` (``a >= 0``; noise from the robust spread of the
excess) in the hours of the anomaly (:func:`anomaly_hours`: the run ending at ``T``), while in
the other hours of the window only a contribution *above* the observed excess costs (other
sources may add to the excess, nothing takes it away). A log-normal prior on ``a`` around 1
(factor ``scale_uncertainty``), and a bound of two such factors, keep an enterprise whose
modelled contribution is far too small from explaining a large excess by an absurd factor;
footprints are cut at three half-widths (air) and pulses at four spreads (water): their tails
are no evidence. Hourly errors are correlated, so the data count once per ``correlation_hours``. The excess at ``T`` is shared out by a joint non-negative fit of
the enterprises that explain anything. Enterprises without valid emission data in the window are
listed as ``no data``, outfalls not upstream of the section as ``not upstream``: none is dropped.
Parameters were chosen on a synthetic twin (``benchmarks/bench_enterprise_twin.py --tune``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from features.geo import haversine_km, local_xy_km
from features.river_network import RiverNetwork
from features.tracing.trajectory import WindField, back_trajectories
from features.tracing.upstream import anomaly_z

__all__ = [
    "MG_S_TO_KG_H",
    "AttributionParams",
    "Emitter",
    "EnterpriseAttribution",
    "air_contributions",
    "anomaly_hours",
    "attribute_air",
    "attribute_water",
    "bearing_deg",
    "emission_rate",
    "rank_enterprises",
    "water_contributions",
]

#: mg s-1 -> kg h-1 (concentration x flow: mg m-3 x m3 s-1, or mg L-1 x L s-1).
MG_S_TO_KG_H = 3600.0 / 1e6

_COMPASS = "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split()


def emission_rate(
    mass: np.ndarray | None,
    concentration: np.ndarray | None = None,
    flow: np.ndarray | None = None,
    *,
    period_h: float = 1.0,
) -> np.ndarray:
    """Emission rate of a stack or outfall [kg h-1].

    The reported emitted mass of the period (``_mass`` variables) where valid, else the
    concentration times the flow.

    Parameters
    ----------
    mass : numpy.ndarray or None
        Mass emitted in each period [kg] (NaN where not valid).
    concentration : numpy.ndarray, optional
        Flue-gas concentration [mg m-3] or effluent concentration [mg L-1].
    flow : numpy.ndarray, optional
        Flue-gas flow [m3 s-1] or effluent flow [L s-1] (the units that make mg s-1).
    period_h : float
        Length of a period [h].

    Returns
    -------
    numpy.ndarray
        Rate [kg h-1], NaN where neither way gives a value.
    """
    arrays = [np.asarray(a, float) for a in (mass, concentration, flow) if a is not None]
    if not arrays:
        raise ValueError("emission_rate needs the mass or the concentration and the flow")
    shape = arrays[0].shape
    out = np.full(shape, np.nan)
    if concentration is not None and flow is not None:
        out = np.asarray(concentration, float) * np.asarray(flow, float) * MG_S_TO_KG_H
    if mass is not None:
        m = np.asarray(mass, float) / period_h
        out = np.where(np.isfinite(m), m, out)
    return out


def bearing_deg(lat0: float, lon0: float, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Bearing from a point to others on the local plane [degree clockwise from north]."""
    x, y = local_xy_km(lat, lon, lat0, lon0)
    return np.degrees(np.arctan2(x, y)) % 360


def _compass(deg: float) -> str:
    return _COMPASS[int(round(deg / 22.5)) % 16] if np.isfinite(deg) else "calm"


@dataclass(frozen=True)
class Emitter:
    """One enterprise's emission of the pollutant, summed over its stacks or outfalls.

    ``rate`` [kg h-1] is on the hourly grid of the analysis (interval ends), NaN where no valid
    value was reported; ``reach`` and ``fraction`` place a water outfall on the river network
    (the reach named by its upstream section, and how far down it [0-1]).
    """

    id: str
    name: str
    lat: float
    lon: float
    rate: np.ndarray
    reach: str | None = None
    fraction: float = 0.5


@dataclass(frozen=True)
class AttributionParams:
    """Method parameters (``configs/source.yml``, ``enterprise_attribution``)."""

    window_hours: int = 24  # hours fitted, ending at T [h]
    baseline_hours: int = 72  # trailing median removed from both sides [h]
    max_gap_hours: int = 3  # emission gaps up to this long are interpolated [h]
    min_coverage: float = 0.5  # below this share of valid emission hours: "partial data"
    scale_uncertainty: float = 5.0  # log-normal prior on the fitted scale: a factor of ...
    anomaly_hours: int = 6  # longest run of hours ending at T taken as the anomaly [h]
    correlation_hours: float = 4.0  # hours of data that count as one independent reading [h]
    # air
    transport_hours: float = 24.0  # back-trajectory length [h]
    step_minutes: float = 15.0  # trajectory step and footprint sampling [min]
    sigma0_m: float = 1000.0  # plume half-width at the source [m]
    growth: float = 0.35  # half-width growth per metre travelled [m m-1] (~19 degrees)
    mixing_height_m: float = 500.0  # [m]
    lifetime_hours: float = 48.0  # first-order loss [h]
    # water
    spread_h_per_sqrt_h: float = 0.3  # pulse spread [h h-1/2]
    min_sigma_h: float = 1.0  # [h]
    travel_time_factors: tuple[float, ...] = (0.8, 0.9, 1.0, 1.12, 1.25)

    def reach_hours(self, max_travel_h: float | None = None) -> float:
        """How long before an hour its emissions can matter [h].

        Air (``max_travel_h`` None): the back-trajectory length; water: the longest travel time
        [h] stretched by the largest factor, plus five pulse spreads.
        """
        if max_travel_h is None:
            return float(self.transport_hours)
        longest = max_travel_h * max(self.travel_time_factors)
        return longest + 5 * self._sigma(longest)

    def history_hours(self, max_travel_h: float | None = None) -> int:
        """Hours of data needed before ``T``: baseline, window and :meth:`reach_hours` [h]."""
        reach = self.reach_hours(max_travel_h)
        return int(math.ceil(self.window_hours + self.baseline_hours + reach + 1))

    def _sigma(self, travel_h: float) -> float:
        return self.spread_h_per_sqrt_h * math.sqrt(max(travel_h, 0.0)) + self.min_sigma_h


@dataclass
class EnterpriseAttribution:
    """The ranking of the enterprises for one anomaly, and the series behind it."""

    at: pd.Timestamp  # the anomaly hour (interval end, UTC)
    medium: str  # "air" or "water"
    ranking: pd.DataFrame  # one row per enterprise, best first (see rank_enterprises)
    times: pd.DatetimeIndex  # the fitted window
    observed: np.ndarray  # ambient readings in the window
    excess: np.ndarray  # ambient minus its trailing median, in the window
    fitted: dict[str, np.ndarray]  # enterprise -> its scaled contribution to the excess
    anomaly_z: float  # robust z of the reading at T (features.tracing.upstream.anomaly_z)
    params: AttributionParams
    notes: list[str] = field(default_factory=list)

    def series(self) -> pd.DataFrame:
        """Observed, excess and every enterprise's fitted contribution, by hour (the figure data)."""
        out = pd.DataFrame({"observed": self.observed, "excess": self.excess}, index=self.times)
        for k, v in self.fitted.items():
            out[k] = v
        out.index.name = "time"
        return out

    def parameters(self) -> dict[str, object]:
        """Return the method parameters as plain values."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.params).items()}


# --------------------------------------------------------------------------- helpers
def _trailing_median(a: np.ndarray, hours: int) -> np.ndarray:
    """Median of the preceding ``hours`` values (NaN ignored) along the last axis (any shape)."""
    a = np.asarray(a, float)
    flat = a.reshape(-1, a.shape[-1]) if a.size else np.zeros((0, a.shape[-1]))
    frame = pd.DataFrame(flat.T)
    med = frame.rolling(hours, min_periods=max(3, hours // 4)).median().shift(1).bfill()
    return med.to_numpy().T.reshape(a.shape)


def _fill(rate: np.ndarray, span: np.ndarray, max_gap: int) -> tuple[np.ndarray | None, float]:
    """Fill an emission series: short gaps interpolated, the rest the median; and the coverage.

    ``span`` marks the hours that matter (coverage is counted there); None when no valid value.
    """
    r = pd.Series(np.asarray(rate, float))
    ok = r.notna().to_numpy()
    if not ok[span].any():
        return None, 0.0
    coverage = float(ok[span].mean())
    filled = r.interpolate(limit=max_gap, limit_area="inside")
    filled = filled.fillna(float(r[span].median()))
    return filled.to_numpy(), coverage


def _noise(y: np.ndarray) -> float:
    """Robust spread of the excess (scaled MAD), never zero."""
    y = y[np.isfinite(y)]
    if len(y) == 0:
        return 1.0
    mad = 1.4826 * float(np.median(np.abs(y - np.median(y))))
    return max(mad, 1e-6 * max(float(np.abs(y).max()), 1e-12), 1e-12)


# --------------------------------------------------------------------------- transport
def air_contributions(
    field: WindField,
    lat: float,
    lon: float,
    times: pd.DatetimeIndex,
    emitters: list[Emitter],
    params: AttributionParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Each enterprise's transported emission at an air receptor, hour by hour.

    Parameters
    ----------
    field : WindField
        Wind field covering ``times`` and the back-trajectories.
    lat, lon : float
        The receptor [degrees].
    times : pandas.DatetimeIndex
        Hourly interval ends (UTC); every emitter's ``rate`` is on this grid.
    emitters : list of Emitter
        Rates filled (no NaN) [kg h-1].
    params : AttributionParams
        Footprint and trajectory parameters.

    Returns
    -------
    contribution : numpy.ndarray
        ``E x T`` contribution to the hour's mean concentration [ug m-3] (kg -> ug: 1e9).
    lag : numpy.ndarray
        ``E x T`` emission-weighted mean travel time [h] (NaN where nothing arrives).
    """
    n = len(times)
    step_h = params.step_minutes / 60.0
    # the hour's mean is taken at its middle: arrivals half an hour before the label
    t0 = (times - pd.Timedelta(minutes=30)).values
    traj = back_trajectories(
        field,
        np.full(n, lat),
        np.full(n, lon),
        t0,
        hours=params.transport_hours,
        step_minutes=params.step_minutes,
        output_every_hours=step_h,
    )
    k = int(traj["hour_back"].nunique())
    tau = np.sort(traj["hour_back"].unique())[1:]  # hours back, arrival excluded
    x, y = local_xy_km(traj["lat"].to_numpy(), traj["lon"].to_numpy(), lat, lon)
    x, y = x.reshape(k, n).T * 1000.0, y.reshape(k, n).T * 1000.0  # T x K [m]
    path = np.concatenate([np.zeros((n, 1)), np.cumsum(np.hypot(np.diff(x), np.diff(y)), 1)], 1)
    sigma = params.sigma0_m + params.growth * path[:, 1:]
    weight = (
        np.exp(-tau / params.lifetime_hours)
        * step_h
        * 1e9
        / (2 * np.pi * sigma**2 * params.mixing_height_m)
    )
    # the air at tau hours back passed in the hour labelled  t - floor(tau + 0.5)
    j = np.clip(np.arange(n)[:, None] - np.floor(tau + 0.5).astype(int)[None, :], 0, n - 1)
    ex, ey = local_xy_km(
        np.array([e.lat for e in emitters]), np.array([e.lon for e in emitters]), lat, lon
    )
    contrib = np.zeros((len(emitters), n))
    lag = np.full((len(emitters), n), np.nan)
    for i, e in enumerate(emitters):
        d2 = (x[:, 1:] - ex[i] * 1000.0) ** 2 + (y[:, 1:] - ey[i] * 1000.0) ** 2
        r2 = d2 / sigma**2
        # beyond three half-widths a plume does not reach: its Gaussian tail is no evidence
        c = np.asarray(e.rate, float)[j] * weight * np.where(r2 < 9.0, np.exp(-0.5 * r2), 0.0)
        contrib[i] = c.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            lag[i] = np.where(contrib[i] > 0, (c * tau).sum(1) / contrib[i], np.nan)
    return contrib, lag


def _outfall_travel(net: RiverNetwork, e: Emitter, section: str) -> float | None:
    """Hours from an outfall on its reach down to ``section`` (None: not upstream of it)."""
    if e.reach not in net.sections:
        return None
    sec = net.sections[e.reach]
    if sec.downstream is None:
        return None
    rest = net.travel_time(sec.downstream, section)
    if rest is None:
        return None
    return (1.0 - e.fraction) * sec.travel_time_h + rest


def water_contributions(
    net: RiverNetwork,
    section: str,
    times: pd.DatetimeIndex,
    emitters: list[Emitter],
    params: AttributionParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Each outfall's discharge arriving at a river section, for every travel-time factor.

    Parameters
    ----------
    net : RiverNetwork
        The river network (travel times, flows).
    section : str
        The receptor section.
    times : pandas.DatetimeIndex
        Hourly interval ends (UTC); every emitter's ``rate`` [kg h-1] is on this grid.
    emitters : list of Emitter
        Rates filled (no NaN); ``reach`` / ``fraction`` place the outfalls.
    params : AttributionParams
        Dispersion and travel-time factors.

    Returns
    -------
    contribution : numpy.ndarray
        ``E x F x T`` concentration added at the section [mg L-1] (kg h-1 / (3.6 x flow
        [m3 s-1])), or [kg h-1] when the section has no flow; zero for outfalls not upstream.
    travel : numpy.ndarray
        ``E`` configured travel time to the section [h], NaN when not upstream.
    """
    n = len(times)
    flow = net.sections[section].flow_m3_s
    dilution = 1.0 / (3.6 * flow) if flow else 1.0
    factors = np.asarray(params.travel_time_factors, float)
    out = np.zeros((len(emitters), len(factors), n))
    travel = np.full(len(emitters), np.nan)
    lags = np.arange(n, dtype=float)
    for i, e in enumerate(emitters):
        tt = _outfall_travel(net, e, section)
        if tt is None:
            continue
        travel[i] = tt
        q = np.asarray(e.rate, float)
        for f, k in enumerate(factors):
            t = k * tt
            sig = params._sigma(t)
            g = np.exp(-0.5 * ((lags - t) / sig) ** 2) / (sig * math.sqrt(2 * math.pi))
            g[np.abs(lags - t) > 4 * sig] = 0.0  # the tails are no evidence
            # edge-padded history: the hours before the grid discharged like its first hour
            padded = np.concatenate([np.full(n, q[0]), q])
            out[i, f] = np.convolve(padded, g)[n : 2 * n] * dilution
    return out, travel


# --------------------------------------------------------------------------- scoring
def anomaly_hours(excess: np.ndarray, t_index: int, longest: int) -> np.ndarray:
    """Mark the hours of the anomaly: the run ending at ``t_index`` above a quarter of its excess.

    At most ``longest`` hours; only ``t_index`` itself when its excess is not positive.
    """
    mark = np.zeros(len(excess), bool)
    mark[t_index] = True
    top = excess[t_index]
    if not np.isfinite(top) or top <= 0:
        return mark
    for k in range(t_index - 1, max(-1, t_index - longest), -1):
        if not (np.isfinite(excess[k]) and excess[k] >= 0.25 * top):
            break
        mark[k] = True
    return mark


def _scores(
    y: np.ndarray,
    X: np.ndarray,
    anomaly: np.ndarray,
    noise: float,
    *,
    prior_sd: float,
    correlation_hours: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Log-likelihood gain (with the log prior of the scale) of each row of ``X``, and its scale.

    In the anomaly hours the excess must be explained: ``y = a x + e`` (``e`` of spread
    ``noise``); in the other hours other sources may add to the excess but nothing can take it
    away, so only a contribution above the excess costs (``max(a x - y, 0)``). Hourly errors are
    correlated: the data count once per ``correlation_hours``. ``a`` is searched within
    ``exp(+-2 prior_sd)``.
    """
    # the scale stays within two prior sds of the model (a factor scale_uncertainty^2)
    top = 2 * prior_sd / math.log(10) if np.isfinite(prior_sd) else 4.0
    a = np.logspace(-top, top, 161)[:, None]
    ya, yo = y[anomaly], y[~anomaly]
    score, scale = np.zeros(len(X)), np.zeros(len(X))
    for k, x in enumerate(X):
        if not (x[anomaly] > 0).any():
            continue
        fa, fo = a * x[anomaly], a * x[~anomaly]
        hit = (ya**2 - (ya - fa) ** 2).sum(1)
        over = (np.maximum(fo - yo, 0.0) ** 2).sum(1)
        post = (hit - over) / (2 * noise**2 * correlation_hours)
        if np.isfinite(prior_sd):
            post = post - np.log(a[:, 0]) ** 2 / (2 * prior_sd**2)
        best = int(np.argmax(post))
        if post[best] > 0:
            score[k], scale[k] = float(post[best]), float(a[best, 0])
    return score, scale


def _fit_options(params: AttributionParams, use_prior: bool) -> dict[str, float]:
    return {
        "prior_sd": math.log(params.scale_uncertainty) if use_prior else math.inf,
        "correlation_hours": params.correlation_hours,
    }


def rank_enterprises(
    excess: np.ndarray,
    contributions: np.ndarray,
    t_index: int,
    *,
    params: AttributionParams,
    use_prior: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Score every enterprise's transported emission excess against the ambient excess.

    Parameters
    ----------
    excess : numpy.ndarray
        ``T`` ambient excess over the window (NaN where no valid reading).
    contributions : numpy.ndarray
        ``E x T`` transported emission excess of each enterprise (same units as ``excess``).
    t_index : int
        Position of the anomaly hour in the window.
    params : AttributionParams
        ``scale_uncertainty`` sets the prior, ``anomaly_hours`` the longest anomaly.
    use_prior : bool
        False when the contributions are not in the units of the excess (scale unknown).

    Returns
    -------
    score : numpy.ndarray
        ``E`` log-likelihood gain with the prior (0: explains nothing) [nats].
    scale : numpy.ndarray
        ``E`` fitted scale of each enterprise alone (0 when it explains nothing).
    share : numpy.ndarray
        ``E`` share of the excess at ``t_index`` in the joint non-negative fit (0..1).
    joint : numpy.ndarray
        ``E`` joint non-negative scales.
    """
    ok = np.isfinite(excess) & np.isfinite(contributions).all(0)
    ok[t_index] = True
    y, X = np.nan_to_num(excess[ok]), np.nan_to_num(contributions[:, ok])
    anomaly = anomaly_hours(excess, t_index, params.anomaly_hours)[ok]
    noise = _noise(y)
    score, scale = _scores(y, X, anomaly, noise, **_fit_options(params, use_prior))
    joint = np.zeros(len(X))
    live = np.flatnonzero(score > 0)
    if len(live):
        joint[live] = nnls(X[live].T, y)[0]
    share = np.zeros(len(X))
    y_t = excess[t_index]
    if np.isfinite(y_t) and y_t > 0:
        share = np.nan_to_num(np.clip(joint * contributions[:, t_index] / y_t, 0.0, 1.0)) + 0.0
    return score, scale, share, joint


# --------------------------------------------------------------------------- the analyses
@dataclass
class _Transport:
    """What a medium's transport model hands to the common ranking."""

    contribution: np.ndarray  # E x F x T on the full grid, before the high-pass
    lag: np.ndarray  # E x F x T travel time [h] (NaN where nothing arrives)
    describe: Callable[[int, int, list[int]], str]  # (emitter, factor, window hours) -> text
    excluded: dict[str, str]  # emitter id -> status, e.g. "not upstream"


def _clip(
    times: pd.DatetimeIndex,
    ambient: np.ndarray,
    at: pd.Timestamp,
    emitters: list[Emitter],
    history: int,
) -> tuple[pd.DatetimeIndex, np.ndarray, list[Emitter]]:
    """Keep the ``history`` hours up to ``at`` (nothing after it is used)."""
    if at not in times:
        raise ValueError(f"{at} is not an hour of the data ({times[0]} .. {times[-1]})")
    it = int(times.get_loc(at))
    sl = slice(max(0, it - history), it + 1)
    for e in emitters:
        if len(e.rate) != len(times):
            raise ValueError(f"emitter {e.id}: {len(e.rate)} rates for {len(times)} hours")
    clipped = [
        Emitter(e.id, e.name, e.lat, e.lon, np.asarray(e.rate, float)[sl], e.reach, e.fraction)
        for e in emitters
    ]
    return times[sl], np.asarray(ambient, float)[sl], clipped


def _prepare(
    times: pd.DatetimeIndex, ambient: np.ndarray, at: pd.Timestamp, params: AttributionParams
) -> tuple[int, np.ndarray, np.ndarray, float]:
    """Anomaly hour index, window positions, ambient excess and the anomaly z at ``T``."""
    if at not in times:
        raise ValueError(f"{at} is not an hour of the data ({times[0]} .. {times[-1]})")
    it = int(times.get_loc(at))
    if not np.isfinite(ambient[it]):
        raise ValueError(f"no valid reading at {at}")
    wi = np.arange(max(0, it - params.window_hours + 1), it + 1)
    excess = ambient - _trailing_median(ambient, params.baseline_hours)
    z = anomaly_z(pd.Series(ambient).interpolate(limit=3).to_numpy(), params.baseline_hours)
    return it, wi, excess, float(z[it])


def _status(coverage: float, params: AttributionParams) -> str:
    if coverage <= 0:
        return "no data"
    return "ok" if coverage >= params.min_coverage else "partial data"


def _table(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Ranked enterprises first (by score), then those not upstream, then those without data."""
    df = pd.DataFrame(rows)
    order = df["status"].map({"ok": 0, "partial data": 0, "not upstream": 1, "no data": 2})
    df = df.assign(_o=order).sort_values(["_o", "score"], ascending=[True, False], kind="stable")
    df = df.drop(columns="_o").reset_index(drop=True)
    ranked = df["status"].isin(["ok", "partial data"]).to_numpy()
    rank = pd.array([i + 1 if r else pd.NA for i, r in enumerate(ranked)], dtype="Int64")
    df.insert(0, "rank", rank)
    return df


def _span_text(times: pd.DatetimeIndex, hours: list[int]) -> str:
    a, b = times[hours[0]], times[hours[-1]]
    return f"{len(hours)} h between {a:%Y-%m-%d %H:%M} and {b:%Y-%m-%d %H:%M} UTC"


def _attribute(
    medium: str,
    times: pd.DatetimeIndex,
    ambient: np.ndarray,
    at: pd.Timestamp | str,
    emitters: list[Emitter],
    params: AttributionParams,
    *,
    reach_hours: float,
    transport: Callable[[list[Emitter], pd.DatetimeIndex], _Transport],
    origin: tuple[float, float],
    use_prior: bool = True,
) -> EnterpriseAttribution:
    """Run the analysis shared by air and water: excess, coverage, fit, shares, table."""
    p = params
    at = pd.Timestamp(at)
    times, ambient, emitters = _clip(
        times, ambient, at, emitters, p.window_hours + p.baseline_hours + math.ceil(reach_hours) + 1
    )
    it, wi, excess, z = _prepare(times, ambient, at, p)
    lo = max(0, int(wi[0] - math.ceil(reach_hours)))
    span = np.zeros(len(times), bool)
    span[lo : it + 1] = True
    live, coverage = [], {}
    for e in emitters:
        rate, coverage[e.id] = _fill(e.rate, span, p.max_gap_hours)
        if rate is not None:
            live.append(Emitter(e.id, e.name, e.lat, e.lon, rate, e.reach, e.fraction))
    tr = transport(live, times)
    hp = tr.contribution - _trailing_median(tr.contribution, p.baseline_hours)
    yw = excess[wi]
    ok = np.isfinite(yw) & np.isfinite(hp[..., wi]).all((0, 1))
    ok[-1] = True
    anomaly = anomaly_hours(yw, len(wi) - 1, p.anomaly_hours)[ok]
    # the best travel-time factor of each enterprise (air: the only one)
    best = np.zeros(len(live), int)
    if live and hp.shape[1] > 1:
        y_ok = np.nan_to_num(yw[ok])
        for k in range(len(live)):
            x_k = np.nan_to_num(hp[k][:, wi][:, ok])
            s, _ = _scores(y_ok, x_k, anomaly, _noise(y_ok), **_fit_options(p, use_prior))
            best[k] = int(np.argmax(s))
    chosen = hp[np.arange(len(live)), best][:, wi] if live else np.zeros((0, len(wi)))
    score, scale, share, joint = rank_enterprises(
        yw, chosen, len(wi) - 1, params=p, use_prior=use_prior
    )
    lat0, lon0 = origin
    e_lat = np.array([e.lat for e in emitters], float)
    e_lon = np.array([e.lon for e in emitters], float)
    dist = haversine_km(lat0, lon0, e_lat, e_lon)
    brg = bearing_deg(lat0, lon0, e_lat, e_lon)
    index = {e.id: k for k, e in enumerate(live)}
    rows, fitted = [], {}
    for n, e in enumerate(emitters):
        k = index.get(e.id)
        status = tr.excluded.get(e.id) or _status(coverage[e.id], p)
        row: dict[str, object] = {
            "enterprise": e.id,
            "name": e.name,
            "status": status,
            "score": 0.0,
            "share": 0.0,
            "explained": 0.0,
            "scale": np.nan,
            "distance_km": float(dist[n]),
            "bearing_deg": float(brg[n]),
            "lag_h": np.nan,
            "coverage": coverage[e.id],
            "peak_rate_kg_h": np.nan,
            "median_rate_kg_h": np.nan,
            "evidence_hours": [],
            "evidence": "no valid emission data in the window",
        }
        if status in ("not upstream", "no data"):
            row.update(score=np.nan, share=np.nan, explained=np.nan)
        if status == "not upstream":
            row["evidence"] = "its outfall is not upstream of the section"
        if k is not None:
            q = np.asarray(emitters[n].rate, float)[span]
            row["peak_rate_kg_h"] = float(np.nanmax(q))
            row["median_rate_kg_h"] = float(np.nanmedian(q))
        if k is not None and status != "not upstream":
            f = int(best[k])
            fit = scale[k] * chosen[k]
            lag_w = tr.lag[k, f, wi]
            peak = int(np.argmax(fit))
            row.update(
                score=float(score[k]),
                share=float(share[k]),
                explained=float(share[k] * max(excess[it], 0.0)),
                scale=float(scale[k]) if score[k] > 0 else np.nan,
                lag_h=float(lag_w[peak]) if score[k] > 0 else np.nan,
            )
            if score[k] > 0 and (fit > 0).any():
                hours = [int(h) for h in np.flatnonzero(fit >= 0.25 * fit.max())]
                row["evidence_hours"] = [str(times[wi][h]) for h in hours]
                row["evidence"] = (
                    f"{tr.describe(k, f, hours)}; explains {share[k]:.0%} of the excess at T"
                )
            elif (hp[k, f, wi] > 0).any():
                row["evidence"] = "its transported emissions do not follow the excess"
            else:
                row["evidence"] = "its emissions do not reach the receptor in the window"
            fitted[e.id] = joint[k] * chosen[k]
        rows.append(row)
    return EnterpriseAttribution(
        at, medium, _table(rows), times[wi], ambient[wi], excess[wi], fitted, z, p
    )


def attribute_air(
    times: pd.DatetimeIndex,
    ambient: np.ndarray,
    at: pd.Timestamp | str,
    emitters: list[Emitter],
    *,
    field: WindField,
    lat: float,
    lon: float,
    params: AttributionParams | None = None,
) -> EnterpriseAttribution:
    """Rank enterprises as the explanation of an air station's anomaly.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Regular hourly interval ends (UTC), from at least ``params.history_hours()`` before
        ``at``; ``ambient`` and every ``Emitter.rate`` are on this grid.
    ambient : numpy.ndarray
        QC-valid readings of the station (NaN where none) [e.g. ug m-3].
    at : pandas.Timestamp or str
        The anomaly hour (one of ``times``).
    emitters : list of Emitter
        Enterprises with their emission rate [kg h-1] (NaN where no valid value).
    field : WindField
        Wind field for the back-trajectories.
    lat, lon : float
        The station [degrees].
    params : AttributionParams, optional
        Method parameters.

    Returns
    -------
    EnterpriseAttribution
        ``ranking`` columns: ``rank`` (NA when not ranked), ``enterprise``, ``name``,
        ``status`` (``ok``, ``partial data``, ``no data``), ``score`` [nats], ``share`` (of the
        excess at ``at``), ``explained`` (that part of the excess, units of ``ambient``),
        ``scale`` (fitted / modelled contribution), ``distance_km``, ``bearing_deg`` (from the
        station), ``lag_h`` (travel time), ``coverage`` (share of valid emission hours),
        ``peak_rate_kg_h`` and ``median_rate_kg_h`` (over the hours that matter),
        ``evidence_hours`` (when its plume explains the excess) and ``evidence`` (text).
    """
    p = params or AttributionParams()

    def transport(live: list[Emitter], times: pd.DatetimeIndex) -> _Transport:
        n = len(times)
        if not live:
            return _Transport(np.zeros((0, 1, n)), np.zeros((0, 1, n)), lambda *a: "", {})
        c, lag = air_contributions(field, lat, lon, times, live, p)
        t_mid = times.values - np.timedelta64(30, "m")
        u, v = field.at(t_mid, np.full(n, lat), np.full(n, lon))
        wd = np.degrees(np.arctan2(-u, -v)) % 360
        ws = np.hypot(u, v)
        wi = np.arange(max(0, n - p.window_hours), n)  # the grid ends at T

        def describe(k: int, f: int, hours: list[int]) -> str:
            rad = np.radians(wd[wi][hours])
            mean = float(np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())) % 360)
            lags = lag[k, wi][hours]
            travel = float(np.nanmedian(lags)) if np.isfinite(lags).any() else float("nan")
            return (
                f"plume over the station {_span_text(times[wi], hours)}, wind there from "
                f"{mean:.0f} deg ({_compass(mean)}) at {float(np.mean(ws[wi][hours])):.1f} m/s, "
                f"travel ~{travel:.1f} h"
            )

        return _Transport(c[:, None], lag[:, None], describe, {})

    return _attribute(
        "air",
        times,
        ambient,
        at,
        emitters,
        p,
        reach_hours=p.transport_hours,
        transport=transport,
        origin=(lat, lon),
    )


def attribute_water(
    times: pd.DatetimeIndex,
    ambient: np.ndarray,
    at: pd.Timestamp | str,
    emitters: list[Emitter],
    *,
    net: RiverNetwork,
    section: str,
    params: AttributionParams | None = None,
) -> EnterpriseAttribution:
    """Rank enterprises (their outfalls) as the explanation of a river section's anomaly.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Regular hourly interval ends (UTC), from at least ``params.history_hours(longest
        travel)`` before ``at``; ``ambient`` and every ``Emitter.rate`` are on this grid.
    ambient : numpy.ndarray
        QC-valid readings of the section (NaN where none) [e.g. mg L-1].
    at : pandas.Timestamp or str
        The anomaly hour (one of ``times``).
    emitters : list of Emitter
        Enterprises with their discharge [kg h-1] and outfall position (``reach``,
        ``fraction``).
    net : RiverNetwork
        The river network.
    section : str
        The section of the anomaly.
    params : AttributionParams, optional
        Method parameters.

    Returns
    -------
    EnterpriseAttribution
        As :func:`attribute_air`; ``status`` may also be ``not upstream`` (never ranked),
        ``bearing_deg`` / ``distance_km`` are from the section when it has coordinates (else
        NaN) and ``lag_h`` is the fitted travel time.
    """
    if section not in net.sections:
        raise ValueError(f"river network {net.name} has no section {section!r}")
    p = params or AttributionParams()
    sec = net.sections[section]
    travels = [_outfall_travel(net, e, section) for e in emitters]
    longest = max([t for t in travels if t is not None], default=0.0)
    reach = p.reach_hours(longest)
    factors = np.asarray(p.travel_time_factors, float)

    def transport(live: list[Emitter], times: pd.DatetimeIndex) -> _Transport:
        excluded = {
            e.id: "not upstream" for e, t in zip(emitters, travels, strict=True) if t is None
        }
        c, travel = water_contributions(net, section, times, live, p)
        lag = np.broadcast_to((travel[:, None] * factors[None, :])[..., None], c.shape)

        wi = np.arange(max(0, len(times) - p.window_hours), len(times))  # the grid ends at T

        def describe(k: int, f: int, hours: list[int]) -> str:
            return (
                f"discharge arriving after ~{lag[k, f, 0]:.1f} h (x{factors[f]:g} the configured "
                f"{travel[k]:.1f} h) follows the excess {_span_text(times[wi], hours)}"
            )

        return _Transport(c, np.array(lag), describe, excluded)

    res = _attribute(
        "water",
        times,
        ambient,
        at,
        emitters,
        p,
        reach_hours=reach,
        transport=transport,
        origin=(
            sec.lat if sec.lat is not None else np.nan,
            sec.lon if sec.lon is not None else np.nan,
        ),
        use_prior=bool(sec.flow_m3_s),
    )
    if not sec.flow_m3_s:
        res.notes.append(
            f"section {section} has no flow_m3_s: contributions are not diluted (kg h-1), "
            "the scale of each outfall is left free"
        )
    return res
