"""Kinematic back-trajectories on a gridded wind field, and PSCF / CWT source maps (pure).

* :class:`WindField` - u/v [m s-1] on a regular lat/lon grid and times, interpolated bilinearly in
  space and linearly in time (outside the grid: the nearest edge value). Built from station winds
  (:meth:`WindField.from_stations`, inverse-distance weighting per time) or from any CF netCDF
  with eastward/northward wind (read in :mod:`pipelines.tracing.air`).
* :func:`back_trajectories` - Heun (RK2) integration backwards in time from receptor points.
* :func:`map_grid` and :func:`network_source_maps` - the map grid around a network and the
  PSCF / CWT maps of its network-mean series from back-trajectories arriving at one point.
* :func:`pscf` and :func:`cwt` - openair's ``trajLevel`` statistics on a lat/lon grid with its
  down-weighting of cells crossed by few trajectory points:
  PSCF = m/n with the threshold at the ``percentile`` of the receptor concentrations, weights
  x0.75 for n_avg < n <= 2 n_avg, x0.5 for n_avg/2 < n <= n_avg, x0.15 for n <= n_avg/2;
  CWT = mean receptor concentration of the points in the cell, weights x0.7 for 20 < n <= 80,
  x0.42 for 10 < n <= 20, x0.05 for n <= 10 (n: trajectory points in the cell).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.geo import KM_PER_DEGREE, local_xy_km, shift_deg

__all__ = [
    "NetworkSourceMaps",
    "SourceMap",
    "WindField",
    "back_trajectories",
    "cwt",
    "local_maxima",
    "map_grid",
    "network_source_maps",
    "peak_lat_lon",
    "pscf",
]


@dataclass
class WindField:
    """Wind components on ``times x lat x lon``."""

    times: np.ndarray  # datetime64[ns], ascending
    lat: np.ndarray  # ascending [degree north]
    lon: np.ndarray  # ascending [degree east]
    u: np.ndarray  # T x Y x X eastward [m s-1]
    v: np.ndarray  # T x Y x X northward [m s-1]

    @classmethod
    def from_stations(
        cls,
        times: pd.DatetimeIndex,
        st_lat: np.ndarray,
        st_lon: np.ndarray,
        u: np.ndarray,
        v: np.ndarray,
        lat: np.ndarray,
        lon: np.ndarray,
        power: float = 2.0,
    ) -> WindField:
        """Inverse-distance-weighted station winds (``S x T`` arrays) on a lat/lon grid.

        Times at which no station reports wind are filled from the nearest reported time.
        """
        Y, X = np.meshgrid(lat, lon, indexing="ij")
        ref = {"lat0": float(np.mean(st_lat)), "lon0": float(np.mean(st_lon))}
        gx, gy = local_xy_km(Y, X, **ref)
        sx, sy = local_xy_km(st_lat, st_lon, **ref)
        d = np.hypot(gy[..., None] - sy, gx[..., None] - sx)  # Y x X x S [km]
        w = 1.0 / np.maximum(d, 0.5) ** power
        U = np.full((len(times), len(lat), len(lon)), np.nan)
        V = np.full_like(U, np.nan)
        for t in range(len(times)):
            ok = np.isfinite(u[:, t]) & np.isfinite(v[:, t])
            if not ok.any():
                continue
            ww = w[..., ok]
            U[t] = (ww * u[ok, t]).sum(-1) / ww.sum(-1)
            V[t] = (ww * v[ok, t]).sum(-1) / ww.sum(-1)
        good = np.isfinite(U[:, 0, 0])
        if not good.any():
            raise ValueError("no station reports wind at any time")
        idx = np.flatnonzero(good)
        nearest = idx[np.clip(np.searchsorted(idx, np.arange(len(times))), 0, len(idx) - 1)]
        return cls(np.asarray(times, "datetime64[ns]"), lat, lon, U[nearest], V[nearest])

    def at(self, t: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Wind at times ``t`` (datetime64) and positions (arrays of one shape)."""
        tt = (t - self.times[0]) / np.timedelta64(1, "s")
        ts = (self.times - self.times[0]) / np.timedelta64(1, "s")
        fi = np.interp(tt, ts, np.arange(len(ts)))
        fy = np.interp(lat, self.lat, np.arange(len(self.lat)))
        fx = np.interp(lon, self.lon, np.arange(len(self.lon)))
        out = []
        for comp in (self.u, self.v):
            out.append(_trilinear(comp, fi, fy, fx))
        return out[0], out[1]


def _trilinear(a: np.ndarray, fi, fy, fx) -> np.ndarray:
    i0 = np.clip(np.floor(fi).astype(int), 0, a.shape[0] - 1)
    y0 = np.clip(np.floor(fy).astype(int), 0, a.shape[1] - 1)
    x0 = np.clip(np.floor(fx).astype(int), 0, a.shape[2] - 1)
    i1, y1, x1 = (
        np.minimum(i0 + 1, a.shape[0] - 1),
        np.minimum(y0 + 1, a.shape[1] - 1),
        np.minimum(x0 + 1, a.shape[2] - 1),
    )
    di, dy, dx = fi - i0, fy - y0, fx - x0
    out = 0.0
    for ii, wi in ((i0, 1 - di), (i1, di)):
        for yy, wy in ((y0, 1 - dy), (y1, dy)):
            for xx, wx in ((x0, 1 - dx), (x1, dx)):
                out = out + wi * wy * wx * a[ii, yy, xx]
    return out


def _step(lat, lon, u, v, dt_s):
    """Move by the wind ``u, v`` [m s-1] for ``dt_s`` [s]."""
    return shift_deg(lat, lon, u * dt_s, v * dt_s)


def back_trajectories(
    field: WindField,
    lat0: np.ndarray,
    lon0: np.ndarray,
    t0: np.ndarray,
    hours: float = 24.0,
    step_minutes: float = 15.0,
    output_every_hours: float = 1.0,
) -> pd.DataFrame:
    """Back-trajectories from receptors (one per entry of ``lat0, lon0, t0``).

    Returns
    -------
    pandas.DataFrame
        ``trajectory, hour_back (0 = arrival), time, lat, lon`` (hourly points).
    """
    lat = np.asarray(lat0, float).copy()
    lon = np.asarray(lon0, float).copy()
    t = np.asarray(t0, "datetime64[ns]").copy()
    dt = -step_minutes * 60.0
    n_steps = int(round(hours * 60 / step_minutes))
    every = int(round(output_every_hours * 60 / step_minutes))
    rows = [(0.0, t.copy(), lat.copy(), lon.copy())]
    delta = np.timedelta64(int(dt * 1e9), "ns")
    for s in range(1, n_steps + 1):
        u1, v1 = field.at(t, lat, lon)
        la1, lo1 = _step(lat, lon, u1, v1, dt)
        u2, v2 = field.at(t + delta, la1, lo1)
        lat, lon = _step(lat, lon, 0.5 * (u1 + u2), 0.5 * (v1 + v2), dt)
        t = t + delta
        if s % every == 0:
            rows.append((s * step_minutes / 60.0, t.copy(), lat.copy(), lon.copy()))
    n = len(lat)
    return pd.DataFrame(
        {
            "trajectory": np.tile(np.arange(n), len(rows)),
            "hour_back": np.repeat([r[0] for r in rows], n),
            "time": np.concatenate([r[1] for r in rows]),
            "lat": np.concatenate([r[2] for r in rows]),
            "lon": np.concatenate([r[3] for r in rows]),
        }
    )


@dataclass
class SourceMap:
    """A PSCF or CWT surface on a lat/lon grid."""

    lat: np.ndarray  # cell centres
    lon: np.ndarray
    value: np.ndarray  # Y x X (weighted), NaN where no trajectory point fell
    count: np.ndarray  # Y x X trajectory points
    statistic: str

    def to_frame(self) -> pd.DataFrame:
        """Long table of the surface (the data behind the figure)."""
        Y, X = np.meshgrid(self.lat, self.lon, indexing="ij")
        return pd.DataFrame(
            {
                "lat": Y.ravel(),
                "lon": X.ravel(),
                "value": self.value.ravel(),
                "points": self.count.ravel(),
            }
        )


def _cells(traj: pd.DataFrame, lat_edges: np.ndarray, lon_edges: np.ndarray):
    iy = np.searchsorted(lat_edges, traj["lat"].to_numpy()) - 1
    ix = np.searchsorted(lon_edges, traj["lon"].to_numpy()) - 1
    ok = (iy >= 0) & (iy < len(lat_edges) - 1) & (ix >= 0) & (ix < len(lon_edges) - 1)
    return iy, ix, ok


def _cell_means(
    traj: pd.DataFrame,
    receptor_conc: np.ndarray,
    lat_edges: np.ndarray,
    lon_edges: np.ndarray,
    skip_arrival: bool,
    value=lambda c: c,
) -> tuple[np.ndarray, np.ndarray]:
    """Trajectory points per cell and the cell mean of ``value(receptor concentration)``."""
    c = np.asarray(receptor_conc, float)
    t = traj[traj["hour_back"] > 0] if skip_arrival else traj
    conc = c[t["trajectory"].to_numpy()]
    iy, ix, ok = _cells(t, lat_edges, lon_edges)
    ok &= np.isfinite(conc)
    shape = (len(lat_edges) - 1, len(lon_edges) - 1)
    n = np.zeros(shape)
    total = np.zeros(shape)
    np.add.at(n, (iy[ok], ix[ok]), 1.0)
    np.add.at(total, (iy[ok], ix[ok]), value(conc[ok]))
    with np.errstate(invalid="ignore", divide="ignore"):
        return n, np.where(n > 0, total / n, np.nan)


def pscf(
    traj: pd.DataFrame,
    receptor_conc: np.ndarray,
    lat_edges: np.ndarray,
    lon_edges: np.ndarray,
    percentile: float = 75.0,
    skip_arrival: bool = True,
) -> SourceMap:
    """Potential source contribution function with openair's weights.

    ``receptor_conc[k]`` is the concentration at the arrival of trajectory ``k``.
    """
    thr = np.nanpercentile(np.asarray(receptor_conc, float), percentile)
    n, val = _cell_means(
        traj, receptor_conc, lat_edges, lon_edges, skip_arrival, lambda c: (c > thr).astype(float)
    )
    nbar = n[n > 0].mean() if (n > 0).any() else 0.0
    w = np.ones(n.shape)
    w[n <= 2 * nbar] = 0.75
    w[n <= nbar] = 0.5
    w[n <= nbar / 2] = 0.15
    return SourceMap(_centres(lat_edges), _centres(lon_edges), val * w, n, "pscf")


def cwt(
    traj: pd.DataFrame,
    receptor_conc: np.ndarray,
    lat_edges: np.ndarray,
    lon_edges: np.ndarray,
    skip_arrival: bool = True,
) -> SourceMap:
    """Concentration-weighted trajectory field with openair's weights."""
    n, val = _cell_means(traj, receptor_conc, lat_edges, lon_edges, skip_arrival)
    w = np.ones(n.shape)
    w[n <= 80] = 0.7
    w[n <= 20] = 0.42
    w[n <= 10] = 0.05
    return SourceMap(_centres(lat_edges), _centres(lon_edges), val * w, n, "cwt")


def _centres(edges: np.ndarray) -> np.ndarray:
    return 0.5 * (edges[:-1] + edges[1:])


def local_maxima(
    smap: SourceMap, k: int, min_sep_km: float = 30.0
) -> list[tuple[float, float, float]]:
    """Return the ``k`` highest cells at least ``min_sep_km`` apart: ``(lat, lon, value)``."""
    Y, X = np.meshgrid(smap.lat, smap.lon, indexing="ij")
    vals = np.where(np.isfinite(smap.value), smap.value, -np.inf).ravel()
    order = np.argsort(vals)[::-1]
    ex, ny = (a.ravel() for a in local_xy_km(Y, X, lat0=float(np.mean(smap.lat)), lon0=0.0))
    picked: list[tuple[float, float, float]] = []
    chosen: list[int] = []
    for i in order:
        if not np.isfinite(vals[i]) or len(picked) == k:
            break
        if all(np.hypot(ny[i] - ny[j], ex[i] - ex[j]) >= min_sep_km for j in chosen):
            chosen.append(int(i))
            picked.append((float(Y.ravel()[i]), float(X.ravel()[i]), float(vals[i])))
    return picked


def peak_lat_lon(smap: SourceMap) -> list[float]:
    """Centre of the highest cell of a source map, rounded to 0.01 degree: ``[lat, lon]``."""
    peak = np.unravel_index(np.nanargmax(np.nan_to_num(smap.value, nan=-np.inf)), smap.value.shape)
    return [round(float(smap.lat[peak[0]]), 2), round(float(smap.lon[peak[1]]), 2)]


def map_grid(
    lat: np.ndarray,
    lon: np.ndarray,
    hours: float,
    cell_deg: float,
    *,
    max_span_deg: float = 12.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Grid of a trajectory map centred on the stations (cell centres [degrees]).

    The half-width is the distance covered at 10 km h-1 over ``hours`` (at most
    ``max_span_deg``).

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Station coordinates [degrees].
    hours : float
        Length of the back-trajectories [h].
    cell_deg : float
        Cell size [degrees].
    """
    span = min(hours * 10.0 / KM_PER_DEGREE, max_span_deg)
    glat = np.arange(lat.mean() - span, lat.mean() + span + 1e-9, cell_deg)
    glon = np.arange(lon.mean() - span, lon.mean() + span + 1e-9, cell_deg)
    return glat, glon


@dataclass
class NetworkSourceMaps:
    """Back-trajectories arriving at a network and the PSCF / CWT maps of its mean series."""

    trajectories: pd.DataFrame  # back_trajectories() table
    arrive: np.ndarray  # time index of each trajectory's arrival
    lat_edges: np.ndarray  # map cell edges [degrees]
    lon_edges: np.ndarray
    maps: dict[str, SourceMap]  # "pscf", "cwt"


def network_source_maps(
    field: WindField,
    times: pd.DatetimeIndex,
    station_conc: np.ndarray,
    lat0: float,
    lon0: float,
    glat: np.ndarray,
    glon: np.ndarray,
    *,
    cell_deg: float,
    hours: float,
    every_hours: int,
    percentile: float = 75.0,
) -> NetworkSourceMaps:
    """PSCF and CWT maps of the network-mean series from trajectories arriving at one point.

    Parameters
    ----------
    field : WindField
        Wind field covering the trajectories.
    times : pandas.DatetimeIndex
        Times of the series (UTC), length ``T``.
    station_conc : numpy.ndarray
        ``S x T`` concentrations; their station mean (NaN ignored) is the receptor series.
    lat0, lon0 : float
        Arrival point [degrees].
    glat, glon : numpy.ndarray
        Map cell centres (:func:`map_grid`) [degrees].
    cell_deg : float
        Cell size [degrees].
    hours : float
        Length of the back-trajectories [h].
    every_hours : int
        One trajectory every this many time steps (from ``hours`` on, so that the field covers
        every trajectory; times without a network mean are skipped).
    percentile : float
        PSCF threshold percentile.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        conc = np.nanmean(station_conc, axis=0)
    arrive = np.arange(int(hours), len(times), every_hours)
    arrive = arrive[np.isfinite(conc[arrive])]
    traj = back_trajectories(
        field,
        np.full(len(arrive), lat0),
        np.full(len(arrive), lon0),
        times.values[arrive],
        hours,
    )
    edges_lat = np.arange(glat[0], glat[-1] + cell_deg, cell_deg)
    edges_lon = np.arange(glon[0], glon[-1] + cell_deg, cell_deg)
    maps = {
        "pscf": pscf(traj, conc[arrive], edges_lat, edges_lon, percentile),
        "cwt": cwt(traj, conc[arrive], edges_lat, edges_lon),
    }
    return NetworkSourceMaps(traj, arrive, edges_lat, edges_lon, maps)
