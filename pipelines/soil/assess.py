"""Assess stored soil rows against their land use's standard (GB 15618 / GB 36600)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.qc.flags import FLAG_CODES
from features.soil.indices import (
    RISK_CLASSES,
    exceedance_multiple,
    plot_summary,
    risk_class,
    single_factor_index,
)
from pipelines.config.soil import SoilNetworkSpec, soil_standard

__all__ = ["assess_rows", "class_shares", "hot_spots", "summary"]


def assess_rows(rows: pd.DataFrame, net: SoilNetworkSpec) -> pd.DataFrame:
    """Screening / intervention value, class, Pi and exceedance multiple per sample and analyte.

    Values flagged ``qc_invalid`` are not assessed (class 0). Columns added: ``standard``,
    ``screening``, ``intervention`` [mg kg-1], ``risk_class``, ``risk_class_name``, ``pi``,
    ``exceedance_screening``, ``exceedance_intervention`` [1].
    """
    t = rows.copy()
    t["standard"] = t["land_use"].map(net.standards)
    t["screening"] = np.nan
    t["intervention"] = np.nan
    for (std_name, var), idx in t.groupby(["standard", "variable"]).groups.items():
        std = soil_standard(std_name)
        sub = t.loc[idx, "land_subtype"].to_numpy(object)
        ph = t.loc[idx, "ph"].to_numpy(float)
        t.loc[idx, "screening"] = std.screening_value(var, sub, ph)
        t.loc[idx, "intervention"] = std.intervention_value(var, sub, ph)
    value = np.where(t["flag"].to_numpy() == FLAG_CODES["qc_invalid"], np.nan, t["value"])
    bdl = t["below_dl"].to_numpy(bool)
    t["risk_class"] = risk_class(value, t["screening"], t["intervention"], below_dl=bdl)
    t["risk_class_name"] = t["risk_class"].map(RISK_CLASSES)
    t["pi"] = single_factor_index(value, t["screening"], below_dl=bdl)
    t["exceedance_screening"] = np.where(bdl, 0.0, exceedance_multiple(value, t["screening"]))
    t["exceedance_intervention"] = np.where(bdl, 0.0, exceedance_multiple(value, t["intervention"]))
    return t


def class_shares(assessed: pd.DataFrame) -> pd.DataFrame:
    """Share of assessed samples per risk class and analyte (rows: analyte; columns: class)."""
    t = assessed[assessed["risk_class"] > 0]
    tab = pd.crosstab(t["variable"], t["risk_class_name"], normalize="index")
    cols = [RISK_CLASSES[k] for k in (1, 2, 3)]
    tab = tab.reindex(columns=cols, fill_value=0.0)
    tab["samples"] = t.groupby("variable").size()
    return tab


def hot_spots(assessed: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """Return the ``top`` plots by Nemerow index, with worst class and controlling analyte."""
    plots = plot_summary(assessed.rename(columns={"variable": "analyte"}))
    xy = assessed.drop_duplicates("plot").set_index("plot")[["x", "y", "lon", "lat"]]
    return plots.join(xy).sort_values("nemerow", ascending=False).head(top)


def summary(assessed: pd.DataFrame, net: SoilNetworkSpec, *, top: int = 5) -> dict[str, Any]:
    """Return samples, shares per class and analyte, hot spots and assumptions (plain data)."""
    shares = class_shares(assessed)
    hs = hot_spots(assessed, top)
    return {
        "samples": int(assessed["sample_id"].nunique()),
        "analytes": sorted(assessed["variable"].unique()),
        "standards": dict(net.standards),
        "shares": {
            v: {k: round(float(x), 4) for k, x in row.items() if k != "samples"}
            | {"samples": int(row["samples"])}
            for v, row in shares.iterrows()
        },
        "hot_spots": [
            {
                "plot": str(p),
                "nemerow": round(float(r["nemerow"]), 3),
                "grade": r["nemerow_grade"],
                "worst_class": r["worst_class_name"],
                "controlling_analyte": r["controlling_analyte"],
                "lon": round(float(r["lon"]), 5),
                "lat": round(float(r["lat"]), 5),
            }
            for p, r in hs.iterrows()
        ],
        "below_dl_rule": "below DL: index with DL/2; class negligible when DL <= screening, "
        "else not assessed",
        "assumptions": list(net.assumptions),
    }
