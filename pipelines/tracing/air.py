"""Source-tracing jobs on stored station data: polar plots / CPF and back-trajectory maps.

* :func:`polar_job` - for each station (and any series: a pollutant or PMF factor contributions
  aligned to the station's hours), the NWR mean and CPF polar surfaces, the sector table
  (pollution / percentile rose, sector CPF) and a cluster map; PNG + SVG figures and the CSV
  data behind them under ``outputs/source/<network>/polar/``.
* :func:`trajectory_job` - back-trajectories from the network centre (or every station) every
  ``every_hours`` in a period, on a wind field from the station winds (IDW; beyond the network
  this is an extrapolation, say so) or from a CF netCDF of u/v, then PSCF and CWT maps of a
  pollutant; figures and CSVs under ``outputs/source/<network>/trajectory/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from features.assessment import mask_invalid  # noqa: E402
from features.tracing.polar import polar_analysis  # noqa: E402
from features.tracing.trajectory import (  # noqa: E402
    WindField,
    map_grid,
    network_source_maps,
    peak_lat_lon,
)
from features.wind import wind_components  # noqa: E402
from pipelines.config import load_network, load_qc, load_variables  # noqa: E402
from pipelines.fonts import use_cjk_font  # noqa: E402
from pipelines.store import StationStore  # noqa: E402

use_cjk_font()  # hanzi in the figures without a system CJK font

__all__ = ["polar_job", "trajectory_job", "wind_field_from_netcdf"]


def _load(network: str, store_root: Path, variables: list[str], start=None, end=None):
    net = load_network(network)
    reg = load_variables()
    ds = StationStore(Path(store_root), net, reg["variables"]).open(start=start, end=end)
    need = [v for v in variables if v in ds]
    missing = sorted(set(variables) - set(need))
    if missing:
        raise ValueError(f"network {net.name}: the store has no {missing}")
    valid = mask_invalid(ds, need, load_qc(net)["valid_statuses"])
    return net, reg, valid


def _plot_surface(ax, s, title: str, cmap: str = "viridis") -> None:
    im = ax.pcolormesh(s.u, s.v, s.value, cmap=cmap, shading="auto")
    top = s.u.max()
    for r in np.linspace(top / 4, top, 4):
        ax.add_patch(plt.Circle((0, 0), r, fill=False, lw=0.4, color="grey"))
        ax.text(r * 0.71, r * 0.71, f"{r:.0f}", fontsize=6, color="grey")
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for lab, (x, y) in {"N": (0, 1.05), "E": (1.05, 0), "S": (0, -1.1), "W": (-1.1, 0)}.items():
        ax.text(x * top, y * top, lab, ha="center", va="center", fontsize=7)
    ax.set_title(title, fontsize=8)
    plt.colorbar(im, ax=ax, shrink=0.7)


def polar_job(
    network: str,
    store_root: Path,
    out_dir: Path,
    variable: str = "pm25",
    stations: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    percentile: float = 75.0,
    series: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Polar surfaces (NWR mean and CPF), sector table and clusters per station.

    Parameters
    ----------
    series : pandas.DataFrame, optional
        Other series to analyse instead of ``variable`` (e.g. PMF factor contributions), indexed
        by UTC time, one column per series; analysed against every selected station's wind.
    """
    net, reg, ds = _load(
        network,
        store_root,
        ["wind_speed", "wind_from_direction"] + ([variable] if series is None else []),
        start,
        end,
    )
    out = Path(out_dir) / "source" / net.name / "polar"
    out.mkdir(parents=True, exist_ok=True)
    ids = stations or [s.id for s in net.stations]
    times = pd.DatetimeIndex(ds["time"].values)
    units = reg["variables"].get(variable, {}).get("units", "") if series is None else ""
    result: dict[str, Any] = {"network": net.name, "variable": variable, "stations": {}}
    for sid in ids:
        if sid not in ds["station"].values:
            raise ValueError(f"network {net.name} has no station {sid!r}")
        st = ds.sel(station=sid)
        ws, wd = st["wind_speed"].values, st["wind_from_direction"].values
        targets = (
            {variable: st[variable].values}
            if series is None
            else {c: series[c].reindex(times).to_numpy(float) for c in series.columns}
        )
        for name, conc in targets.items():
            pa = polar_analysis(ws, wd, conc, percentile, clusters=4)
            mean, cpf, sectors, clusters = pa.mean, pa.cpf, pa.sectors, pa.clusters
            stem = f"{sid}_{name}"
            mean.to_frame().to_csv(out / f"{stem}_polar_mean.csv", index=False)
            cpf.to_frame().to_csv(out / f"{stem}_polar_cpf.csv", index=False)
            sectors.to_csv(out / f"{stem}_sectors.csv", index=False)
            fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
            _plot_surface(axes[0], mean, f"{sid} {name}: mean [{units}] by wind (NWR)")
            _plot_surface(
                axes[1], cpf, f"CPF: P({name} > P{percentile:g} = {cpf.threshold:.1f})", "magma"
            )
            lab = np.where(clusters >= 0, clusters, np.nan).astype(float)
            axes[2].pcolormesh(mean.u, mean.v, lab, cmap="tab10", shading="auto")
            axes[2].set_aspect("equal")
            axes[2].set_title("clusters of the mean surface (k-means, k=4)", fontsize=8)
            axes[2].set_xticks([])
            axes[2].set_yticks([])
            ax = plt.subplot(1, 4, 4, projection="polar")
            axes[3].remove()
            theta = np.radians(sectors["sector_centre"].to_numpy())
            ax.set_theta_zero_location("N")
            ax.set_theta_direction(-1)
            for p, colour in (("p50", "#9ecae1"), ("p75", "#4292c6"), ("p95", "#08306b")):
                ax.bar(
                    theta,
                    sectors[p],
                    width=np.radians(360 / len(sectors)) * 0.9,
                    color=colour,
                    alpha=0.6,
                    label=p,
                )
            ax.set_title("percentile rose", fontsize=8)
            ax.legend(fontsize=6, loc="lower right")
            fig.tight_layout()
            png, svg = out / f"{stem}_polar.png", out / f"{stem}_polar.svg"
            fig.savefig(png, dpi=100)
            fig.savefig(svg)
            plt.close(fig)
            result["stations"].setdefault(sid, {})[name] = {
                "figure": str(png),
                "figure_svg": str(svg),
                **pa.summary(),
            }
    (out / f"polar_{variable}.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def wind_field_from_netcdf(
    path: Path, u_name: str | None = None, v_name: str | None = None
) -> WindField:
    """Read u/v from a CF netCDF (``eastward_wind`` / ``northward_wind`` standard names)."""
    with xr.open_dataset(path) as ds:

        def find(std: str, given: str | None) -> xr.DataArray:
            if given:
                return ds[given]
            for v in ds.data_vars.values():
                if v.attrs.get("standard_name") == std:
                    return v
            raise ValueError(f"{path}: no variable with standard_name {std}")

        u, v = find("eastward_wind", u_name), find("northward_wind", v_name)
        lat = next(c for c in u.dims if c.lower().startswith("lat"))
        lon = next(c for c in u.dims if c.lower().startswith("lon"))
        tdim = next(c for c in u.dims if c not in (lat, lon))
        u = u.transpose(tdim, lat, lon).sortby(lat).sortby(lon)
        v = v.transpose(tdim, lat, lon).sortby(lat).sortby(lon)
        return WindField(
            u[tdim].values.astype("datetime64[ns]"),
            u[lat].values,
            u[lon].values,
            u.values,
            v.values,
        )


def trajectory_job(
    network: str,
    store_root: Path,
    out_dir: Path,
    variable: str = "pm25",
    start: str | None = None,
    end: str | None = None,
    hours: float = 48.0,
    every_hours: int = 3,
    cell_deg: float = 0.25,
    percentile: float = 75.0,
    wind_netcdf: Path | None = None,
) -> dict[str, Any]:
    """Back-trajectories from the network centre and PSCF / CWT maps of the network-mean series."""
    net, reg, ds = _load(
        network, store_root, ["wind_speed", "wind_from_direction", variable], start, end
    )
    times = pd.DatetimeIndex(ds["time"].values)
    lat = np.array([s.lat for s in net.stations])
    lon = np.array([s.lon for s in net.stations])
    glat, glon = map_grid(lat, lon, hours, cell_deg)
    if wind_netcdf:
        field = wind_field_from_netcdf(wind_netcdf)
        source = f"CF netCDF {wind_netcdf}"
    else:
        u, v = wind_components(ds["wind_speed"].values, ds["wind_from_direction"].values)
        field = WindField.from_stations(times, lat, lon, u, v, glat, glon)
        source = "station winds (IDW); outside the network the field is extrapolated"
    nsm = network_source_maps(
        field,
        times,
        ds[variable].values,
        lat.mean(),
        lon.mean(),
        glat,
        glon,
        cell_deg=cell_deg,
        hours=hours,
        every_hours=every_hours,
        percentile=percentile,
    )
    traj, arrive, maps = nsm.trajectories, nsm.arrive, nsm.maps
    edges_lat, edges_lon = nsm.lat_edges, nsm.lon_edges
    out = Path(out_dir) / "source" / net.name / "trajectory"
    out.mkdir(parents=True, exist_ok=True)
    traj.to_csv(out / "back_trajectories.csv.gz", index=False)
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    for tr in np.random.default_rng(0).choice(len(arrive), min(300, len(arrive)), replace=False):
        t = traj[traj["trajectory"] == tr]
        axes[0].plot(t["lon"], t["lat"], lw=0.3, color="grey", alpha=0.5)
    axes[0].set_title(
        f"{min(300, len(arrive))} of {len(arrive)} back-trajectories ({hours:g} h)", fontsize=9
    )
    units = reg["variables"][variable]["units"]
    res: dict[str, Any] = {
        "network": net.name,
        "variable": variable,
        "trajectories": int(len(arrive)),
        "wind_field": source,
    }
    for ax, (name, smap) in zip(axes[1:], maps.items(), strict=True):
        im = ax.pcolormesh(
            edges_lon, edges_lat, smap.value, cmap="magma_r" if name == "pscf" else "viridis"
        )
        plt.colorbar(im, ax=ax, shrink=0.8, label=("PSCF" if name == "pscf" else f"CWT [{units}]"))
        ax.set_title(f"{name.upper()} of network-mean {variable}", fontsize=9)
        smap.to_frame().to_csv(out / f"{name}_{variable}.csv", index=False)
        res[f"{name}_peak_lat_lon"] = peak_lat_lon(smap)
    for ax in axes:
        ax.plot(lon, lat, "k^", ms=4)
        ax.set_xlim(glon[0], glon[-1])
        ax.set_ylim(glat[0], glat[-1])
        ax.set_aspect(1 / np.cos(np.radians(lat.mean())))
    fig.suptitle(f"{net.name}: {source}", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / f"trajectories_{variable}.png", dpi=100)
    fig.savefig(out / f"trajectories_{variable}.svg")
    plt.close(fig)
    res["figure"] = str(out / f"trajectories_{variable}.png")
    (out / f"trajectory_{variable}.json").write_text(json.dumps(res, indent=2, default=str))
    return res
