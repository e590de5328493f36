"""A Gaussian-puff simulator with known sources: the synthetic twin for source localisation.

Puffs are released every hour from each source, advected forward with the same wind field and
integrator as the back-trajectories (:mod:`features.tracing.trajectory`), grow horizontally
(``sigma = sigma0 + growth x distance travelled``), decay at first order (``lifetime_hours``) and
are mixed over ``mixing_height_m``. The hourly concentration at each receptor is the sum over
puffs of the Gaussian footprint plus a background, with multiplicative log-normal noise.
Units are arbitrary but consistent (mass per hour in, concentration out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.geo import local_xy_km
from features.tracing.trajectory import WindField, _step

__all__ = ["Source", "simulate_receptors"]


@dataclass(frozen=True)
class Source:
    """A point source: position [degree] and emission [mass h-1]."""

    name: str
    lat: float
    lon: float
    rate: float


def simulate_receptors(
    field: WindField,
    sources: list[Source],
    rec_lat: np.ndarray,
    rec_lon: np.ndarray,
    times: pd.DatetimeIndex,
    lifetime_hours: float = 48.0,
    max_age_hours: int = 72,
    sigma0_m: float = 2000.0,
    growth: float = 0.15,
    mixing_height_m: float = 800.0,
    background: float = 5.0,
    noise: float = 0.2,
    step_minutes: float = 15.0,
    seed: int = 0,
    rate_scale: np.ndarray | None = None,
) -> np.ndarray:
    """Hourly concentrations at the receptors (``R x T``) from puffs of the given sources.

    ``rate_scale`` (``S x T``, optional) multiplies each source's rate at the hour a puff is
    released (diurnal cycles, or an emission cut from some hour on); a puff keeps its mass.
    """
    rng = np.random.default_rng(seed)
    S = len(sources)
    ages = max_age_hours
    T = len(times)
    out = np.zeros((len(rec_lat), T))
    # puff state: (source, age) slots; a new puff enters every hour, the oldest leaves
    plat = np.full((S, ages), np.nan)
    plon = np.full((S, ages), np.nan)
    pdist = np.zeros((S, ages))
    src_lat = np.array([s.lat for s in sources])
    src_lon = np.array([s.lon for s in sources])
    rate = np.array([s.rate for s in sources])
    sub = int(round(60 / step_minutes))
    dt = step_minutes * 60.0
    delta = np.timedelta64(int(dt * 1e9), "ns")
    ref = {"lat0": float(np.mean(rec_lat)), "lon0": 0.0}  # local plane of the receptors
    rx, ry = (a[:, None, None] for a in local_xy_km(rec_lat, rec_lon, **ref))
    age_h = np.arange(ages)[None, :]
    decay = np.exp(-age_h / lifetime_hours)
    scale = np.ones((S, T)) if rate_scale is None else np.asarray(rate_scale, float)
    pscale = np.zeros((S, ages))  # release-time rate multiplier of every puff slot
    for ti, t in enumerate(times.values.astype("datetime64[ns]")):
        # age every puff by one hour (shift right), release new puffs at the sources
        plat[:, 1:], plon[:, 1:], pdist[:, 1:] = plat[:, :-1], plon[:, :-1], pdist[:, :-1]
        plat[:, 0], plon[:, 0], pdist[:, 0] = src_lat, src_lon, 0.0
        pscale[:, 1:] = pscale[:, :-1]
        pscale[:, 0] = scale[:, ti]
        mass = rate[:, None] * pscale * decay
        tt = np.full(plat.shape, t - np.timedelta64(1, "h"))
        for _ in range(sub):
            live = np.isfinite(plat)
            u1, v1 = field.at(tt[live], plat[live], plon[live])
            la1, lo1 = _step(plat[live], plon[live], u1, v1, dt)
            u2, v2 = field.at(tt[live] + delta, la1, lo1)
            um, vm = 0.5 * (u1 + u2), 0.5 * (v1 + v2)
            nla, nlo = _step(plat[live], plon[live], um, vm, dt)
            plat[live], plon[live] = nla, nlo
            pdist[live] += np.hypot(um, vm) * dt
            tt = tt + delta
        sigma = sigma0_m + growth * pdist
        px, py = local_xy_km(plat, plon, **ref)
        dx = (rx - px[None]) * 1000.0  # [m]
        dy = (ry - py[None]) * 1000.0
        foot = np.exp(-0.5 * (dx * dx + dy * dy) / sigma[None] ** 2) / (
            2 * np.pi * sigma[None] ** 2 * mixing_height_m
        )
        c = np.nansum(foot * mass[None], axis=(1, 2)) * 1e12  # arbitrary units: tens for rate 1
        out[:, ti] = c
    noisy = (out + background) * np.exp(rng.normal(0, noise, out.shape))
    return noisy
