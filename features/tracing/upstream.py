"""Upstream tracing of a pollution pulse on a river network (pure): where and when it entered.

Source inversion by least squares over candidate entry points. A release of mass ``M`` at a
point a fraction ``f`` down a reach, at time ``t0``, reaches every section below it after the
travel time ``T`` (from the network) as a Gaussian pulse in time of width
``sigma = spread_h_per_sqrt_h x sqrt(T) + min_sigma_h`` and height ``M / (sigma sqrt(2 pi))``
(advection-dispersion). Sections not below the entry point see nothing. A candidate is judged
first by the sections whose presence or absence of a pulse it gets wrong (a section "saw" it when
its anomaly z reached ``detect_z``: clean sections above the entry, dirty ones below), then by the
timing: for every candidate reach, position (``positions`` per reach) and entry time (a coarse
grid around the time implied by the detecting section's peak, refined), each section's amplitude
is its non-negative least-squares fit (dilution and noise differ between sections) and the score
adds the residual sum of squares over all observed sections. Reaches are ranked by their best
candidate; its entry time and position are reported.

Inputs are anomaly series: :func:`anomaly_z` turns raw readings into robust z-scores of the
departure from a trailing median (``sign=-1`` for drops, e.g. dissolved oxygen).
:func:`trace_anomaly` does the whole analysis from the readings of every section: hourly means,
the detection time, the window around it, the anomaly series and the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.river_network import RiverNetwork

__all__ = ["AnomalyTrace", "anomaly_z", "trace_anomaly", "trace_upstream"]


def anomaly_z(values: np.ndarray, window: int, sign: int = 1) -> np.ndarray:
    """Robust z-score of the departure from the trailing median of ``window`` readings."""
    s = pd.Series(np.asarray(values, float))
    med = s.rolling(window, min_periods=max(3, window // 4)).median().shift(1)
    dev = sign * (s - med)
    mad = dev.abs().rolling(window, min_periods=max(3, window // 4)).median().shift(1)
    z = dev / (1.4826 * mad.clip(lower=1e-9))
    return z.clip(lower=0).fillna(0.0).to_numpy()


def _entry_points(net: RiverNetwork, below: str, positions: int):
    """Candidate entry points: (reach, fraction, {section: travel time from the point [h]})."""
    out = []
    for reach in net.reaches(upstream_of=below):
        if reach.startswith("above "):
            head = reach.removeprefix("above ")
            # the catchment above a headwater: the pulse enters at the section itself
            tt = {s: net.travel_time(head, s) for s in net.path_down(head)}
            out.append((reach, 1.0, tt))
            continue
        sec = net.sections[reach]
        for f in (np.arange(positions) + 0.5) / positions:
            down = sec.downstream
            rest = (1 - f) * sec.travel_time_h
            tt = {s: rest + net.travel_time(down, s) for s in net.path_down(down)}
            out.append((reach, float(f), tt))
    return out


def trace_upstream(
    net: RiverNetwork,
    times: pd.DatetimeIndex,
    z: dict[str, np.ndarray],
    detected_at: str,
    spread_h_per_sqrt_h: float = 0.6,
    min_sigma_h: float = 1.0,
    positions: int = 8,
    t0_step_h: float = 1.0,
    t0_span_h: float = 12.0,
    detect_z: float = 5.0,
) -> pd.DataFrame:
    """Rank the reaches upstream of ``detected_at`` by how well an entry there explains the data.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Regular reading times (UTC) shared by the series in ``z``.
    z : dict
        Section -> anomaly z-scores (:func:`anomaly_z`); sections without data are left out.
    detected_at : str
        The section where the anomaly was seen (its peak time anchors the entry-time search).
    detect_z : float
        A section "saw" the pulse when its anomaly z reached this value in the window.

    Returns
    -------
    pandas.DataFrame
        One row per reach, best first: ``reach``, ``score`` (residual sum of squares), ``delta``
        (score minus the best), ``position`` (fraction down the reach), ``entry_time``,
        ``mass`` (fitted pulse mass in z-hours), ``travel_h`` (to ``detected_at``).
    """
    if detected_at not in z:
        raise ValueError(f"no series for the detecting section {detected_at}")
    secs = [s for s in z if s in net.sections]
    Y = np.stack([np.asarray(z[s], float) for s in secs])  # N x T
    t_h = (times - times[0]) / pd.Timedelta(hours=1)
    t_h = np.asarray(t_h, float)
    t_peak = t_h[int(np.argmax(z[detected_at]))]
    cands = _entry_points(net, detected_at, positions)
    offsets = np.arange(-t0_span_h, t0_span_h + 1e-9, t0_step_h)
    rows = []
    base_sse = float((Y * Y).sum())
    index = {s: i for i, s in enumerate(secs)}
    # which sections saw a pulse at all: a candidate must explain exactly those (sections above
    # the entry point stay clean, every section below it sees the pulse)
    # judged only over the period that matters: from the earliest possible entry to the detection
    longest = max(max(tt.values()) for _, _, tt in cands) if cands else 0.0
    relevant = (t_h >= t_peak - longest - t0_span_h - 12.0) & (t_h <= t_peak + 6.0)
    seen = Y[:, relevant].max(axis=1) >= detect_z if relevant.any() else Y.max(axis=1) >= detect_z
    penalty = max(base_sse, 1.0)

    def fit(t0: np.ndarray, T: np.ndarray, Yp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residual sum of squares and fitted mass for each candidate entry time."""
        sigma = spread_h_per_sqrt_h * np.sqrt(T) + min_sigma_h
        arrive = t0[:, None] + T[None, :]  # K x P
        # the pulses are negligible beyond 5 sigma: only that time window is evaluated
        lo = np.searchsorted(t_h, arrive.min() - 5 * sigma.max())
        hi = np.searchsorted(t_h, arrive.max() + 5 * sigma.max(), side="right")
        tw, Yw = t_h[lo:hi], Yp[:, lo:hi]
        G = np.exp(-0.5 * ((tw[None, None, :] - arrive[..., None]) / sigma[None, :, None]) ** 2)
        G = G / (sigma[None, :, None] * np.sqrt(2 * np.pi))
        # amplitude per section (dilution and each section's noise level differ): timing decides
        gy = np.einsum("kpt,pt->kp", G, Yw)
        gg = np.einsum("kpt,kpt->kp", G, G)
        M = np.where(gg > 0, np.maximum(gy / np.maximum(gg, 1e-300), 0.0), 0.0)
        sse = base_sse - (M * (2 * gy - M * gg)).sum(axis=1)
        return sse, M.max(axis=1)

    coarse = offsets[:: max(1, int(round(3 / t0_step_h)))]
    for reach, frac, tt in cands:
        # only the sections below the entry point see the pulse; the others keep their y^2
        idx = np.array([index[s] for s in tt if s in index], int)
        T = np.array([tt[s] for s in tt if s in index])
        Yp = Y[idx]
        start = t_peak - tt[detected_at]
        # entry times: a coarse grid, then refined around the best; never after the detection
        grid = coarse[start + coarse <= t_peak]
        grid = grid if len(grid) else np.array([t_peak - start])
        sse, M = fit(start + grid, T, Yp)
        best = grid[int(np.argmin(sse))]
        fine = best + np.arange(-2.0, 2.0 + 1e-9, t0_step_h)
        fine = fine[start + fine <= t_peak]
        sse, M = fit(start + fine, T, Yp)
        k = int(np.argmin(sse))
        below = np.zeros(len(secs), bool)
        below[idx] = True
        mismatch = int((below != seen).sum())
        rows.append(
            {
                "reach": reach,
                "position": frac,
                "mismatched_sections": mismatch,
                "score": float(sse[k] + penalty * mismatch),
                "entry_time": (times[0] + pd.Timedelta(hours=float(start + fine[k]))).round("min"),
                "mass": float(M[k]),
                "travel_h": float(tt[detected_at]),
            }
        )
    df = pd.DataFrame(rows)
    best = df.sort_values("score").groupby("reach", sort=False).head(1)
    best = best.sort_values("score").reset_index(drop=True)
    best["delta"] = best["score"] - best["score"].iloc[0]
    return best


@dataclass
class AnomalyTrace:
    """An anomaly traced upstream: when it was seen, the data window and the ranking."""

    detected: pd.Timestamp  # time of the anomaly at the detecting section (UTC)
    window: pd.DataFrame  # hourly readings (time x section) around it
    z: dict[str, np.ndarray]  # section -> anomaly z over the window (sections with data)
    ranking: pd.DataFrame  # trace_upstream() table, best reach first


def trace_anomaly(
    net: RiverNetwork,
    readings: pd.DataFrame,
    section: str,
    at: pd.Timestamp | str | None = None,
    *,
    days_before: float = 5.0,
    days_after: float = 1.0,
    sign: int = 1,
    window: int = 48,
    min_readings: int = 24,
    variable: str = "",
) -> AnomalyTrace:
    """Trace an anomaly seen at ``section`` from the readings of every section.

    Parameters
    ----------
    net : RiverNetwork
        The river network.
    readings : pandas.DataFrame
        QC-valid readings, time (UTC) x section.
    section : str
        The section where the anomaly was seen.
    at : pandas.Timestamp or str, optional
        Time of the anomaly (UTC); default: the peak anomaly z of ``section`` over all readings.
    days_before, days_after : float
        The window analysed around ``at`` [days].
    sign : int
        +1 for rises (turbidity, NH3-N, conductivity spikes), -1 for drops (dissolved oxygen).
    window : int
        Trailing window of :func:`anomaly_z` [hours].
    min_readings : int
        Sections with fewer hourly readings in the window are left out; ``section`` must have
        at least that many.
    variable : str, optional
        Name of the variable, for the error message.

    Raises
    ------
    ValueError
        When ``section`` has fewer than ``min_readings`` hourly readings in the window.
    """
    frame = readings.resample("1h").mean()
    if at is None:
        z_all = anomaly_z(frame[section].to_numpy(), window, sign)
        t_at = frame.index[int(np.nanargmax(z_all))]
    else:
        t_at = pd.Timestamp(at)
    lo = t_at - pd.Timedelta(days=days_before)
    hi = t_at + pd.Timedelta(days=days_after)
    win = frame.loc[lo:hi]
    if win[section].notna().sum() < min_readings:
        what = f"{variable} readings" if variable else "readings"
        raise ValueError(f"{section} has fewer than {min_readings} hourly {what} in {lo} .. {hi}")
    z = {
        s: anomaly_z(win[s].interpolate(limit=3).to_numpy(), window, sign)
        for s in net.sections
        if s in win and win[s].notna().sum() >= min_readings
    }
    return AnomalyTrace(t_at, win, z, trace_upstream(net, win.index, z, section))
