"""Kriged soil maps: content and probability of exceeding the screening value, on a CF grid.

Per analyte: contents are log-transformed (heavy-metal contents are right-skewed; Meuse zinc
has skewness ~1.4), below-DL values enter as DL/2; a spherical variogram is fitted
(:func:`features.soil.kriging.fit_variogram`), checked by leave-one-out cross-validation against
IDW (power 2), and ordinary kriging maps the log content (back-transformed with exp: the median,
not the mean, of the lognormal). The exceedance probability is indicator kriging of
1(content > the sample's own screening value), so it respects each sample's land use and pH.
Grids are in the network's CRS when projected (a local azimuthal equidistant projection when it
is geographic), with 2-D ``lat``/``lon``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.qc.flags import FLAG_CODES
from features.soil.kriging import (
    fit_variogram,
    idw_loo,
    indicator_kriging,
    kriging_loo,
    ordinary_kriging,
    regular_grid,
)
from pipelines.config.locations import code_version
from pipelines.config.soil import SoilNetworkSpec
from pipelines.files import atomic_path
from pipelines.soil.store import cf_grid_mapping, cf_ready

__all__ = ["cross_validate", "make_maps", "projected_xy"]

#: Above this many samples kriging uses a local neighbourhood (and LOO a subset).
GLOBAL_MAX = 1500


def projected_xy(net: SoilNetworkSpec, rows: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Sample coordinates in metres: the network CRS if projected, else a local AEQD."""
    import pyproj

    crs = pyproj.CRS.from_user_input(net.crs)
    if not crs.is_geographic:
        return rows[["x", "y"]].to_numpy(float), net.crs
    lat0, lon0 = float(rows["lat"].mean()), float(rows["lon"].mean())
    aeqd = f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m"
    tr = pyproj.Transformer.from_crs("EPSG:4326", aeqd, always_xy=True)
    x, y = tr.transform(rows["lon"].to_numpy(float), rows["lat"].to_numpy(float))
    return np.column_stack([x, y]), aeqd


def _log_values(part: pd.DataFrame) -> np.ndarray:
    v = np.where(part["below_dl"].to_numpy(bool), part["value"] / 2.0, part["value"])
    return np.log(np.maximum(v.astype(float), 1e-12))


def cross_validate(
    xy: np.ndarray,
    z: np.ndarray,
    *,
    n_neighbours: int | None = None,
    at: np.ndarray | None = None,
) -> dict[str, Any]:
    """Variogram fit and LOO CV of ordinary kriging vs IDW for log contents ``z``.

    RMSE and ME on the log scale and, back-transformed with exp, in mg kg-1; MSSE for kriging.
    With ``at`` (a local neighbourhood only) the samples left out are those, each estimated
    from its neighbours among all the others.
    """
    vm = fit_variogram(xy, z, n_neighbours=n_neighbours)
    ok = kriging_loo(xy, z, vm, n_neighbours=n_neighbours, at=at)
    iv = idw_loo(xy, z, n_neighbours=n_neighbours, at=at)
    z = z if at is None else z[np.asarray(at, int)]
    c = np.exp(z)
    ok_mg = np.exp(z + ok.errors) - c
    iv_mg = np.exp(z + iv.errors) - c
    return {
        "variogram": vm,
        "n": len(z),
        "ok_rmse_log": ok.rmse,
        "ok_msse": ok.msse,
        "ok_me_log": ok.me,
        "idw_rmse_log": iv.rmse,
        "ok_rmse_mgkg": float(np.sqrt(np.mean(ok_mg**2))),
        "idw_rmse_mgkg": float(np.sqrt(np.mean(iv_mg**2))),
    }


def _figure(
    ds: xr.Dataset,
    var: str,
    rows: pd.DataFrame,
    xy: np.ndarray,
    path: Path,
    note: str,
    title: str,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pipelines.fonts import use_cjk_font

    use_cjk_font()
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.6))
    fig.set_layout_engine("constrained", rect=(0, 0.09, 1, 0.91))
    x, y = ds["x"].values, ds["y"].values
    im = axes[0].pcolormesh(x, y, ds[var].values, shading="auto", cmap="viridis")
    fig.colorbar(im, ax=axes[0], label=f"{var} [{ds[var].attrs['units']}] (kriged median)")
    axes[0].scatter(xy[:, 0], xy[:, 1], s=4, c="w", edgecolors="k", linewidths=0.3)
    pv = ds[f"{var}_p_exceed_screening"].values
    im = axes[1].pcolormesh(x, y, pv, shading="auto", cmap="magma_r", vmin=0, vmax=1)
    fig.colorbar(im, ax=axes[1], label="P(content > screening value)")
    ex = rows["exceeds"].to_numpy(bool)
    axes[1].scatter(xy[~ex, 0], xy[~ex, 1], s=4, c="w", edgecolors="k", linewidths=0.3)
    axes[1].scatter(xy[ex, 0], xy[ex, 1], s=6, c="r", label="sample > screening")
    axes[1].legend(loc="upper left", fontsize=7)
    for ax in axes:
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{title}: {var}", fontsize=10)
    fig.text(0.01, 0.005, note, fontsize=6, wrap=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def make_maps(
    assessed: pd.DataFrame,
    net: SoilNetworkSpec,
    out: Path,
    *,
    figures: bool = True,
    resolution: float | None = None,
    selection: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Krige every analyte of the assessed rows; write the grid netCDF, figures and CV table.

    The rows must be of one campaign and layer (a sample id once per analyte:
    :func:`pipelines.soil.assess.select_campaign_layer`, whose description ``selection`` goes
    into the grid's attributes). Returns ``grid`` (path), ``figures`` (analyte -> path), ``cv``
    (DataFrame, one row per analyte) and ``neighbourhood`` (what was done).

    Raises
    ------
    ValueError
        If a sample id and analyte occur twice (campaigns or layers mixed).
    """
    if assessed.duplicated(["sample_id", "variable"]).any():
        raise ValueError(
            "soil maps: a sample and analyte occur twice (campaigns or depth layers mixed); "
            "select one campaign and layer first"
        )
    import pyproj

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    first = assessed.drop_duplicates("sample_id")
    xy_all, crs_text = projected_xy(net, first)
    pos = pd.Series(np.arange(len(first)), index=first["sample_id"].to_numpy())
    gx, gy = regular_grid(xy_all, resolution=resolution or net.map_resolution_m)
    tx, ty = np.meshgrid(gx, gy)
    targets = np.column_stack([tx.ravel(), ty.ravel()])
    k = net.map_neighbours or (None if len(first) <= GLOBAL_MAX else 32)
    crs = pyproj.CRS.from_user_input(crs_text)
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(tx, ty)
    mapping = cf_grid_mapping(crs)
    if mapping is not None:  # x / y are projection coordinates of a CF grid mapping
        xa = {"standard_name": "projection_x_coordinate", "units": "m"}
        ya = {"standard_name": "projection_y_coordinate", "units": "m"}
    else:  # CF has no grid mapping for this CRS: lon / lat (WGS 84) describe the cells
        mapping = cf_grid_mapping("EPSG:4326")
        xa = {"long_name": f"x in {crs_text}", "units": "m", "source_crs_wkt": crs.to_wkt()}
        ya = {"long_name": f"y in {crs_text}", "units": "m", "source_crs_wkt": crs.to_wkt()}
    ds = xr.Dataset(coords={"x": ("x", gx, xa), "y": ("y", gy, ya)})
    ds["lat"] = (("y", "x"), lat, {"standard_name": "latitude", "units": "degrees_north"})
    ds["lon"] = (("y", "x"), lon, {"standard_name": "longitude", "units": "degrees_east"})
    ds["crs"] = ((), np.int32(0), mapping)
    rows_cv = []
    files: dict[str, Path] = {}
    note = "Assumptions: " + "; ".join(net.assumptions) if net.assumptions else ""
    rng = np.random.default_rng(0)
    for var, part in assessed.groupby("variable", sort=True):
        # every valid value (below-DL ones as the DL, analytes without a screening value too)
        part = part[(part["flag"] != FLAG_CODES["qc_invalid"]) & part["value"].notna()]
        if len(part) < 20 or part["value"].nunique() < 3:
            continue
        xy = xy_all[pos[part["sample_id"]].to_numpy()]
        z = _log_values(part)
        sub = None
        if k is not None and len(z) > 5000:  # LOO of a random 5,000, from all their neighbours
            sub = rng.choice(len(z), 5000, replace=False)
        cv = cross_validate(xy, z, n_neighbours=k, at=sub)
        vm = cv.pop("variogram")
        est, var_log = ordinary_kriging(xy, z, targets, vm, n_neighbours=k)
        exceeds = (part["value"] > part["screening"]).to_numpy() & ~part["below_dl"].to_numpy(bool)
        prob, ivm = indicator_kriging(xy, exceeds, targets, n_neighbours=k)
        if part["screening"].isna().all():  # no screening value: no exceedance probability
            prob = np.full(len(targets), np.nan)
        units = "mg kg-1"
        ds[var] = (
            ("y", "x"),
            np.exp(est).reshape(tx.shape),
            {
                "units": units,
                "long_name": f"{var}: ordinary kriging of log content, exp back-transform (median)",
                "grid_mapping": "crs",
                "coordinates": "lat lon",
                "variogram": vm.describe(),
            },
        )
        ds[f"{var}_log_variance"] = (
            ("y", "x"),
            var_log.reshape(tx.shape),
            {
                "units": "1",
                "long_name": f"kriging variance of log {var}",
                "grid_mapping": "crs",
                "coordinates": "lat lon",
            },
        )
        ds[f"{var}_p_exceed_screening"] = (
            ("y", "x"),
            prob.reshape(tx.shape),
            {
                "units": "1",
                "long_name": f"probability that {var} exceeds the sample's screening value "
                "(indicator kriging)",
                "grid_mapping": "crs",
                "coordinates": "lat lon",
                "variogram": ivm.describe(),
            },
        )
        rows_cv.append(
            {
                "variable": var,
                **cv,
                "variogram": vm.describe(),
                "share_exceeding": float(exceeds.mean()),
            }
        )
        part = part.assign(exceeds=exceeds)
        if figures:
            files[var] = out / f"{net.name}_{var}_map.png"
            _figure(ds, var, part, xy, files[var], note, net.title or net.name)
    hood = f"local: {k} nearest samples" if k else "global: every sample"
    ds.attrs.update(
        {
            "Conventions": "CF-1.8",
            "title": net.title or net.name,
            "network": net.name,
            "source_crs": crs_text,
            "method": "ordinary kriging of log contents (spherical variogram, scikit-gstat fit), "
            f"{hood}; indicator kriging of exceedance",
            "assumptions": " | ".join(net.assumptions),
            "history": f"written by qingyuan {code_version()} (pipelines.soil.maps)",
        }
    )
    if selection:
        ds.attrs["campaign"] = str(selection["campaign"])
        ds.attrs["depth_layer"] = str(selection["layer"])
    grid = out / f"{net.name}_soil_maps.nc"
    cf, enc = cf_ready(ds)
    with atomic_path(grid) as tmp:
        cf.to_netcdf(tmp, encoding=enc)
    cv_table = pd.DataFrame(rows_cv)
    cv_table.to_csv(out / f"{net.name}_kriging_cv.csv", index=False)
    return {"grid": grid, "figures": files, "cv": cv_table, "neighbourhood": hood}
