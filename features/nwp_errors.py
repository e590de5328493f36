"""Forecast-error model of a synthetic NWP feed: published-size errors, correlated in lead and space.

The synthetic feed of issue #12 (track (b)) is the observed weather plus errors of the size that
operational NWP has against station observations. This module is the pure error model; the files
are written by :mod:`pipelines.nwp.synthetic`.

Sizes
-----
The **floors** (:data:`FLOORS`) are the minimum RMSE at 24 / 48 / 72 h that issue #12 prescribes
(T2m 1.8 / 2.2 / 2.6 K, dew point 2.2 / 2.7 / 3.2 K, 10-m wind speed 1.5 / 1.8 / 2.1 m s-1, u and v
1.8 / 2.2 / 2.6 m s-1, pressure 1.2 / 2.0 / 3.0 hPa). The model's **targets**
(:data:`ERROR_SPECS`) are the floors plus 10 % headroom, so that bilinear interpolation of the
gridded errors to a station (which averages correlated neighbours and shrinks the variance by a
few per cent) does not bring them under the floor. Between the knots the RMSE is linear in lead;
beyond 72 h it is extrapolated linearly with the 48-72 h slope (to 96 h and further); below
24 h it falls linearly to an analysis-size value at 0 h (about 60 % of the 24-h value: the
station-minus-analysis difference, mostly representativeness, is not zero). The 10-m wind speed
has no error of its own in the gridded feed: it follows from the u and v errors, whose RMSE
exceeds the speed floor (for a strong wind the speed error is the along-wind component of the
vector error, for a weak one it is larger), so the speed floor holds whenever the u/v floor does.

These sizes are consistent with what the published surface verification against SYNOP stations
reports for global deterministic models over land at D+1..D+3 (the issue's floors are at or above
them, deliberately on the pessimistic side for the complex terrain around Beijing):

- T. Haiden and F. Prates (2023), *Evaluation of ECMWF forecasts, including the 2023 upgrade*,
  ECMWF Technical Memorandum, doi:10.21957/d47ba5263c (one of an annual series since 2012; its
  "weather parameters" section verifies 2 m temperature, 2 m dew point, 10 m wind and total
  precipitation against SYNOP stations and compares the global centres);
- WMO Lead Centre for Deterministic NWP Verification (LC-DNV, run by ECMWF under the WMO Manual
  on the Global Data-processing and Forecasting System, WMO-No. 485): the standard scores
  exchanged by the global centres, among them CMA (centre 38) for CMA-GFS (GRAPES_GFS) and ECMWF;
- CMA Earth System Modeling and Prediction Centre, operational verification of CMA-GFS / CMA-MESO
  surface elements against the Chinese national stations (published in the CMA verification
  reports and summarised in LC-DNV);
- precipitation: M. J. Rodwell et al. (2010), *A new equitable score suitable for verifying
  precipitation in numerical weather prediction*, Q. J. R. Meteorol. Soc. 136, 1344-1363 (misses
  and false alarms of the order of tens of per cent of events at D+1..D+3);
- boundary-layer height: D. J. Seidel et al. (2012), *Climatology of the planetary boundary layer
  over the continental United States and Europe*, J. Geophys. Res. 117, D17106, and J. Guo et
  al. (2016), *The climatology of planetary boundary layer height in China derived from radiosonde
  and reanalysis data*, Atmos. Chem. Phys. 16, 13309-13319, doi:10.5194/acp-16-13309-2016
  (reanalysis-minus-radiosonde differences of 30-50 % in some regions and seasons), hence a log-normal error of 30 % at 0 h growing to 50 % at 96 h.

Correlation
-----------
Errors are a standardised Gaussian field ``z(lead, point)`` scaled by ``rmse(lead)``. Along the
lead ``z`` is a stationary AR(1) process with coefficient ``exp(-dt / tau)`` (e-folding time
``tau`` per variable, :attr:`ErrorSpec.e_folding_h`); between points it has the exponential
covariance ``exp(-d / L)`` in great-circle distance ``d`` (:func:`features.geo.pairwise_km`,
length scale ``L`` per variable, :attr:`ErrorSpec.length_km`: 200-400 km, the order of the
background-error correlation lengths of operational assimilation, e.g. F. Bouttier and
P. Courtier, *Data assimilation concepts and methods*, ECMWF training notes, 1999). Each run draws
its own field from its own generator, so consecutive runs do not share errors (a simplification:
real consecutive runs share part of theirs). Variables are drawn independently of one another.

Units: the errors are differences in the registry's canonical units of each variable (degC
differences equal K differences; hPa; m s-1); precipitation and boundary-layer height are
multiplicative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from features.geo import pairwise_km

__all__ = [
    "ERROR_SPECS",
    "FLOORS",
    "ErrorSpec",
    "correlated_normal",
    "distances_km",
    "perturb",
    "perturb_precipitation",
    "rmse_at",
]

#: Issue #12's minimum RMSE at 24 / 48 / 72 h [K, K, m s-1, m s-1, m s-1, hPa].
FLOORS: dict[str, dict[int, float]] = {
    "air_temperature": {24: 1.8, 48: 2.2, 72: 2.6},
    "dew_point_temperature": {24: 2.2, 48: 2.7, 72: 3.2},
    "wind_speed": {24: 1.5, 48: 1.8, 72: 2.1},
    "eastward_wind": {24: 1.8, 48: 2.2, 72: 2.6},
    "northward_wind": {24: 1.8, 48: 2.2, 72: 2.6},
    "air_pressure": {24: 1.2, 48: 2.0, 72: 3.0},
}

#: Margin of the model's targets over the floors [1].
HEADROOM = 1.10
#: RMSE at 0 h as a fraction of the 24-h target [1].
ANALYSIS_FRACTION = 0.6


@dataclass(frozen=True)
class ErrorSpec:
    """Error model of one variable.

    Attributes
    ----------
    variable : str
        Registry name.
    kind : str
        ``"additive"`` (Gaussian, RMSE in :attr:`units`), ``"lognormal"`` (multiplicative,
        :attr:`rmse` is the standard deviation of the log) or ``"precipitation"``
        (occurrence + multiplicative, see :func:`perturb_precipitation`).
    leads_h : tuple of float
        Knots of the RMSE curve [h].
    rmse : tuple of float
        RMSE at the knots [units; 1 for the log-normal kinds].
    units : str
        Units of the additive error (differences).
    e_folding_h : float
        E-folding time of the lead autocorrelation [h].
    length_km : float
        Length scale of the exponential spatial covariance [km].
    """

    variable: str
    kind: str
    leads_h: tuple[float, ...]
    rmse: tuple[float, ...]
    units: str
    e_folding_h: float
    length_km: float


def _additive(variable: str, units: str, tau: float, length: float) -> ErrorSpec:
    f = FLOORS[variable]
    knots = tuple(HEADROOM * f[h] for h in (24, 48, 72))
    return ErrorSpec(
        variable, "additive", (0.0, 24.0, 48.0, 72.0), (ANALYSIS_FRACTION * knots[0], *knots),
        units, tau, length,
    )  # fmt: skip


#: Registry variable -> error model. Sizes and sources: see the module docstring.
ERROR_SPECS: dict[str, ErrorSpec] = {
    "air_temperature": _additive("air_temperature", "K", 12.0, 250.0),
    "dew_point_temperature": _additive("dew_point_temperature", "K", 12.0, 250.0),
    "wind_speed": _additive("wind_speed", "m s-1", 9.0, 200.0),
    "eastward_wind": _additive("eastward_wind", "m s-1", 9.0, 200.0),
    "northward_wind": _additive("northward_wind", "m s-1", 9.0, 200.0),
    "air_pressure": _additive("air_pressure", "hPa", 24.0, 400.0),
    # standard deviation of the log of the multiplicative amount error
    "precipitation": ErrorSpec("precipitation", "precipitation", (0.0, 96.0), (0.5, 1.0), "1", 6.0, 100.0),
    "boundary_layer_height": ErrorSpec(
        "boundary_layer_height", "lognormal", (0.0, 96.0), (0.30, 0.50), "1", 6.0, 150.0
    ),
}  # fmt: skip

#: Precipitation occurrence errors: probability that an observed wet hour (> WET_MM) is forecast
#: dry, and that a dry hour gets a false alarm, at 0 h and at 96 h (linear between) [1].
P_MISS = (0.15, 0.45)
P_FALSE = (0.02, 0.06)
#: Threshold of a wet hour [mm].
WET_MM = 0.1
#: Mean amount of a false-alarm hour (exponential distribution) [mm].
FALSE_ALARM_MEAN_MM = 0.5


def rmse_at(spec: ErrorSpec, leads_h) -> np.ndarray:
    """RMSE of a variable at the given leads [the spec's units].

    Linear between the knots, constant-slope extrapolation past the last knot (the slope of the
    last segment), never below the first knot's value before it.

    Parameters
    ----------
    spec : ErrorSpec
        Error model.
    leads_h : array_like
        Forecast leads [h], >= 0.

    Returns
    -------
    numpy.ndarray
        RMSE at each lead.

    Examples
    --------
    >>> s = ERROR_SPECS["air_temperature"]
    >>> [round(float(x), 3) for x in rmse_at(s, [24, 48, 72, 96])]
    [1.98, 2.42, 2.86, 3.3]
    """
    leads = np.asarray(leads_h, float)
    x, y = np.asarray(spec.leads_h), np.asarray(spec.rmse)
    out = np.interp(leads, x, y)
    slope = (y[-1] - y[-2]) / (x[-1] - x[-2])
    beyond = leads > x[-1]
    out[beyond] = y[-1] + slope * (leads[beyond] - x[-1])
    return out


def correlated_normal(
    rng: np.random.Generator,
    leads_h,
    *,
    distance_km: np.ndarray,
    e_folding_h: float,
    length_km: float,
) -> np.ndarray:
    """Standard-normal field, AR(1) along the lead and exponentially correlated in space.

    Parameters
    ----------
    rng : numpy.random.Generator
        Seeded generator (the only source of randomness).
    leads_h : array_like
        Increasing forecast leads [h].
    distance_km : numpy.ndarray
        ``P x P`` great-circle distances between the points [km].
    e_folding_h : float
        ``corr(z(t), z(t + dt)) = exp(-dt / e_folding_h)`` [h].
    length_km : float
        ``corr(z(a), z(b)) = exp(-d(a, b) / length_km)`` [km].

    Returns
    -------
    numpy.ndarray
        ``(len(leads_h), P)``, marginally N(0, 1) at every lead and point.
    """
    leads = np.asarray(leads_h, float)
    d = np.asarray(distance_km, float)
    n = d.shape[0]
    cov = np.exp(-d / length_km) + 1e-9 * np.eye(n)
    chol = np.linalg.cholesky(cov)
    w = rng.standard_normal((len(leads), n)) @ chol.T
    z = np.empty_like(w)
    if len(leads) == 0:
        return z
    z[0] = w[0]
    phi = np.exp(-np.diff(leads) / e_folding_h)
    for k in range(1, len(leads)):
        z[k] = phi[k - 1] * z[k - 1] + np.sqrt(1.0 - phi[k - 1] ** 2) * w[k]
    return z


def perturb(
    rng: np.random.Generator,
    variable: str,
    *,
    truth: np.ndarray,
    leads_h,
    distance_km: np.ndarray,
) -> np.ndarray:
    """Forecast = truth + error for an additive or log-normal variable.

    Parameters
    ----------
    rng : numpy.random.Generator
        Seeded generator.
    variable : str
        Key of :data:`ERROR_SPECS` (not ``precipitation``: see :func:`perturb_precipitation`).
    truth : numpy.ndarray
        ``(lead, point)`` true values [registry units]; NaN passes through.
    leads_h : array_like
        Leads of the rows [h].
    distance_km : numpy.ndarray
        ``P x P`` distances between the points [km].

    Returns
    -------
    numpy.ndarray
        Forecast values, same shape and units as ``truth``.

    Raises
    ------
    KeyError
        For a variable without an error model.
    """
    if variable not in ERROR_SPECS:
        raise KeyError(
            f"no NWP error model for variable {variable!r}; known: {sorted(ERROR_SPECS)}"
        )
    spec = ERROR_SPECS[variable]
    if spec.kind == "precipitation":
        raise ValueError("precipitation has its own error model: use perturb_precipitation")
    z = correlated_normal(
        rng,
        leads_h,
        distance_km=distance_km,
        e_folding_h=spec.e_folding_h,
        length_km=spec.length_km,
    )
    s = rmse_at(spec, leads_h)[:, None]
    truth = np.asarray(truth, float)
    if spec.kind == "lognormal":
        return truth * np.exp(s * z - 0.5 * s**2)
    return truth + s * z


def perturb_precipitation(
    rng: np.random.Generator,
    truth: np.ndarray,
    *,
    leads_h,
    distance_km: np.ndarray,
) -> np.ndarray:
    """Forecast hourly precipitation: occurrence errors plus a log-normal amount error.

    A wet hour (``truth > WET_MM``) is missed (forecast 0) with probability rising linearly from
    ``P_MISS[0]`` at 0 h to ``P_MISS[1]`` at 96 h; otherwise its amount is multiplied by
    ``exp(s z - s**2 / 2)`` (mean-preserving, ``s`` from :data:`ERROR_SPECS`). A dry hour gets a
    false alarm with probability ``P_FALSE`` (same ramp), of an exponentially distributed amount
    with mean ``FALSE_ALARM_MEAN_MM``. The decisions and amounts come from two correlated fields
    (:func:`correlated_normal`), so misses and false alarms come in coherent patches and spells.

    Parameters
    ----------
    rng : numpy.random.Generator
        Seeded generator.
    truth : numpy.ndarray
        ``(lead, point)`` observed hourly amounts [mm]; NaN is treated as 0.
    leads_h : array_like
        Leads of the rows [h].
    distance_km : numpy.ndarray
        ``P x P`` distances [km].

    Returns
    -------
    numpy.ndarray
        Forecast hourly amounts [mm], >= 0.
    """
    spec = ERROR_SPECS["precipitation"]
    kw = {"distance_km": distance_km, "e_folding_h": spec.e_folding_h, "length_km": spec.length_km}
    occ = ndtr(correlated_normal(rng, leads_h, **kw))
    amount = correlated_normal(rng, leads_h, **kw)
    leads = np.asarray(leads_h, float)
    ramp = np.clip(leads / 96.0, 0.0, None)[:, None]
    p_miss = P_MISS[0] + (P_MISS[1] - P_MISS[0]) * ramp
    p_false = P_FALSE[0] + (P_FALSE[1] - P_FALSE[0]) * ramp
    s = rmse_at(spec, leads)[:, None]
    p = np.nan_to_num(np.asarray(truth, float), nan=0.0)
    wet = p > WET_MM
    out = np.where(wet, p * np.exp(s * amount - 0.5 * s**2), 0.0)
    out[wet & (occ < p_miss)] = 0.0
    fa = ~wet & (occ > 1.0 - p_false)
    out[fa] = -FALSE_ALARM_MEAN_MM * np.log1p(-ndtr(amount[fa]) * (1 - 1e-12))
    out[~wet & ~fa] = p[~wet & ~fa]
    return np.maximum(out, 0.0)


def distances_km(lat, lon) -> np.ndarray:
    """Great-circle distances between the points of a field [km] (:func:`features.geo.pairwise_km`).

    Parameters
    ----------
    lat, lon : array_like
        Point coordinates [degrees].

    Returns
    -------
    numpy.ndarray
        ``P x P`` distances [km].
    """
    return pairwise_km(np.ravel(lat), np.ravel(lon))
