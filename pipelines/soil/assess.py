"""Assess stored soil rows against their land use's standard (GB 15618 / GB 36600)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.qc.flags import FLAG_CODES
from features.soil.indices import (
    RISK_CLASSES,
    campaign_change,
    exceedance_multiple,
    nemerow_from_stats,
    nemerow_grade,
    plot_summary,
    risk_class,
    single_factor_index,
)
from pipelines.config.soil import SoilNetworkSpec, soil_standard

__all__ = [
    "assess_rows",
    "campaign_order",
    "change_between",
    "class_shares",
    "hot_spots",
    "select_campaign_layer",
    "summary",
]


def assess_rows(rows: pd.DataFrame, net: SoilNetworkSpec) -> pd.DataFrame:
    """Screening / intervention value, class, Pi and exceedance multiple per sample and analyte.

    Values flagged ``qc_invalid`` are not assessed (class 0). Columns added: ``standard``,
    ``screening``, ``intervention`` [mg kg-1], ``risk_class``, ``risk_class_name``, ``pi``,
    ``exceedance_screening``, ``exceedance_intervention`` [1], and per sample (campaign and
    sample id, over its analytes with a screening value) ``nemerow_sample`` [1] and
    ``nemerow_sample_grade``.
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
    g = t.groupby(["campaign", "sample_id"], sort=False)["pi"]  # NaN Pi (no S) left out
    t["nemerow_sample"] = nemerow_from_stats(g.transform("mean"), g.transform("max"))
    t["nemerow_sample_grade"] = nemerow_grade(t["nemerow_sample"].to_numpy())
    return t


def campaign_order(rows: pd.DataFrame) -> list[str]:
    """Campaigns from oldest to newest: by median sampling date, undated ones after, by name."""
    dates = pd.to_datetime(rows["date"], errors="coerce")
    med = dates.groupby(rows["campaign"].astype(str)).median()
    return sorted(med.index, key=lambda c: (pd.isna(med[c]), med[c] if pd.notna(med[c]) else 0, c))


def select_campaign_layer(
    assessed: pd.DataFrame, *, campaign: str | None = None, depth_top_cm: float | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rows of one campaign and one depth layer (shares, hot spots and maps must not mix them).

    Parameters
    ----------
    assessed : pandas.DataFrame
        Rows with ``campaign``, ``date``, ``depth_top_cm`` and ``depth_bottom_cm`` [cm].
    campaign : str, optional
        Default: the newest (:func:`campaign_order`).
    depth_top_cm : float, optional
        Top of the layer [cm]; default the campaign's shallowest (the topsoil).

    Returns
    -------
    (pandas.DataFrame, dict)
        The selected rows and what was selected: ``campaign``, ``campaigns`` (oldest first),
        ``previous`` (the campaign before, or None), ``layer`` (e.g. ``0-20 cm``), ``layers``
        (tops of the campaign's layers [cm]) and ``rows_left_out`` (other campaigns and layers).

    Raises
    ------
    ValueError
        If the campaign or layer is not in the rows (naming those that are).
    """
    order = campaign_order(assessed)
    name = campaign if campaign is not None else order[-1]
    if name not in order:
        raise ValueError(f"campaign {name!r} not stored; campaigns: {order}")
    part = assessed[assessed["campaign"].astype(str) == name]
    tops = sorted(float(v) for v in part["depth_top_cm"].dropna().unique())
    top = tops[0] if depth_top_cm is None else float(depth_top_cm)
    if not np.isclose(tops, top, rtol=0, atol=1e-6).any():
        raise ValueError(f"campaign {name!r} has no layer from {top:g} cm; layer tops [cm]: {tops}")
    part = part[np.isclose(part["depth_top_cm"].to_numpy(float), top, rtol=0, atol=1e-6)]
    bottoms = sorted(float(v) for v in part["depth_bottom_cm"].unique())
    layer = (
        f"{top:g}-{bottoms[0]:g} cm"
        if len(bottoms) == 1
        else (f"{top:g}-{bottoms[0]:g}...{bottoms[-1]:g} cm")
    )
    i = order.index(name)
    info = {
        "campaign": name,
        "campaigns": order,
        "previous": order[i - 1] if i > 0 else None,
        "layer": layer,
        "depth_top_cm": top,
        "layers": tops,
        "rows_left_out": int(len(assessed) - len(part)),
    }
    return part, info


def change_between(assessed: pd.DataFrame, info: dict[str, Any]) -> pd.DataFrame | None:
    """Class and Pi change per plot and analyte from ``info['previous']`` to the campaign.

    Both campaigns at the selected layer top (:func:`select_campaign_layer`); None without a
    previous campaign or when it has no such layer.
    """
    if info["previous"] is None:
        return None
    try:
        before, _ = select_campaign_layer(
            assessed, campaign=info["previous"], depth_top_cm=info["depth_top_cm"]
        )
    except ValueError:
        return None
    after, _ = select_campaign_layer(
        assessed, campaign=info["campaign"], depth_top_cm=info["depth_top_cm"]
    )
    ren = {"variable": "analyte"}
    ch = campaign_change(before.rename(columns=ren), after.rename(columns=ren))
    ch.insert(0, "campaign_before", info["previous"])
    ch.insert(1, "campaign_after", info["campaign"])
    return ch


def class_shares(assessed: pd.DataFrame) -> pd.DataFrame:
    """Share of assessed samples per risk class and analyte (rows: analyte; columns: class).

    The shares are of the assessed samples (class 1-3), counted in ``samples``;
    ``not_assessed`` counts the analyte's samples without a class (no screening value, a
    ``qc_invalid`` value, or a detection limit above the screening value).
    """
    t = assessed[assessed["risk_class"] > 0]
    tab = pd.crosstab(t["variable"], t["risk_class_name"], normalize="index")
    cols = [RISK_CLASSES[k] for k in (1, 2, 3)]
    variables = sorted(assessed["variable"].unique())
    tab = tab.reindex(index=variables, columns=cols, fill_value=0.0)
    tab["samples"] = t.groupby("variable").size().reindex(variables, fill_value=0)
    not_assessed = assessed[assessed["risk_class"] == 0].groupby("variable").size()
    tab["not_assessed"] = not_assessed.reindex(variables, fill_value=0)
    return tab


def hot_spots(assessed: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """Return the ``top`` plots by Nemerow index, with worst class and controlling analyte."""
    plots = plot_summary(assessed.rename(columns={"variable": "analyte"}))
    xy = assessed.drop_duplicates("plot").set_index("plot")[["x", "y", "lon", "lat"]]
    return plots.join(xy).sort_values("nemerow", ascending=False).head(top)


def summary(
    assessed: pd.DataFrame,
    net: SoilNetworkSpec,
    *,
    top: int = 5,
    selection: dict[str, Any] | None = None,
    change: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Return samples, shares per class and analyte, hot spots and assumptions (plain data).

    Parameters
    ----------
    assessed : pandas.DataFrame
        Rows of one campaign and layer (:func:`select_campaign_layer`).
    net : SoilNetworkSpec
    top : int
        Hot spots to list.
    selection : dict, optional
        What was selected (the second result of :func:`select_campaign_layer`), reported as is.
    change : pandas.DataFrame, optional
        :func:`change_between`'s table; reported as counts per analyte and change.
    """
    shares = class_shares(assessed)
    hs = hot_spots(assessed, top)
    counts = None
    if change is not None:
        counts = {
            str(v): {str(k): int(n) for k, n in g["change"].value_counts().sort_index().items()}
            for v, g in change.groupby("analyte")
        }
    return {
        "selection": selection,
        "change": counts,
        "samples": int(assessed["sample_id"].nunique()),
        "analytes": sorted(assessed["variable"].unique()),
        "standards": dict(net.standards),
        "shares": {
            v: {
                k: round(float(x), 4)
                for k, x in row.items()
                if k not in ("samples", "not_assessed")
            }
            | {"samples": int(row["samples"]), "not_assessed": int(row["not_assessed"])}
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
