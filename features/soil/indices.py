"""Soil risk class, single-factor and Nemerow indices, worst class per plot, campaign change.

Classes (GB 15618-2018 / GB 36600-2018, section 3): content <= screening value: negligible risk
(1); screening < content <= intervention value: risk possible, monitor / safe use (2); content
> intervention value: risk high, strict control (3). An analyte without an intervention value
(GB 15618: Cu, Ni, Zn) is at most class 2. 0 = not assessed (no value, no screening value).

Below the detection limit (DL): the class is negligible when DL <= screening value and not
assessed (0) otherwise (the content is unknown between 0 and a DL above the screening value);
the indices use DL / 2 (the rule of :func:`features.water_class.below_detection_to_half`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from features.water_class import below_detection_to_half

__all__ = [
    "NEMEROW_GRADES",
    "RISK_CLASSES",
    "campaign_change",
    "exceedance_multiple",
    "nemerow_from_stats",
    "nemerow_grade",
    "nemerow_index",
    "plot_summary",
    "risk_class",
    "single_factor_index",
]

#: Class code -> name.
RISK_CLASSES: dict[int, str] = {
    0: "not assessed",
    1: "negligible",
    2: "risk possible",
    3: "risk high",
}

#: Nemerow index grades (HJ/T 166-2004, Table 13): upper bound -> grade.
NEMEROW_GRADES: tuple[tuple[float, str], ...] = (
    (0.7, "safe"),
    (1.0, "warning"),
    (2.0, "light"),
    (3.0, "moderate"),
    (np.inf, "heavy"),
)


def risk_class(
    content: np.ndarray,
    screening: np.ndarray,
    intervention: np.ndarray,
    *,
    below_dl: np.ndarray | None = None,
) -> np.ndarray:
    """Risk class per value: 1 negligible, 2 risk possible, 3 risk high, 0 not assessed.

    Parameters
    ----------
    content : numpy.ndarray
        Content [mg kg-1]; for a value below the DL, the DL.
    screening, intervention : numpy.ndarray
        Screening and intervention values [mg kg-1] (NaN: none).
    below_dl : numpy.ndarray of bool, optional
        True where the value was reported below the detection limit.

    Examples
    --------
    >>> risk_class(np.array([0.3, 0.31, 1.5, 1.51]), np.full(4, 0.3), np.full(4, 1.5)).tolist()
    [1, 2, 2, 3]
    """
    c = np.asarray(content, float)
    s = np.broadcast_to(np.asarray(screening, float), c.shape)
    iv = np.broadcast_to(np.asarray(intervention, float), c.shape)
    bdl = np.zeros(c.shape, bool) if below_dl is None else np.asarray(below_dl, bool)
    cls = np.where(c <= s, 1, np.where(~np.isnan(iv) & (c > iv), 3, 2))
    cls = np.where(bdl, np.where(c <= s, 1, 0), cls)
    return np.where(np.isnan(c) | np.isnan(s), 0, cls).astype(int)


def single_factor_index(
    content: np.ndarray,
    screening: np.ndarray,
    *,
    below_dl: np.ndarray | None = None,
) -> np.ndarray:
    """Single-factor pollution index Pi = C / S [1]; C = DL / 2 below the detection limit."""
    c = np.asarray(content, float)
    if below_dl is not None:
        c = below_detection_to_half(c, below_dl, c)
    return c / np.asarray(screening, float)


def exceedance_multiple(content: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Exceedance multiple (超标倍数) (C - S) / S [1]; 0 where C <= S, NaN where S is missing."""
    c = np.asarray(content, float)
    s = np.asarray(limit, float)
    return np.where(c > s, (c - s) / s, np.where(np.isnan(c) | np.isnan(s), np.nan, 0.0))


def nemerow_index(pi: np.ndarray, axis: int = -1) -> np.ndarray:
    """Nemerow integrated index P = sqrt((mean(Pi)^2 + max(Pi)^2) / 2) over ``axis`` [1].

    NaN entries (analytes without a value or screening value) are left out; NaN when none is left.

    Examples
    --------
    >>> round(float(nemerow_index(np.array([0.5, 1.0, 3.0]))), 4)
    2.3717
    """
    p = np.asarray(pi, float)
    with warnings.catch_warnings():  # all-NaN rows: NaN, said in the docstring
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(p, axis=axis)
        mx = np.nanmax(p, axis=axis)
    return nemerow_from_stats(mean, mx)


def nemerow_from_stats(mean_pi: np.ndarray, max_pi: np.ndarray) -> np.ndarray:
    """Nemerow index from the mean and the largest single-factor index of each group [1].

    The form of :func:`nemerow_index` for grouped tables (e.g. a ``groupby`` of many samples):
    ``sqrt((mean^2 + max^2) / 2)``.
    """
    mean = np.asarray(mean_pi, float)
    mx = np.asarray(max_pi, float)
    return np.sqrt((mean**2 + mx**2) / 2.0)


def nemerow_grade(p: np.ndarray) -> np.ndarray:
    """Grade of a Nemerow index (:data:`NEMEROW_GRADES`); empty text where P is NaN."""
    v = np.asarray(p, float)
    bounds = np.array([b for b, _ in NEMEROW_GRADES])
    names = np.array([g for _, g in NEMEROW_GRADES], dtype=object)
    idx = np.searchsorted(bounds, np.nan_to_num(v, nan=0.0), side="left")
    return np.where(np.isnan(v), "", names[np.clip(idx, 0, len(names) - 1)])


def plot_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Worst class, controlling analyte and Nemerow index of each plot.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per sample and analyte with columns ``plot``, ``analyte``, ``risk_class`` and
        ``pi`` (single-factor index).

    Returns
    -------
    pandas.DataFrame
        Index ``plot``; columns ``worst_class``, ``worst_class_name``, ``controlling_analyte``
        (the analyte of the worst class, ties broken by the largest Pi), ``max_pi`` and
        ``nemerow`` (over the plot's analytes, each at its largest Pi across the plot's samples).
    """
    t = table[["plot", "analyte", "risk_class", "pi"]].copy()
    per = t.groupby(["plot", "analyte"], sort=False).agg(
        risk_class=("risk_class", "max"), pi=("pi", "max")
    )
    per = per.reset_index().sort_values(
        ["plot", "risk_class", "pi"], ascending=[True, False, False], na_position="last"
    )
    top = per.groupby("plot", sort=False).head(1).set_index("plot")
    nem = per.groupby("plot")["pi"].agg(lambda s: float(nemerow_index(s.to_numpy())))
    out = pd.DataFrame(
        {
            "worst_class": top["risk_class"].astype(int),
            "controlling_analyte": top["analyte"],
            "max_pi": top["pi"],
        }
    )
    out["nemerow"] = nem.reindex(out.index)
    out["nemerow_grade"] = nemerow_grade(out["nemerow"].to_numpy())
    out["worst_class_name"] = out["worst_class"].map(RISK_CLASSES)
    return out.sort_index()


def campaign_change(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Change of class and single-factor index per plot and analyte between two campaigns.

    Parameters
    ----------
    before, after : pandas.DataFrame
        Tables as for :func:`plot_summary` (``plot``, ``analyte``, ``risk_class``, ``pi``).

    Returns
    -------
    pandas.DataFrame
        One row per plot and analyte in both: ``class_before``, ``class_after``, ``pi_before``,
        ``pi_after``, ``delta_pi`` and ``change`` (``worse``, ``better``, ``same`` by class;
        ``not comparable`` when either class is 0).
    """

    def per(t: pd.DataFrame) -> pd.DataFrame:
        return t.groupby(["plot", "analyte"]).agg(
            risk_class=("risk_class", "max"), pi=("pi", "max")
        )

    b, a = per(before), per(after)
    j = b.join(a, how="inner", lsuffix="_before", rsuffix="_after")
    j = j.rename(columns={"risk_class_before": "class_before", "risk_class_after": "class_after"})
    j["delta_pi"] = j["pi_after"] - j["pi_before"]
    change = np.where(
        j["class_after"] > j["class_before"],
        "worse",
        np.where(j["class_after"] < j["class_before"], "better", "same"),
    )
    comparable = (j["class_before"] > 0) & (j["class_after"] > 0)
    j["change"] = np.where(comparable, change, "not comparable")
    return j.reset_index()
