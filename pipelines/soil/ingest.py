"""Check soil rows: what is stored (with flags) and what is quarantined (file, line, field, reason).

Checks, in order (a row is quarantined for its first fault):

1. the analyte is the network's (``analytes``) or a registry soil variable;
2. the unit is one of the mass-fraction spellings of :data:`UNIT_FACTORS` (``mg/kg``, ``ug/kg``,
   ``g/kg``, ``ppm``, ``ppb``, ``%``, ...; case-sensitive, so ``Mg/kg`` is refused); a blank,
   dimensionless (``1``, ``count``), volumetric (``mg L-1``) or unparsable unit is quarantined;
3. the value is a finite number, ``<DL`` (also ``＜DL`` and the Chinese ``DL L``, e.g.
   ``0.05L``: below the detection limit DL) or ``ND`` with a ``dl`` column; a DL is a finite
   number >= 0; below-DL values are *stored* as the DL with ``below_dl`` set (flagged, not
   deleted);
4. the land use is ``agricultural`` (``paddy``, ``orchard``, ``other``) or ``construction``
   (``type1``, ``type2``); an agricultural sample has a pH in 0-14 (GB 15618 depends on it);
5. the coordinates are numbers inside the CRS's area of use (pyproj), converted to lon/lat;
6. the date (if given) parses;
7. the same sample and analyte twice with different values: the later row is quarantined
   naming the earlier line's file and line (identical repeats are merged); a sample whose
   coordinates, pH, land use, depth or date differ between rows: the later rows are quarantined
   (coordinates compare with an absolute tolerance, :func:`sample_tolerances`).

Stored values outside the registry's ``valid_range`` / ``suspect_range`` are flagged
``qc_invalid`` / ``qc_suspect`` (:data:`features.qc.flags.FLAG_CODES`), never deleted.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from features.qc.flags import FLAG_CODES
from features.units import UnitError, convert
from pipelines.config.soil import AGRICULTURAL_SUBTYPES, CONSTRUCTION_SUBTYPES, SoilNetworkSpec
from pipelines.errors import QuarantineRecord

__all__ = [
    "REVISION_COLUMNS",
    "SAMPLE_FIELDS",
    "UNIT_FACTORS",
    "check_rows",
    "lonlat",
    "revision_rows",
    "sample_differs",
    "sample_tolerances",
]

#: Sample attributes that must agree between the rows of one sample.
SAMPLE_FIELDS = (
    "x",
    "y",
    "ph",
    "land_use",
    "land_subtype",
    "depth_top_cm",
    "depth_bottom_cm",
    "date",
    "plot",
)
_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_BELOW = re.compile(rf"^<\s*=?\s*{_NUMBER}$")
_BELOW_L = re.compile(rf"^{_NUMBER}\s*L$")  # Chinese reports: 0.05L = below the DL 0.05
#: The accepted unit spellings of soil contents (mass fractions) and their factor to mg kg-1.
#: Case matters (``Mg/kg`` would be megagram per kilogram); anything else is quarantined.
UNIT_FACTORS: dict[str, float] = {
    **{f"mg{sep}": 1.0 for sep in ("/kg", " kg-1", ".kg-1", "·kg-1")},
    **{f"{mu}g{sep}": 1e-3 for mu in ("u", "µ", "μ") for sep in ("/kg", " kg-1", ".kg-1")},
    "g/kg": 1e3,
    "g kg-1": 1e3,
    "ppm": 1.0,
    "ppb": 1e-3,
    "%": 1e4,
}
_ND = {"nd", "n.d.", "未检出", "<dl", "bdl", "<lod"}


def lonlat(crs: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longitude, latitude [degrees] of CRS coordinates and whether each is inside the CRS's area.

    The area of use is pyproj's (``CRS.area_of_use``: west, south, east, north [degrees]); a
    point that does not transform (inf) is outside.
    """
    import pyproj

    c = pyproj.CRS.from_user_input(crs)
    tr = pyproj.Transformer.from_crs(c, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(np.asarray(x, float), np.asarray(y, float))
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    inside = np.isfinite(lon) & np.isfinite(lat)
    aou = c.area_of_use
    if aou is not None:
        w, s, e, n = aou.bounds
        inside &= (lat >= s) & (lat <= n)
        inside &= (lon >= w) & (lon <= e) if w <= e else (lon >= w) | (lon <= e)
    return lon, lat, inside


def sample_tolerances(crs: str) -> dict[str, float]:
    """Absolute tolerances for comparing the numeric sample fields of two rows of one sample.

    Parameters
    ----------
    crs : str
        The network's CRS (anything ``pyproj.CRS.from_user_input`` takes).

    Returns
    -------
    dict
        ``x``, ``y``: 1e-6 degrees for a geographic CRS, 0.5 m for a projected one; ``ph``
        1e-9; ``depth_top_cm``, ``depth_bottom_cm`` 1e-6 cm. Comparisons use ``rtol=0`` (a
        relative tolerance at UTM y = 3.5e6 m would let a sample move tens of metres).
    """
    import pyproj

    xy = 1e-6 if pyproj.CRS.from_user_input(crs).is_geographic else 0.5
    return {"x": xy, "y": xy, "ph": 1e-9, "depth_top_cm": 1e-6, "depth_bottom_cm": 1e-6}


def sample_differs(col: str, a: pd.Series, b: pd.Series, tol: dict[str, float]) -> np.ndarray:
    """Whether sample field ``col`` differs between the aligned series ``a`` and ``b``.

    Parameters
    ----------
    col : str
        One of :data:`SAMPLE_FIELDS`.
    a, b : pandas.Series
        The two rows' values (missing equals missing).
    tol : dict
        Absolute tolerances of the numeric fields (:func:`sample_tolerances`).

    Returns
    -------
    numpy.ndarray of bool
    """
    if col in tol:
        u = pd.to_numeric(a, errors="coerce").to_numpy(float)
        v = pd.to_numeric(b, errors="coerce").to_numpy(float)
        both = np.isnan(u) & np.isnan(v)
        return ~(both | np.isclose(u, v, rtol=0.0, atol=tol[col]))
    if col == "date":
        u = pd.to_datetime(pd.Series(a), errors="coerce").reset_index(drop=True)
        v = pd.to_datetime(pd.Series(b), errors="coerce").reset_index(drop=True)
        return ~((u == v) | (u.isna() & v.isna())).to_numpy()
    u = pd.Series(a).fillna("").astype(str).to_numpy()
    v = pd.Series(b).fillna("").astype(str).to_numpy()
    return u != v


def _show(value: float, below: bool) -> str:
    return f"<{value:g}" if below else f"{value:g}"


def _num(s: pd.Series) -> pd.Series:
    t = s.astype(str).str.strip()
    return pd.to_numeric(t.where(t != ""), errors="coerce")


def check_rows(
    rows: pd.DataFrame, net: SoilNetworkSpec, registry: dict[str, dict[str, Any]]
) -> tuple[pd.DataFrame, list[QuarantineRecord], int, pd.DataFrame]:
    """Check rows of :func:`pipelines.soil.sources.read_sources`.

    Of the rows of one campaign, sample and analyte, the highest ``revision`` is the result;
    a lower revision is *superseded* (merged, not stored, and listed); rows of that highest
    revision must agree (identical repeats merge, others are quarantined).

    Returns
    -------
    good : pandas.DataFrame
        One row per sample and variable: the sample fields, ``lon``, ``lat``, ``variable``,
        ``value`` and ``dl`` [registry units], ``below_dl``, ``method``, ``revision``, ``flag``,
        ``file``, ``line``.
    quarantined : list of QuarantineRecord
        The refused rows.
    merged : int
        Rows merged into another: identical repeats and superseded revisions (both counted in
        ``rows_merged`` of the row accounting).
    superseded : pandas.DataFrame
        The superseded rows (:data:`REVISION_COLUMNS`), with the row that replaced them.
    """
    df = rows.reset_index(drop=True).copy()
    n = len(df)
    field = np.full(n, "", dtype=object)
    reason = np.full(n, "", dtype=object)

    def bad(mask: np.ndarray, name: str, why: np.ndarray | str) -> None:
        hit = np.asarray(mask, bool) & (reason == "")
        field[hit] = name
        reason[hit] = why[hit] if isinstance(why, np.ndarray) else why

    # 0. rows the adapter could not read as rows (wrong field count, undecodable)
    if "problem" in df:
        problem = df["problem"].fillna("").astype(str).to_numpy()
        where = df["problem_field"].fillna("").astype(str).to_numpy()
        for i in np.flatnonzero(problem != ""):
            field[i], reason[i] = where[i] or "line", problem[i]
    # 1. analyte
    soil_vars = {k for k, v in registry.items() if v.get("kind") == "soil"}
    lookup = {**{v: v for v in soil_vars}, **net.analytes}
    analyte = df["analyte"].astype(str).str.strip()
    var = analyte.map(lookup)
    bad(
        var.isna().to_numpy(),
        "analyte",
        np.array([f"unknown analyte {a!r} (not in the network's analytes)" for a in analyte]),
    )
    var = var.fillna("")
    # 2. unit -> factor to registry units: an allow-list of mass-fraction spellings
    factor = np.full(n, np.nan)
    unit = df["unit"].fillna("").astype(str).str.strip()
    allowed = ", ".join(UNIT_FACTORS)
    for (u, v), idx in df.groupby([unit, var]).groups.items():
        if not v:
            continue
        hit = np.isin(np.arange(n), idx)
        if u in ("", "-", "nan"):
            bad(hit, "unit", f"no unit given ({u!r}); allowed: {allowed}")
            continue
        if u not in UNIT_FACTORS:
            bad(
                hit,
                "unit",
                f"unit {u!r} does not convert: not a soil content (mass fraction) unit; "
                f"allowed spellings (case-sensitive): {allowed}",
            )
            continue
        try:
            f = UNIT_FACTORS[u] * float(
                convert(np.array([1.0]), "mg kg-1", registry[v]["units"])[0]
            )
        except (UnitError, ValueError) as exc:
            bad(hit, "unit", f"unit {u!r} does not convert to {registry[v]['units']!r}: {exc}")
            continue
        factor[np.asarray(idx)] = f
    # 3. value, detection limit
    text = df["value"].astype(str).map(lambda t: unicodedata.normalize("NFKC", t)).str.strip()
    dl_text = df["dl"].astype(str).str.strip()
    dl = _num(df["dl"])
    bad(
        (dl_text != "").to_numpy() & dl.isna().to_numpy() & (dl_text != "nan").to_numpy(),
        "dl",
        "detection limit is not a number",
    )
    bad(
        ~np.isfinite(dl.to_numpy(float)) & dl.notna().to_numpy(), "dl", "detection limit not finite"
    )
    bad((dl < 0).to_numpy(), "dl", "negative detection limit")
    below_text = text.str.extract(_BELOW)[0].astype(float)
    below_text = below_text.fillna(text.str.extract(_BELOW_L)[0].astype(float))
    is_nd = text.str.lower().isin(_ND).to_numpy()
    value = pd.to_numeric(text, errors="coerce").to_numpy(float)
    below = below_text.notna().to_numpy() | is_nd
    bad(is_nd & dl.isna().to_numpy(), "value", f"{'ND'} without a detection limit (dl column)")
    dl_v = np.where(below_text.notna(), below_text, dl).astype(float)
    bad(~below & np.isnan(value), "value", np.array([f"not a number: {t!r}" for t in text]))
    bad(~below & ~np.isfinite(value), "value", np.array([f"not finite: {t!r}" for t in text]))
    bad(~below & (value < 0), "value", "negative content")
    num_below = ~below & ~np.isnan(dl_v) & (value < dl_v)  # a number under its own DL
    below = below | num_below
    value = np.where(below, dl_v, value)
    # 4. land use and pH
    land = df["land_use"].astype(str).str.strip().str.lower().to_numpy()
    sub = df["land_subtype"].astype(str).str.strip().str.lower().to_numpy()
    sub = np.where((sub == "") & (land == "agricultural"), "other", sub)
    ok_land = ((land == "agricultural") & np.isin(sub, AGRICULTURAL_SUBTYPES)) | (
        (land == "construction") & np.isin(sub, CONSTRUCTION_SUBTYPES)
    )
    bad(
        ~ok_land,
        "land_use",
        np.array(
            [
                f"land use {a!r}/{b!r} is not agricultural/{'|'.join(AGRICULTURAL_SUBTYPES)} "
                f"or construction/{'|'.join(CONSTRUCTION_SUBTYPES)}"
                for a, b in zip(land, sub, strict=True)
            ]
        ),
    )
    ph_text = df["ph"].fillna("").astype(str).str.strip()
    ph = _num(df["ph"]).to_numpy(float)
    ph_given = ~ph_text.isin(["", "nan"]).to_numpy()
    bad(ph_given & np.isnan(ph), "ph", np.array([f"pH {t!r} is not a number" for t in ph_text]))
    bad((land == "agricultural") & np.isnan(ph), "ph", "missing pH for an agricultural sample")
    bad(~np.isnan(ph) & ((ph < 0) | (ph > 14)), "ph", "pH outside 0-14")
    # 5. coordinates
    x = _num(df["x"]).to_numpy(float)
    y = _num(df["y"]).to_numpy(float)
    bad(np.isnan(x) | np.isnan(y), "x", "coordinates are not numbers")
    lon, lat, inside = lonlat(net.crs, np.nan_to_num(x), np.nan_to_num(y))
    bad(~inside, "x", f"coordinates outside the area of use of {net.crs}")
    # 6. date
    date_text = df["date"].astype(str).str.strip().replace({"nan": ""})
    date = pd.to_datetime(date_text.replace({"": None}), errors="coerce")
    bad((date_text != "").to_numpy() & date.isna().to_numpy(), "date", "not a date")
    rev_text = df["revision"].fillna("").astype(str).str.strip().replace({"nan": ""})
    revision = pd.to_numeric(rev_text.replace({"": "0"}), errors="coerce").to_numpy(float)
    bad(
        np.isnan(revision) | (revision < 0) | (revision != np.floor(revision)),
        "revision",
        np.array([f"revision {t!r} is not a whole number >= 0" for t in rev_text]),
    )
    revision = np.nan_to_num(revision).astype(np.int64)
    top = _num(df["depth_top_cm"]).to_numpy(float)
    bottom = _num(df["depth_bottom_cm"]).to_numpy(float)
    bad(~(bottom > top) | (top < 0), "depth_top_cm", "depth interval: need 0 <= top < bottom [cm]")

    good = pd.DataFrame(
        {
            "sample_id": df["sample_id"].astype(str).str.strip(),
            "plot": df["plot"].astype(str).str.strip(),
            "campaign": df["campaign"].astype(str).str.strip().replace({"": net.campaign}),
            "x": x,
            "y": y,
            "lon": lon,
            "lat": lat,
            "depth_top_cm": top,
            "depth_bottom_cm": bottom,
            "land_use": land,
            "land_subtype": sub,
            "ph": ph,
            "date": date,
            "variable": var.to_numpy(),
            "value": value * factor,
            "dl": dl_v * factor,
            "below_dl": below,
            "method": df["method"].astype(str).str.strip(),
            "revision": revision,
            "file": df["file"].astype(str),
            "line": df["line"].astype(int),
        }
    )
    bad(good["sample_id"].eq("").to_numpy(), "sample_id", "no sample id")
    # 7. revisions, duplicates and inconsistent samples (among rows that passed so far)
    merged = np.zeros(n, bool)
    ok = reason == ""
    key = ["campaign", "sample_id", "variable"]
    top_rev = good[ok].groupby(key)["revision"].transform("max")
    lower = pd.Series(False, index=good.index)
    lower[top_rev.index] = good.loc[top_rev.index, "revision"] < top_rev
    superseded = _superseded(good, lower.to_numpy(), ok)
    merged |= lower.to_numpy()
    ok = ok & ~merged
    g = good[ok]
    first_of = g.groupby(key, sort=False).cumcount() > 0
    if first_of.any():
        firsts = g[~first_of].set_index(["campaign", "sample_id", "variable"])
        for i in g.index[first_of.to_numpy()]:
            r = good.loc[i]
            f = firsts.loc[(r["campaign"], r["sample_id"], r["variable"])]
            same = np.isclose(f["value"], r["value"]) and bool(f["below_dl"]) == bool(r["below_dl"])
            if same:
                merged[i] = True
            else:
                reason[i] = (
                    f"duplicate sample {r['sample_id']} {r['variable']}: {f['file']} line "
                    f"{int(f['line'])} says {_show(f['value'], f['below_dl'])}, this line "
                    f"{_show(r['value'], r['below_dl'])}"
                )
                field[i] = "value"
    ok = (reason == "") & ~merged
    g = good[ok]
    firsts = g.drop_duplicates(["campaign", "sample_id"]).set_index(["campaign", "sample_id"])
    joined = g.join(
        firsts[list(SAMPLE_FIELDS) + ["file", "line"]], on=["campaign", "sample_id"], rsuffix="_1"
    )
    tol = sample_tolerances(net.crs)
    for col in SAMPLE_FIELDS:
        a, b = joined[col], joined[f"{col}_1"]
        differs = sample_differs(col, a, b, tol)
        for i in joined.index[differs]:
            if reason[i] == "":
                field[i] = col
                reason[i] = (
                    f"sample {good.at[i, 'sample_id']}: {col} {a[i]} differs from "
                    f"{joined.at[i, 'file_1']} line {int(joined.at[i, 'line_1'])} ({b[i]})"
                )
    ok = (reason == "") & ~merged
    out = good[ok].copy()
    flag = np.full(len(out), FLAG_CODES["N"], dtype=np.int8)
    for v, idx in out.groupby("variable").groups.items():
        pos = out.index.get_indexer(idx)
        vals = out["value"].to_numpy()[pos]
        lo, hi = registry[v].get("suspect_range") or (-np.inf, np.inf)
        flag[pos[(vals < lo) | (vals > hi)]] = FLAG_CODES["qc_suspect"]
        lo, hi = registry[v].get("valid_range") or (-np.inf, np.inf)
        flag[pos[(vals < lo) | (vals > hi)]] = FLAG_CODES["qc_invalid"]
    out["flag"] = flag
    quarantined = [
        QuarantineRecord(
            file=str(df.at[i, "file"]),
            line=int(df.at[i, "line"]),
            field=str(field[i]),
            reason=str(reason[i]),
            raw=",".join(str(df.at[i, c]) for c in ("sample_id", "analyte", "value", "unit"))[:300],
            kind=str(field[i]),
        )
        for i in np.flatnonzero(reason != "")
    ]
    return out.reset_index(drop=True), quarantined, int(merged.sum()), superseded


#: Columns of the revision log (``reports/<network>_revisions.csv``): the replaced result, where
#: it came from, and the result that replaced it.
REVISION_COLUMNS = [
    "campaign",
    "sample_id",
    "variable",
    "value",
    "below_dl",
    "revision",
    "file",
    "line",
    "replaced_by_value",
    "replaced_by_below_dl",
    "replaced_by_revision",
    "replaced_by_file",
    "replaced_by_line",
]


def revision_rows(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Return revision-log rows: ``old`` results replaced by the rows of ``new`` (aligned)."""
    out = old[
        ["campaign", "sample_id", "variable", "value", "below_dl", "revision", "file", "line"]
    ]
    out = out.reset_index(drop=True).copy()
    for col in ("value", "below_dl", "revision", "file", "line"):
        out[f"replaced_by_{col}"] = new[col].to_numpy()
    return out[REVISION_COLUMNS]


def _superseded(good: pd.DataFrame, lower: np.ndarray, ok: np.ndarray) -> pd.DataFrame:
    """Return the rows of a lower revision than their key's highest, with the rows replacing them."""
    if not lower.any():
        return pd.DataFrame(columns=REVISION_COLUMNS)
    key = ["campaign", "sample_id", "variable"]
    cand = good[ok & ~lower]
    best = cand.sort_values("revision", kind="stable").drop_duplicates(key, keep="last")
    best = best.set_index(key)
    old = good[lower]
    new = best.loc[pd.MultiIndex.from_frame(old[key])]
    return revision_rows(old, new.reset_index())
