"""The soil store: one CF netCDF (``featureType: point``) per network and campaign.

``<store root>/soil/<network>/<network>_<campaign>.nc`` (the store root of the station store,
``QINGYUAN_STORE`` / ``--store``; the ``soil/`` folder keeps campaign files apart from the
monthly station partitions). Dimension ``obs``: one sampling point (sample) each, with ``lat``,
``lon`` (WGS 84), ``x``, ``y`` (the network's CRS, ``crs`` grid-mapping variable), ``time`` (the
sampling date, missing when unknown), ``depth`` (mid-depth [m], with ``depth_bnds``), land use,
pH and, per analyte, the content and its ``_below_dl``, ``_dl``, ``_flag`` and ``_method``
ancillary variables. A re-ingest merges into the file: stored values are never dropped; a new
value that differs from the stored one is quarantined.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from features.qc.flags import FLAG_CODES
from pipelines.config.locations import code_version
from pipelines.config.soil import SoilNetworkSpec
from pipelines.errors import QuarantineRecord
from pipelines.files import atomic_path, writer_lock
from pipelines.soil.ingest import (
    REVISION_COLUMNS,
    SAMPLE_FIELDS,
    revision_rows,
    sample_differs,
    sample_tolerances,
)

__all__ = ["SoilStore", "cf_grid_mapping", "cf_ready", "to_dataset"]


def cf_grid_mapping(crs: Any) -> dict[str, Any] | None:
    """CF grid-mapping attributes of a CRS (pyproj's ``to_cf``), or None if CF has none for it.

    Some national CRSs have no CF grid mapping (EPSG:28992, the Dutch RD New, is an oblique
    *double* stereographic); their coordinates are then described by the lon / lat auxiliary
    coordinates (WGS 84) and the CRS's WKT is kept in ``source_crs_wkt``.
    """
    import warnings

    import pyproj

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyproj warns for a CRS it cannot express in CF
        attrs = pyproj.CRS.from_user_input(crs).to_cf()
    return attrs if attrs.get("grid_mapping_name") else None


def cf_ready(ds: xr.Dataset) -> tuple[xr.Dataset, dict[str, dict[str, Any]]]:
    """Return a soil file's dataset and encoding within CF's types (no int64, no coordinate fill).

    Times become float days since 1970 (a missing sampling date is a NaN: xarray cannot encode
    an all-NaT variable itself), integers int32 or narrower without ``_FillValue``, and
    coordinates and cell bounds carry no ``_FillValue``. Reading the file decodes the times.
    """
    out = ds.copy()
    enc: dict[str, dict[str, Any]] = {}
    for name in list(out.variables):
        v = out[name].variable
        e: dict[str, Any] = {}
        if v.dtype.kind == "M":
            t = v.values.astype("datetime64[ns]")
            days = np.where(np.isnat(t), np.nan, t.astype("int64") / 86_400e9)
            out[name] = (
                v.dims,
                days,
                {**v.attrs, "units": "days since 1970-01-01", "calendar": "standard"},
            )
        elif v.dtype.kind in "iu":
            e["_FillValue"] = None  # flags and counts are never missing
            if v.dtype.itemsize == 8:
                e["dtype"] = "int32"
        if name in out.coords or str(name).endswith("_bnds"):
            e["_FillValue"] = None
        enc[str(name)] = e
    return out, enc


_SAMPLE_COLS = [
    "sample_id",
    "plot",
    "campaign",
    "x",
    "y",
    "lon",
    "lat",
    "depth_top_cm",
    "depth_bottom_cm",
    "land_use",
    "land_subtype",
    "ph",
    "date",
]


def to_dataset(
    long: pd.DataFrame, net: SoilNetworkSpec, registry: dict[str, dict[str, Any]]
) -> xr.Dataset:
    """CF point dataset of one campaign's rows (from :func:`pipelines.soil.ingest.check_rows`).

    Raises
    ------
    ValueError
        If the rows of one sample disagree on a sample field (:data:`SAMPLE_FIELDS`): one file
        holds one value per sample, so such rows must have been quarantined before.
    """
    import pyproj

    firsts = long.drop_duplicates("sample_id").set_index("sample_id")
    tol = sample_tolerances(net.crs)
    for col in SAMPLE_FIELDS:
        ref = firsts[col].reindex(long["sample_id"].to_numpy())
        differs = sample_differs(
            col, long[col].reset_index(drop=True), ref.reset_index(drop=True), tol
        )
        if differs.any():
            sid = long["sample_id"].to_numpy()[differs][0]
            raise ValueError(f"sample {sid}: rows differ in {col}; they would be dropped silently")
    samples = firsts[[c for c in _SAMPLE_COLS if c != "sample_id"]]
    ids = samples.index.to_numpy()
    n = len(ids)
    ds = xr.Dataset(
        coords={"obs": ("obs", np.arange(n), {"long_name": "sample number in the file"})}
    )
    # featureType point: no cf_role (CF 9.5 names only timeseries, profile and trajectory ids)
    ds["sample_id"] = ("obs", ids.astype(str), {"long_name": "sample id"})
    ds["plot"] = ("obs", samples["plot"].astype(str).to_numpy(), {"long_name": "plot / area id"})
    ds["lat"] = (
        "obs",
        samples["lat"].to_numpy(float),
        {"standard_name": "latitude", "units": "degrees_north"},
    )
    ds["lon"] = (
        "obs",
        samples["lon"].to_numpy(float),
        {"standard_name": "longitude", "units": "degrees_east"},
    )
    crs = pyproj.CRS.from_user_input(net.crs)
    xy_units = "degrees" if crs.is_geographic else "m"
    wkt = crs.to_wkt()
    ds["x"] = (
        "obs",
        samples["x"].to_numpy(float),
        {"long_name": f"x in {net.crs}", "units": xy_units, "source_crs_wkt": wkt},
    )
    ds["y"] = (
        "obs",
        samples["y"].to_numpy(float),
        {"long_name": f"y in {net.crs}", "units": xy_units, "source_crs_wkt": wkt},
    )
    # the data's coordinates are lon / lat (WGS 84, converted at ingest): that is their grid
    # mapping; x / y keep the laboratory's CRS (source_crs, source_crs_wkt)
    ds["crs"] = ((), np.int32(0), {**cf_grid_mapping("EPSG:4326"), "source_crs": net.crs})
    ds["time"] = (
        "obs",
        pd.to_datetime(samples["date"]).to_numpy("datetime64[ns]"),
        {"standard_name": "time", "long_name": "sampling date (missing: not known)"},
    )
    top = samples["depth_top_cm"].to_numpy(float) / 100.0
    bot = samples["depth_bottom_cm"].to_numpy(float) / 100.0
    ds["depth"] = (
        "obs",
        (top + bot) / 2,
        {"standard_name": "depth", "units": "m", "positive": "down", "bounds": "depth_bnds"},
    )
    ds["depth_bnds"] = (("obs", "nv"), np.stack([top, bot], axis=1))
    ds["land_use"] = ("obs", samples["land_use"].astype(str).to_numpy())
    ds["land_subtype"] = ("obs", samples["land_subtype"].astype(str).to_numpy())
    ds["campaign"] = ("obs", samples["campaign"].astype(str).to_numpy())
    ds["soil_ph"] = ("obs", samples["ph"].to_numpy(float), {"long_name": "soil pH", "units": "1"})
    meanings = " ".join(FLAG_CODES)
    # the files the results were read from, once each; every result points into this list
    files = pd.Series(long["file"] if "file" in long else "", index=long.index).fillna("")
    files = files.astype(str)
    names = sorted(set(files) - {"", "(stored)"})
    ds["source_file_name"] = (
        "source_file",
        np.array(names, dtype=object).astype(str) if names else np.array([], dtype=str),
        {"long_name": "files the results were read from (see *_source_file)"},
    )
    file_index = {n: i for i, n in enumerate(names)}
    for var, part in long.groupby("variable", sort=True):
        p = part.set_index("sample_id").reindex(ids)
        meta = registry[var]
        present = p["value"].notna().to_numpy()
        attrs = {
            "long_name": meta["long_name"],
            "units": meta["units"],
            "coordinates": "time lat lon depth sample_id",
            "grid_mapping": "crs",
            "ancillary_variables": f"{var}_below_dl {var}_dl {var}_flag {var}_method",
        }
        ds[var] = ("obs", p["value"].to_numpy(float), attrs)
        ds[f"{var}_below_dl"] = (
            "obs",
            p["below_dl"].astype("boolean").fillna(False).astype(np.int8).to_numpy(),
            {
                "long_name": f"{var} below the detection limit (value = the limit)",
                "flag_values": np.array([0, 1], np.int8),
                "flag_meanings": "detected below_detection_limit",
            },
        )
        ds[f"{var}_dl"] = (
            "obs",
            p["dl"].to_numpy(float),
            {"units": meta["units"], "long_name": f"{var} detection limit"},
        )
        flag = np.where(
            present, p["flag"].fillna(FLAG_CODES["missing"]).to_numpy(), FLAG_CODES["missing"]
        )
        ds[f"{var}_flag"] = (
            "obs",
            flag.astype(np.int8),
            {
                "long_name": f"{var} quality flag",
                "flag_values": np.array(list(FLAG_CODES.values()), np.int8),
                "flag_meanings": meanings,
            },
        )
        ds[f"{var}_method"] = (
            "obs",
            p["method"].fillna("").astype(str).to_numpy(),
            {"long_name": f"{var} laboratory method"},
        )
        rev = p["revision"] if "revision" in p else pd.Series(0, index=p.index)
        ds[f"{var}_revision"] = (
            "obs",
            rev.fillna(0).astype(np.int32).to_numpy(),
            {
                "long_name": f"{var}: laboratory revision of the result (0: first report; a "
                "higher one replaced it, the replaced results are in reports/*_revisions.csv)"
            },
        )
        ds[f"{var}_source_line"] = (
            "obs",
            p["line"].fillna(0).astype(np.int32).to_numpy(),
            {"long_name": f"{var}: line of the source file it was read from (0: not known)"},
        )
        fidx = files.loc[part.index].map(file_index).fillna(-1).astype(np.int32)
        fidx.index = part["sample_id"].to_numpy()
        ds[f"{var}_source_file"] = (
            "obs",
            fidx.reindex(ids).fillna(-1).astype(np.int32).to_numpy(),
            {
                "long_name": f"{var}: index into source_file_name of the file it was read from "
                "(-1: not known)",
            },
        )
    ds.attrs.update(
        {
            "Conventions": "CF-1.8",
            "featureType": "point",
            "title": net.title or net.name,
            "network": net.name,
            "source_crs": net.crs,
            "assumptions": " | ".join(net.assumptions),
            "history": f"written by qingyuan {code_version()} (pipelines.soil.store)",
        }
    )
    return ds


def _from_dataset(ds: xr.Dataset) -> pd.DataFrame:
    """Long rows back from a stored campaign file."""
    base = pd.DataFrame(
        {
            "sample_id": ds["sample_id"].values.astype(str),
            "plot": ds["plot"].values.astype(str),
            "campaign": ds["campaign"].values.astype(str),
            "x": ds["x"].values,
            "y": ds["y"].values,
            "lon": ds["lon"].values,
            "lat": ds["lat"].values,
            "depth_top_cm": ds["depth_bnds"].values[:, 0] * 100.0,
            "depth_bottom_cm": ds["depth_bnds"].values[:, 1] * 100.0,
            "land_use": ds["land_use"].values.astype(str),
            "land_subtype": ds["land_subtype"].values.astype(str),
            "ph": ds["soil_ph"].values,
            "date": pd.to_datetime(ds["time"].values),
        }
    )
    parts = []
    for var in ds.data_vars:
        if f"{var}_flag" not in ds:
            continue
        p = base.copy()
        p["variable"] = var
        p["value"] = ds[var].values
        p["dl"] = ds[f"{var}_dl"].values
        p["below_dl"] = ds[f"{var}_below_dl"].values.astype(bool)
        p["flag"] = ds[f"{var}_flag"].values
        p["method"] = ds[f"{var}_method"].values.astype(str)
        p["line"] = ds[f"{var}_source_line"].values
        # files written before revisions were kept hold first reports only
        p["revision"] = ds[f"{var}_revision"].values if f"{var}_revision" in ds else 0
        names = ds["source_file_name"].values.astype(str) if "source_file_name" in ds else []
        if f"{var}_source_file" in ds and len(names):  # files written before this: "(stored)"
            idx = np.nan_to_num(ds[f"{var}_source_file"].values.astype(float), nan=-1).astype(int)
            p["file"] = np.where(idx >= 0, np.asarray(names)[np.clip(idx, 0, None)], "(stored)")
        else:
            p["file"] = "(stored)"
        parts.append(p[p["flag"] != FLAG_CODES["missing"]])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


class SoilStore:
    """Campaign files of one soil network under ``<root>/soil/<network>/``."""

    def __init__(self, root: Path | str, network: SoilNetworkSpec, registry: dict[str, Any]):
        self.network = network
        self.registry = registry
        self.dir = Path(root) / "soil" / network.name

    def path_for(self, campaign: str) -> Path:
        """Return the file of a campaign."""
        safe = re.sub(r"[^A-Za-z0-9_\-]", "_", campaign)
        return self.dir / f"{self.network.name}_{safe}.nc"

    def campaigns(self) -> list[str]:
        """Return the stored campaigns (from the files' contents), sorted."""
        out = []
        for p in sorted(self.dir.glob(f"{self.network.name}_*.nc")):
            with xr.open_dataset(p) as ds:
                out.append(str(ds["campaign"].values[0]))
        return sorted(set(out))

    def read(self, campaign: str | None = None) -> pd.DataFrame:
        """Read the stored rows (long form) of one campaign or of all."""
        files = [self.path_for(campaign)] if campaign else sorted(self.dir.glob("*.nc"))
        parts = []
        for p in files:
            if p.is_file():
                with xr.open_dataset(p) as ds:
                    parts.append(_from_dataset(ds.load()))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def write(
        self, rows: pd.DataFrame
    ) -> tuple[dict[str, Path], list[QuarantineRecord], int, int, pd.DataFrame]:
        """Merge checked rows into their campaigns' files.

        A row whose result differs from the stored one replaces it when its ``revision`` is
        higher (the replaced result goes to the returned revision rows), else it is refused.

        Returns the files written (campaign -> path), the rows refused because they differ from
        a stored value or sample, the rows written anew (revisions included), the rows identical
        to stored ones and the revision rows (:data:`pipelines.soil.ingest.REVISION_COLUMNS`).
        """
        files: dict[str, Path] = {}
        refused: list[QuarantineRecord] = []
        replaced: list[pd.DataFrame] = []
        new_rows = same_rows = 0
        with writer_lock(self.dir):
            for campaign, part in rows.groupby("campaign", sort=True):
                path = self.path_for(str(campaign))
                old = self.read(str(campaign)) if path.is_file() else pd.DataFrame()
                part = part.copy()
                if len(old):
                    key_old = old.set_index(["sample_id", "variable"])
                    keys = pd.MultiIndex.from_frame(part[["sample_id", "variable"]])
                    stored = keys.isin(key_old.index)
                    keep = np.ones(len(part), bool)
                    # every row of a stored sample must agree with the stored sample fields
                    first = old.drop_duplicates("sample_id").set_index("sample_id")
                    tol = sample_tolerances(self.network.crs)
                    known = part["sample_id"].isin(first.index).to_numpy()
                    ref = first.reindex(part["sample_id"].to_numpy())
                    for col in SAMPLE_FIELDS:
                        differs = (
                            known
                            & keep
                            & sample_differs(
                                col,
                                part[col].reset_index(drop=True),
                                ref[col].reset_index(drop=True),
                                tol,
                            )
                        )
                        for i in np.flatnonzero(differs):
                            r = part.iloc[i]
                            refused.append(
                                QuarantineRecord(
                                    str(r["file"]),
                                    int(r["line"]),
                                    col,
                                    f"sample {r['sample_id']}: {col} differs from the store's: "
                                    f"stored {ref[col].iloc[i]}, this line {r[col]} (stored kept)",
                                    kind=col,
                                )
                            )
                            keep[i] = False
                    drop_old: list[tuple[str, str]] = []
                    for i in np.flatnonzero(stored & keep):
                        r = part.iloc[i]
                        o = key_old.loc[(r["sample_id"], r["variable"])]
                        if np.isclose(o["value"], r["value"]) and bool(o["below_dl"]) == bool(
                            r["below_dl"]
                        ):
                            same_rows += 1
                        elif int(r["revision"]) > int(o["revision"]):  # a laboratory correction
                            drop_old.append((r["sample_id"], r["variable"]))
                            continue
                        else:
                            refused.append(
                                QuarantineRecord(
                                    str(r["file"]),
                                    int(r["line"]),
                                    "value",
                                    f"duplicate sample {r['sample_id']} {r['variable']}: the store "
                                    f"has {o['value']:g} (revision {int(o['revision'])}), this "
                                    f"line {r['value']:g} (revision {int(r['revision'])}; stored "
                                    "kept: a correction needs a higher revision)",
                                    kind="value",
                                )
                            )
                        keep[i] = False
                    part = part[keep]
                    if drop_old:
                        gone = pd.MultiIndex.from_frame(old[["sample_id", "variable"]]).isin(
                            drop_old
                        )
                        was = old[gone]
                        by = part.set_index(["sample_id", "variable"]).loc[
                            pd.MultiIndex.from_frame(was[["sample_id", "variable"]])
                        ]
                        replaced.append(revision_rows(was, by.reset_index()))
                        old = old[~gone]
                    merged = pd.concat([old, part], ignore_index=True)
                else:
                    merged = part
                new_rows += len(part)
                if len(part) or not path.is_file():
                    ds = to_dataset(merged, self.network, self.registry)
                    ds, enc = cf_ready(ds)
                    with atomic_path(path) as tmp:
                        ds.to_netcdf(tmp, encoding=enc)
                files[str(campaign)] = path
        revised = (
            pd.concat(replaced, ignore_index=True)
            if replaced
            else pd.DataFrame(columns=REVISION_COLUMNS)
        )
        return files, refused, new_rows, same_rows, revised
