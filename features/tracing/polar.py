"""Wind-based source localisation (pure): bivariate polar surfaces, CPF, NWR, roses, clustering.

The openair family (Carslaw & Ropkins 2012; Henry et al. 2009; Uria-Tellaetxe & Carslaw 2014),
on any concentration series (a station pollutant or a PMF factor's contributions):

* :func:`polar_surface` - the concentration as a smooth function of wind speed and direction on
  a u/v grid, by non-parametric wind regression (NWR): Gaussian kernels in direction
  (``wd_spread`` [degree]) and speed (``ws_spread`` [m s-1]). ``statistic="mean"`` gives the
  kernel-weighted mean (openair's ``polarPlot`` ``nwr``), ``"cpf"`` the kernel-weighted
  probability that the concentration exceeds the ``percentile`` of the whole series (CPF on the
  wind-speed/direction plane, openair's ``statistic = "cpf"``). Cells with little data
  (kernel weight below ``min_weight`` readings) are left out (NaN), not extrapolated.
* :func:`sector_table` - pollution rose, percentile rose and sector CPF by direction sector.
* :func:`cluster_surface` - k-means clustering of the standardised (u, v, value) surface
  (openair's ``polarCluster`` uses PAM; k-means with a fixed seed is used here).
* :func:`polar_analysis` - all of the above for one series, with the CPF peak summary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "PolarAnalysis",
    "PolarSurface",
    "cluster_surface",
    "polar_analysis",
    "polar_surface",
    "sector_table",
]


@dataclass
class PolarSurface:
    """A polar surface on a regular u/v grid (u east, v north: the direction winds come *from*)."""

    u: np.ndarray  # grid x coordinate: speed x sin(direction) [m s-1]
    v: np.ndarray  # grid y coordinate: speed x cos(direction) [m s-1]
    value: np.ndarray  # ny x nx, NaN outside the data
    weight: np.ndarray  # ny x nx effective number of readings
    statistic: str
    threshold: float | None  # CPF threshold concentration
    n: int  # readings used

    def peak(self) -> tuple[float, float, float]:
        """Direction the peak comes from [degree], speed at the peak [m s-1], peak value."""
        if not np.isfinite(self.value).any():
            return float("nan"), float("nan"), float("nan")
        iy, ix = np.unravel_index(np.nanargmax(self.value), self.value.shape)
        uu, vv = self.u[ix], self.v[iy]
        return (
            float(np.degrees(np.arctan2(uu, vv)) % 360),
            float(np.hypot(uu, vv)),
            float(self.value[iy, ix]),
        )

    def to_frame(self) -> pd.DataFrame:
        """Long table: u, v, speed, direction, value, weight (the data behind the figure)."""
        U, V = np.meshgrid(self.u, self.v)
        return pd.DataFrame(
            {
                "u": U.ravel(),
                "v": V.ravel(),
                "speed": np.hypot(U, V).ravel(),
                "direction": (np.degrees(np.arctan2(U, V)) % 360).ravel(),
                "value": self.value.ravel(),
                "weight": self.weight.ravel(),
            }
        )


def polar_surface(
    ws: np.ndarray,
    wd: np.ndarray,
    conc: np.ndarray,
    statistic: str = "mean",
    percentile: float = 75.0,
    ws_spread: float = 1.5,
    wd_spread: float = 15.0,
    resolution: int = 61,
    max_speed: float | None = None,
    min_weight: float = 3.0,
) -> PolarSurface:
    """Smooth surface of ``conc`` over wind speed and direction.

    Parameters
    ----------
    ws : numpy.ndarray
        Wind speed [m s-1].
    wd : numpy.ndarray
        Direction the wind blows from [degree]; NaN (calm / variable) readings are left out.
    conc : numpy.ndarray
        Concentrations (any units) or factor contributions.
    statistic : {"mean", "cpf"}
    percentile : float
        CPF threshold: this percentile of ``conc`` (over the readings used) [%].
    max_speed : float, optional
        Outer radius [m s-1] (default: the 99th percentile of ``ws``).
    """
    ws, wd, c = (np.asarray(a, float) for a in (ws, wd, conc))
    ok = np.isfinite(ws) & np.isfinite(wd) & np.isfinite(c)
    ws, wd, c = ws[ok], wd[ok] % 360, c[ok]
    if statistic not in ("mean", "cpf"):
        raise ValueError(f"statistic must be 'mean' or 'cpf', not {statistic!r}")
    top = float(max_speed or (np.percentile(ws, 99) if len(ws) else 1.0))
    axis = np.linspace(-top, top, resolution)
    U, V = np.meshgrid(axis, axis)
    g_ws = np.hypot(U, V).ravel()
    g_wd = np.degrees(np.arctan2(U, V)).ravel() % 360
    threshold = float(np.percentile(c, percentile)) if statistic == "cpf" and len(c) else None
    target = (c > threshold).astype(float) if threshold is not None else c
    num = np.zeros(g_ws.size)
    den = np.zeros(g_ws.size)
    for s in range(0, len(c), 4096):  # chunks bound the memory of the grid x readings kernel
        dd = np.abs(g_wd[:, None] - wd[None, s : s + 4096])
        dd = np.minimum(dd, 360 - dd)
        k = np.exp(-0.5 * (dd / wd_spread) ** 2) * np.exp(
            -0.5 * ((g_ws[:, None] - ws[None, s : s + 4096]) / ws_spread) ** 2
        )
        num += k @ target[s : s + 4096]
        den += k.sum(axis=1)
    # effective readings: kernel mass relative to a single reading at the cell centre
    value = np.where(den >= min_weight, num / np.maximum(den, 1e-300), np.nan)
    value[g_ws > top] = np.nan
    return PolarSurface(
        u=axis,
        v=axis,
        value=value.reshape(U.shape),
        weight=den.reshape(U.shape),
        statistic=statistic,
        threshold=threshold,
        n=int(len(c)),
    )


def sector_table(
    wd: np.ndarray,
    conc: np.ndarray,
    sectors: int = 16,
    percentiles: tuple[float, ...] = (25, 50, 75, 90, 95),
    cpf_percentile: float = 75.0,
) -> pd.DataFrame:
    """Per direction sector: frequency, mean, percentiles (percentile rose) and sector CPF."""
    wd, c = np.asarray(wd, float), np.asarray(conc, float)
    ok = np.isfinite(wd) & np.isfinite(c)
    wd, c = wd[ok] % 360, c[ok]
    width = 360.0 / sectors
    idx = np.floor(((wd + width / 2) % 360) / width).astype(int)
    threshold = np.percentile(c, cpf_percentile) if len(c) else np.nan
    rows = []
    for s in range(sectors):
        cs = c[idx == s]
        row = {
            "sector_centre": s * width,
            "readings": int(len(cs)),
            "frequency_percent": 100.0 * len(cs) / max(len(c), 1),
            "mean": float(cs.mean()) if len(cs) else np.nan,
            "cpf": float((cs > threshold).mean()) if len(cs) else np.nan,
        }
        for p in percentiles:
            row[f"p{p:g}"] = float(np.percentile(cs, p)) if len(cs) else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["cpf_threshold"] = float(threshold)
    return out


def cluster_surface(surface: PolarSurface, k: int = 4, seed: int = 0) -> np.ndarray:
    """Cluster label (0..k-1, -1 outside the data) of every grid cell of a polar surface."""
    from scipy.cluster.vq import kmeans2

    U, V = np.meshgrid(surface.u, surface.v)
    z = surface.value
    ok = np.isfinite(z)
    feats = np.column_stack([U[ok], V[ok], z[ok]])
    sd = feats.std(axis=0)
    feats = (feats - feats.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    labels = np.full(z.shape, -1)
    if ok.sum() >= k:
        _, lab = kmeans2(feats, k, seed=seed, minit="++")
        labels[ok] = lab
    return labels


@dataclass
class PolarAnalysis:
    """The polar analysis of one series against one station's wind."""

    mean: PolarSurface  # NWR mean surface
    cpf: PolarSurface  # CPF surface
    sectors: pd.DataFrame  # sector table (pollution / percentile rose, sector CPF)
    clusters: np.ndarray  # cluster label of every cell of the mean surface (-1 outside)

    def summary(self) -> dict[str, float | int]:
        """CPF threshold and peak (direction [degree], speed [m s-1], value), readings used."""
        d, s_, v = self.cpf.peak()
        return {
            "cpf_threshold": self.cpf.threshold,
            "cpf_peak_direction_deg": round(d, 1),
            "cpf_peak_speed_m_s": round(s_, 2),
            "cpf_peak": round(v, 3),
            "readings": self.mean.n,
        }


def polar_analysis(
    ws: np.ndarray,
    wd: np.ndarray,
    conc: np.ndarray,
    percentile: float = 75.0,
    *,
    clusters: int = 4,
) -> PolarAnalysis:
    """NWR mean and CPF surfaces, sector table and clusters of one series.

    Parameters
    ----------
    ws, wd : numpy.ndarray
        Wind speed [m s-1] and the direction it blows from [degree].
    conc : numpy.ndarray
        The series, aligned with the wind.
    percentile : float
        CPF threshold percentile of the series.
    clusters : int
        Number of clusters of the mean surface.
    """
    mean = polar_surface(ws, wd, conc, "mean")
    cpf = polar_surface(ws, wd, conc, "cpf", percentile=percentile)
    sectors = sector_table(wd, conc, cpf_percentile=percentile)
    return PolarAnalysis(mean, cpf, sectors, cluster_surface(mean, k=clusters))
