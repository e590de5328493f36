"""A 1-D advection-dispersion river simulator with injected spills (pure): the tracing testbed.

The concentration at a section at distance ``x`` [m] below a spill of mass ``M`` released at
``t0`` follows the analytic solution of the 1-D advection-dispersion equation,
``M' / sqrt(4 pi D tau) exp(-(x - u tau)^2 / (4 D tau)) exp(-k tau)`` with ``tau = t - t0``, where
``u`` is the path-average *true* velocity (each reach's configured velocity times an unknown
factor, so the tracer does not know the true travel times), ``D`` the longitudinal dispersion and
``M'`` the mass diluted by the flow ratio at every confluence passed. Readings add a background with
slow AR(1) fluctuations and measurement noise, sampled every ``step_h`` hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.river_network import RiverNetwork, Section

__all__ = ["Spill", "random_tree", "simulate_spill"]


@dataclass(frozen=True)
class Spill:
    """A release: reach (its upstream section), fraction down the reach, time, mass."""

    reach: str
    fraction: float
    time: pd.Timestamp
    mass: float


def simulate_spill(
    net: RiverNetwork,
    spill: Spill,
    times: pd.DatetimeIndex,
    velocity_factor: dict[str, float] | None = None,
    dispersion_m2_s: float = 20.0,
    decay_per_h: float = 0.005,
    background: float = 1.0,
    noise: float = 0.05,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Simulate the readings at every section (``times``) with the spill's pulse added."""
    rng = np.random.default_rng(seed)
    vf = velocity_factor or {}
    out: dict[str, np.ndarray] = {}
    sec = net.sections[spill.reach]
    below = net.path_down(sec.downstream) if sec.downstream else []
    # true distance [m] and travel time [s] from the spill point to each section below it
    dist, ttime, dil = {}, {}, {}
    d = (1 - spill.fraction) * sec.distance_km * 1000
    t = (1 - spill.fraction) * sec.travel_time_h * 3600 / vf.get(sec.id, 1.0)
    m = 1.0
    prev = sec
    for sid in below:
        dist[sid], ttime[sid] = d, t
        s = net.sections[sid]
        if prev.flow_m3_s and s.flow_m3_s and s.flow_m3_s > prev.flow_m3_s:
            m *= prev.flow_m3_s / s.flow_m3_s
        dil[sid] = m
        d += s.distance_km * 1000
        t += s.travel_time_h * 3600 / vf.get(sid, 1.0)
        prev = s
    tau_all = (times - spill.time) / pd.Timedelta(seconds=1)
    tau_all = np.asarray(tau_all, float)
    for sid in net.sections:
        n = len(times)
        ar = np.zeros(n)
        e = rng.normal(0, 0.05 * background, n)
        for i in range(1, n):
            ar[i] = 0.97 * ar[i - 1] + e[i]
        c = background + ar
        if sid in dist:
            u = dist[sid] / max(ttime[sid], 1.0)
            tau = np.maximum(tau_all, 1.0)
            pulse = (
                spill.mass
                * dil[sid]
                / np.sqrt(4 * np.pi * dispersion_m2_s * tau)
                * np.exp(-((dist[sid] - u * tau) ** 2) / (4 * dispersion_m2_s * tau))
                * np.exp(-decay_per_h * tau / 3600)
            )
            c = c + np.where(tau_all > 0, pulse, 0.0)
        out[sid] = np.maximum(c + rng.normal(0, noise * background, n), 0.0)
    return out


def random_tree(n: int, seed: int = 0, velocity_m_s: float = 0.5) -> RiverNetwork:
    """Build a random dendritic network of ``n`` sections draining to one outlet."""
    rng = np.random.default_rng(seed)
    ids = [f"S{i:03d}" for i in range(n)]
    secs = {ids[0]: Section(ids[0], river="main", downstream=None, flow_m3_s=100.0)}
    flows = {ids[0]: 100.0}
    for i in range(1, n):
        parent = ids[
            int(rng.integers(max(0, i - 8), i))
        ]  # attach near recent sections: long rivers
        dist = float(rng.uniform(5, 25))
        flows[ids[i]] = flows[parent] * float(rng.uniform(0.4, 0.95))
        secs[ids[i]] = Section(
            ids[i],
            river=f"r{i % 7}",
            downstream=parent,
            distance_km=dist,
            travel_time_h=dist * 1000 / velocity_m_s / 3600,
            flow_m3_s=flows[ids[i]],
        )
    return RiverNetwork(f"random-{n}", secs)
